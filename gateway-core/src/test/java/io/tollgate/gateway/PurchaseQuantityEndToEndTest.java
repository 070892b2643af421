package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * The quantity rule end to end, through a whole embedded gateway in front of the mock upstream: a
 * package's quota is the SKU's quota times the quantities chosen at purchase, and the buyer port
 * admits exactly that many.
 */
class PurchaseQuantityEndToEndTest {

  static final String OPERATOR = "quantity-operator-token-0123";
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  Gateway g;
  String merchant;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
    g = Gateway.start(new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null),
        new GatewayConfig.Metering(Duration.ofMillis(50), null, null, null, null), null));
    merchant = admin("POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
        .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201)
        .getString("token");
  }

  @AfterEach
  void stop() {
    g.close();
    mock.close().await();
    vertx.close().await();
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

  JsonObject admin(String method, String path, String token, JsonObject body, int status) throws Exception {
    HttpResponse<String> r = send(method, "http://127.0.0.1:" + g.adminPort() + path, token,
        body == null ? null : body.encode());
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  /** A listed product on the mock upstream and a SKU of it with {@code sku}'s fields; returns the SKU id. */
  String sku(JsonObject sku) throws Exception {
    String product = admin("POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
        .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))),
        201).getString("id");
    String skuId = admin("POST", "/admin/v1/products/" + product + "/skus", merchant, sku, 201).getString("id");
    admin("POST", "/admin/v1/products/" + product + "/submit", merchant, null, 200);
    admin("POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null, 200);
    return skuId;
  }

  /**
   * A buyer's purchase of {@code skuId} with {@code choices} (its {@code attributes} and {@code
   * quantities}), as the operator makes it; returns the subscription with its API key. Every
   * purchase of this test goes through here.
   */
  JsonObject purchase(String skuId, String buyerId, JsonObject choices) throws Exception {
    return admin("POST", "/admin/v1/subscriptions", OPERATOR,
        choices.copy().put("skuId", skuId).put("buyerId", buyerId), 201);
  }

  HttpResponse<String> chat(String key) throws Exception {
    return send("POST", "http://127.0.0.1:" + g.buyerPort() + "/v1/chat/completions", key, CHAT);
  }

  @Test
  void aCallPackageOf2Calls_boughtFor3Users_servesExactly6Calls_then429InsufficientQuota() throws Exception {
    String skuId = sku(new JsonObject().put("name", "team").put("models", new JsonArray().add("mock-gpt"))
        .put("attributes", new JsonObject().put("edition", new JsonArray().add("basic").add("pro")))
        .put("quantities", new JsonObject().put("users", new JsonObject().put("min", 1).put("max", 50)))
        .put("billing", new JsonObject().put("mode", "CALL_PACKAGE").put("currency", "USD").put("quota", 2)
            .put("price", "3.00").put("period", "MONTH")));
    JsonObject sub = purchase(skuId, "b1", new JsonObject()
        .put("attributes", new JsonObject().put("edition", "pro"))
        .put("quantities", new JsonObject().put("users", 3)));
    assertThat(sub.getLong("quota")).as("2 calls x 3 users").isEqualTo(6);
    String key = sub.getString("apiKey");
    long upstreamBefore = mock.requestCount();

    for (int i = 1; i <= 6; i++) {
      HttpResponse<String> r = chat(key);
      assertThat(r.statusCode()).as("call %d of 6: %s", i, r.body()).isEqualTo(200);
    }
    HttpResponse<String> seventh = chat(key);

    assertThat(seventh.statusCode()).as(seventh.body()).isEqualTo(429);
    assertThat(new JsonObject(seventh.body()).getJsonObject("error").getString("code")).isEqualTo("insufficient_quota");
    assertThat(chat(key).statusCode()).as("and stays refused").isEqualTo(429);
    assertThat(mock.requestCount() - upstreamBefore).as("exactly 6 calls reached the upstream").isEqualTo(6);

    JsonObject own = Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(
        () -> new JsonObject(send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/subscription", key, null).body()),
        s -> s.getJsonObject("usage").getLong("calls") == 6);
    assertThat(own.getLong("quota")).isEqualTo(6);
    assertThat(own.getLong("remaining")).isZero();
    assertThat(own.getJsonObject("quantities")).isEqualTo(new JsonObject().put("users", 3));
    assertThat(own.getJsonObject("attributes")).isEqualTo(new JsonObject().put("edition", "pro"));
  }
}
