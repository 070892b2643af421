package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.NettyLeaks;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * Whole gateways over real HTTP on loopback: the admin API creates what buyers call, and admin
 * changes take effect on the next call, on the embedded store and across two instances sharing
 * PostgreSQL and Redis.
 */
class GatewayEndToEndTest {

  static final String OPERATOR = "e2e-operator-token-0123456789";
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withAksk("ak-e2e", "sk-e2e")).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  GatewayConfig config(String dataDir, String jdbcUrl, String jdbcUser, String redisUri) {
    return new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dataDir, jdbcUrl, jdbcUser, null, redisUri), null, null);
  }

  HttpResponse<String> send(String method, String url, String token, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
        .header("content-type", "application/json");
    if (token != null) {
      b.header("authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonObject admin(Gateway g, String method, String path, String token, JsonObject body, int status) throws Exception {
    HttpResponse<String> r = send(method, "http://127.0.0.1:" + g.adminPort() + path, token,
        body == null ? null : body.encode());
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  HttpResponse<String> chat(Gateway g, String key) throws Exception {
    return send("POST", "http://127.0.0.1:" + g.buyerPort() + "/v1/chat/completions", key, CHAT);
  }

  /** A merchant with the support contact that listing its products needs. */
  static JsonObject seller() {
    return new JsonObject().put("name", "acme").put("supportPhone", "+1 555 0100")
        .put("supportEmail", "support@acme.example");
  }

  /** Takes a product with a SKU through the review (the operator submits and approves it): buyers can buy it. */
  void list(Gateway g, String productId) throws Exception {
    admin(g, "POST", "/admin/v1/products/" + productId + "/submit", OPERATOR, null, 200);
    admin(g, "POST", "/admin/v1/products/" + productId + "/approve", OPERATOR, null, 200);
  }

  /** Merchant, product, SKU, subscription through the admin API; returns {subscription id, key}. */
  String[] onboard(Gateway g) throws Exception {
    String merchant = admin(g, "POST", "/admin/v1/merchants", OPERATOR, seller(), 201)
        .getString("token");
    String product = admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
        .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl())))
        .put("auth", new JsonObject().put("type", "aksk").put("accessKey", "ak-e2e").put("secretKey", "sk-e2e")), 201)
        .getString("id");
    String sku = admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
        .put("name", "payg").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
            .put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "0.15")
            .put("outputPricePerMillion", "0.60")), 201).getString("id");
    list(g, product);
    JsonObject sub = admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", sku).put("buyerId", "b1").put("buyerName", "Bea"), 201);
    return new String[] {sub.getString("id"), sub.getString("apiKey")};
  }

  @Test
  void embeddedGateway_adminChangesTakeEffectOnTheNextCall() throws Exception {
    try (Gateway g = Gateway.start(config(dir.resolve("data").toString(), null, null, null))) {
      String[] sub = onboard(g);
      String id = sub[0];
      String key = sub[1];
      assertThat(chat(g, key).statusCode()).isEqualTo(200);
      long upstreamCalls = mock.requestCount();

      admin(g, "POST", "/admin/v1/subscriptions/" + id + "/suspend", OPERATOR, null, 200);
      assertThat(chat(g, key).statusCode()).as("suspended on the next call").isEqualTo(403);
      admin(g, "POST", "/admin/v1/subscriptions/" + id + "/resume", OPERATOR, null, 200);
      assertThat(chat(g, key).statusCode()).isEqualTo(200);

      String newKey = admin(g, "POST", "/admin/v1/subscriptions/" + id + "/rotate-key", OPERATOR, null, 200)
          .getString("apiKey");
      assertThat(chat(g, key).statusCode()).as("the rotated-away key").isEqualTo(401);
      assertThat(chat(g, newKey).statusCode()).isEqualTo(200);

      admin(g, "POST", "/admin/v1/subscriptions/" + id + "/cancel", OPERATOR, null, 200);
      assertThat(chat(g, newKey).statusCode()).isEqualTo(403);
      assertThat(mock.requestCount()).as("only the three admitted calls reached the upstream")
          .isEqualTo(upstreamCalls + 2);

      HttpResponse<String> own = send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/subscription", newKey, null);
      assertThat(own.statusCode()).isEqualTo(403);

      HttpResponse<String> metrics = send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null);
      assertThat(metrics.body()).contains("tollgate_requests_total{product=\"")
          .contains("status=\"200\"").contains("status=\"403\"").contains("tollgate_request_duration_seconds_bucket");
      assertThat(send("GET", "http://127.0.0.1:" + g.adminPort() + "/health/live", null, null).statusCode()).isEqualTo(200);
      assertThat(send("GET", "http://127.0.0.1:" + g.adminPort() + "/health/ready", null, null).statusCode()).isEqualTo(200);
    }
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }

  @Test
  void buyerSubscription_showsUsageAndRemaining() throws Exception {
    try (Gateway g = Gateway.start(config(dir.resolve("data").toString(), null, null, null))) {
      String[] sub = onboard(g);
      assertThat(chat(g, sub[1]).statusCode()).isEqualTo(200);
      MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", CHAT);
      // Usage reaches the meter store with the next flush (every 200 ms by default).
      HttpResponse<String> own = org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
          .until(() -> send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/subscription", sub[1], null),
              r -> r.statusCode() == 200 && new JsonObject(r.body()).getJsonObject("usage").getLong("calls") > 0);
      JsonObject body = new JsonObject(own.body());
      assertThat(body.getString("id")).isEqualTo(sub[0]);
      assertThat(body.getString("status")).isEqualTo("active");
      assertThat(body.getJsonObject("usage").getLong("calls")).isEqualTo(1);
      assertThat(body.getJsonObject("usage").getLong("inputTokens")).isEqualTo(expected.promptTokens());
      assertThat(body.getJsonObject("usage").getLong("outputTokens")).isEqualTo(expected.completionTokens());
      assertThat(own.body()).as("the key is shown once, at creation").doesNotContain(sub[1]);
    }
  }

  @Test
  void failedHealthCheck_takesAnEndpointOutBeforeAnyBuyerCallFails() throws Exception {
    int deadPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      deadPort = s.getLocalPort();
    }
    try (Gateway g = Gateway.start(config(dir.resolve("data").toString(), null, null, null))) {
      String merchant = admin(g, "POST", "/admin/v1/merchants", OPERATOR, seller(), 201)
          .getString("token");
      String product = admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Two")
          .put("protocol", "openai").put("healthCheck", new JsonObject().put("path", "/v1/models"))
          .put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))
              .add(new JsonObject().put("url", "http://127.0.0.1:" + deadPort).put("weight", 5)))
          .put("auth", new JsonObject().put("type", "aksk").put("accessKey", "ak-e2e").put("secretKey", "sk-e2e")), 201)
          .getString("id");
      String sku = admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
          .put("name", "payg").put("billing", new JsonObject().put("mode", "PER_CALL").put("currency", "USD")
              .put("pricePerCall", "0.01")), 201).getString("id");
      list(g, product);
      String key = admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
          new JsonObject().put("skuId", sku).put("buyerId", "b1"), 201).getString("apiKey");
      // Probes run every 200 ms here; give them time to find the dead endpoint.
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
          .until(() -> mock.requests().stream().anyMatch(r -> r.path().equals("/v1/models")));
      Thread.sleep(300);
      for (int i = 0; i < 30; i++) {
        assertThat(chat(g, key).statusCode()).as("call %d: the dead endpoint (weight 5 of 6) is out", i).isEqualTo(200);
      }
      assertThat(mock.requests().stream().filter(r -> r.path().equals("/v1/models")).findFirst().orElseThrow()
          .header("authorization")).as("probes carry the product's credentials").startsWith("Bearer ey");
    }
  }

  static double deniedOwnListener(Gateway g) {
    var c = g.registry().find("tollgate.upstream.denied").tag("reason", "own_listener").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void endpointsOnTheGatewaysOwnPorts_areRefused_andBuyersNeverReadTheAdminPort() throws Exception {
    try (Gateway g = Gateway.start(config(dir.resolve("data").toString(), null, null, null))) {
      JsonObject created = admin(g, "POST", "/admin/v1/merchants", OPERATOR, seller(), 201);
      String merchant = created.getString("token");
      for (int port : new int[] {g.adminPort(), g.buyerPort()}) {
        for (String host : new String[] {"127.0.0.1", "localhost", "[::ffff:127.0.0.1]"}) {
          JsonObject error = admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Loop")
              .put("protocol", "custom").put("paths", new JsonArray().add("/metrics"))
              .put("endpoints", new JsonArray().add(new JsonObject().put("url", "http://" + host + ":" + port))), 400);
          assertThat(error.getJsonObject("error").getString("message")).as("%s:%d", host, port)
              .startsWith("endpoints[0].url ");
        }
      }

      // What registration cannot see (a product stored before this check, a name that resolved
      // elsewhere then): the buyer port and the health probes check the address they connect to.
      io.tollgate.gateway.catalog.Product stored = g.catalog().createProduct(new io.tollgate.gateway.catalog.Product(
          "prod-loop", created.getString("id"), "Loop", io.tollgate.gateway.catalog.Protocol.CUSTOM,
          java.util.List.of(new io.tollgate.gateway.catalog.Endpoint("http://localhost:" + g.adminPort(), 1,
              java.util.Map.of())),
          io.tollgate.gateway.catalog.UpstreamAuth.NONE, null, null, java.util.List.of("/metrics", "/health/ready"),
          "/health/live", null, null, null));
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
          .until(() -> deniedOwnListener(g) >= 1); // a probe (every 200 ms here), refused before any buyer call
      String sku = admin(g, "POST", "/admin/v1/products/" + stored.id() + "/skus", merchant, new JsonObject()
          .put("name", "payg").put("billing", new JsonObject().put("mode", "PER_CALL").put("currency", "USD")
              .put("pricePerCall", "0.01")), 201).getString("id");
      list(g, stored.id());
      String key = admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
          new JsonObject().put("skuId", sku).put("buyerId", "b1"), 201).getString("apiKey");
      for (String path : new String[] {"/metrics", "/health/ready"}) {
        HttpResponse<String> r = send("GET", "http://127.0.0.1:" + g.buyerPort() + path, key, null);
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_unavailable\"").doesNotContain("tollgate_")
            .doesNotContain("jvm_").doesNotContain("\"status\":\"UP\"").doesNotContain(Integer.toString(g.adminPort()));
      }
      assertThat(send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null).body())
          .as("refusals are counted where the operator looks")
          .containsPattern("tollgate_upstream_denied_total\\{reason=\"own_listener\"\\} [1-9]");
    }
  }

  @Test
  void twoInstances_sharingPostgresAndRedis_seeAChangeOnTheNextCall() throws Exception {
    TestDatabases.Db db = TestDatabases.postgres();
    try (Gateway a = Gateway.start(config(dir.resolve("a").toString(), db.url(), db.user(), "redis://127.0.0.1:6379"));
        Gateway b = Gateway.start(config(dir.resolve("b").toString(), db.url(), db.user(), "redis://127.0.0.1:6379"))) {
      String[] sub = onboard(a);
      assertThat(chat(b, sub[1]).statusCode()).as("instance b serves a key created on a").isEqualTo(200);

      admin(a, "POST", "/admin/v1/subscriptions/" + sub[0] + "/suspend", OPERATOR, null, 200);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
          .untilAsserted(() -> assertThat(chat(b, sub[1]).statusCode())
              .as("instance b drops its cached snapshot on the Redis notice").isEqualTo(403));
    } finally {
      db.drop();
    }
  }
}
