package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * Two whole gateways sharing PostgreSQL and Redis (their own change channel): a change made
 * through one instance's admin API (a suspension, a product edit, a listing, a delisting) reaches
 * the other's buyer port within 2 s, and drops only the keys it concerns there, counted by the other instance's catalog reads
 * ({@code tollgate_subscription_cache_loads_total}).
 */
class CatalogChangesAcrossInstancesTest {

  static final String OPERATOR = "changes-operator-token-0123456789";
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  static final Pattern LOADS = Pattern.compile("(?m)^tollgate_subscription_cache_loads_total(?:\\{[^}]*\\})? (\\S+)$");

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  HttpServer second;
  TestDatabases.Db db;
  final String channel = "tollgate:test:catalog-changes:" + UUID.randomUUID();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
    second = vertx.createHttpServer().requestHandler(req -> req.body().onComplete(b -> req.response()
        .putHeader("content-type", "application/json")
        .end("{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"model\":\"mock-gpt\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"from the second endpoint\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}")))
        .listen(0, "127.0.0.1").await();
    db = TestDatabases.postgres();
  }

  @AfterEach
  void stop() {
    second.close().await();
    mock.close().await();
    vertx.close().await();
    db.drop();
  }

  Gateway instance(String name) {
    return Gateway.start(new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve(name).toString(), db.url(), db.user(), null, "redis://127.0.0.1:6379"),
        null, null), Clock.systemUTC(), channel);
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

  /** This instance's catalog reads for keys so far. */
  long catalogReads(Gateway g) throws Exception {
    String metrics = send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null).body();
    Matcher m = LOADS.matcher(metrics);
    assertThat(m.find()).as("tollgate_subscription_cache_loads_total is exported").isTrue();
    return (long) Double.parseDouble(m.group(1));
  }

  static JsonObject product(String name, String url) {
    return new JsonObject().put("name", name).put("protocol", "openai")
        .put("endpoints", new JsonArray().add(new JsonObject().put("url", url)));
  }

  String sku(Gateway g, String merchant, String product) throws Exception {
    return admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
        .put("name", "payg").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
            .put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "0.15")
            .put("outputPricePerMillion", "0.60")), 201).getString("id");
  }

  JsonObject buy(Gateway g, String sku, String buyer) throws Exception {
    return admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", sku).put("buyerId", buyer).put("buyerName", buyer), 201);
  }

  @Test
  void aChangeOnOneInstance_reachesTheOtherWithin2s_andReloadsOnlyTheKeysItConcerns() throws Exception {
    try (Gateway a = instance("a"); Gateway b = instance("b")) {
      String merchant = admin(a, "POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
          .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
      String chatProduct = admin(a, "POST", "/admin/v1/products", merchant, product("Chat", mock.baseUrl()), 201)
          .getString("id");
      String otherProduct = admin(a, "POST", "/admin/v1/products", merchant, product("Other", mock.baseUrl()), 201)
          .getString("id");
      String chatSku = sku(a, merchant, chatProduct);
      String otherSku = sku(a, merchant, otherProduct);
      list(a, merchant, chatProduct);
      list(a, merchant, otherProduct);
      JsonObject first = buy(a, chatSku, "buyer-1");
      String key1 = first.getString("apiKey");
      String key2 = buy(a, chatSku, "buyer-2").getString("apiKey");
      String key3 = buy(a, otherSku, "buyer-3").getString("apiKey");
      for (String key : new String[] {key1, key2, key3}) {
        assertThat(chat(b, key).statusCode()).as("b serves a key bought on a").isEqualTo(200);
      }
      long reads = catalogReads(b);

      // A purchase on a names nothing cached; the suspension after it is a marker: notices on one
      // channel arrive in order, so once b refuses key1 it has handled whatever the purchase sent.
      String key4 = buy(a, otherSku, "buyer-4").getString("apiKey");
      admin(a, "POST", "/admin/v1/subscriptions/" + first.getString("id") + "/suspend", OPERATOR, null, 200);
      Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
          .untilAsserted(() -> assertThat(chat(b, key1).statusCode()).as("b refuses the key suspended on a")
              .isEqualTo(403));
      assertThat(chat(b, key2).statusCode()).isEqualTo(200);
      assertThat(chat(b, key3).statusCode()).isEqualTo(200);
      assertThat(catalogReads(b)).as("b read the suspended key again, and no other buyer's").isEqualTo(reads + 1);
      assertThat(chat(b, key4).statusCode()).as("b serves the key bought on a").isEqualTo(200);
      reads = catalogReads(b);

      // A product edit through a's admin API: b's keys of that product follow within 2 s, others stay.
      admin(a, "PUT", "/admin/v1/products/" + chatProduct, merchant,
          product("Chat", "http://127.0.0.1:" + second.actualPort()), 200);
      Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
          .untilAsserted(() -> assertThat(chat(b, key2).body()).as("b calls the product's new endpoint")
              .contains("from the second endpoint"));
      HttpResponse<String> other = chat(b, key3);
      assertThat(other.statusCode()).isEqualTo(200);
      assertThat(other.body()).doesNotContain("from the second endpoint");
      assertThat(chat(b, key4).statusCode()).isEqualTo(200);
      assertThat(catalogReads(b)).as("b read only the edited product's key in use again").isEqualTo(reads + 1);

      // A listing and a delisting on a: b's buyers see the product's status within 2 s.
      String newProduct = admin(a, "POST", "/admin/v1/products", merchant, product("New", mock.baseUrl()), 201)
          .getString("id");
      String testKey = admin(a, "POST", "/admin/v1/subscriptions", merchant,
          new JsonObject().put("skuId", sku(a, merchant, newProduct)).put("test", true), 201).getString("apiKey");
      assertThat(productStatus(b, testKey)).as("a merchant's test key works on a draft").isEqualTo("draft");
      list(a, merchant, newProduct);
      Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
          .untilAsserted(() -> assertThat(productStatus(b, testKey)).isEqualTo("listed"));
      admin(a, "POST", "/admin/v1/products/" + otherProduct + "/delist", OPERATOR,
          new JsonObject().put("reason", "policy"), 200);
      Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
          .untilAsserted(() -> assertThat(productStatus(b, key3)).isEqualTo("delisted"));
      assertThat(chat(b, key3).statusCode()).as("bought before the delisting: the buyer paid").isEqualTo(200);
    }
  }

  /** Takes a product through the review on {@code g}: submitted by its merchant, approved by the operator. */
  void list(Gateway g, String merchant, String product) throws Exception {
    admin(g, "POST", "/admin/v1/products/" + product + "/submit", merchant, null, 200);
    admin(g, "POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null, 200);
  }

  /** The product status the buyer of {@code key} sees on {@code g}'s {@code GET /v1/subscription}. */
  String productStatus(Gateway g, String key) throws Exception {
    HttpResponse<String> r = send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/subscription", key, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getJsonObject("product").getString("status");
  }
}
