package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * Stopping a gateway loses no usage: the token estimates still running when it stops (a call its
 * buyer aborted is recorded only once its estimate is done) finish and are recorded before the
 * aggregator drains.
 */
class GatewayShutdownTest {

  static final String OPERATOR = "shutdown-operator-token-0123";
  static final int PROMPT_BYTES = 8 << 20;

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  GatewayConfig config() {
    return new GatewayConfig(
        new GatewayConfig.Server("127.0.0.1", 0, 1, (long) PROMPT_BYTES + (1 << 20), null, Duration.ofSeconds(10)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null),
        new GatewayConfig.Metering(Duration.ofMillis(50), null, null, null, null), null);
  }

  JsonObject admin(Gateway g, String method, String path, String token, JsonObject body, int status) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.adminPort() + path))
        .timeout(Duration.ofSeconds(20)).header("authorization", "Bearer " + token)
        .header("content-type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()))
        .build(), HttpResponse.BodyHandlers.ofString());
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  static byte[] bigStreamedChat() {
    StringBuilder sb = new StringBuilder(PROMPT_BYTES + 256).append("{\"model\":\"mock-gpt\",\"max_tokens\":64,")
        .append("\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"");
    Random random = new Random(42);
    while (sb.length() < PROMPT_BYTES) {
      sb.append(Integer.toString(random.nextInt(1 << 20), 36)).append(' ');
    }
    return sb.append("\"}]}").toString().getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void stop_waitsForTheEstimateOfACallItsBuyerAborted_soTheCallIsMetered() throws Exception {
    String subscriptionId;
    Gateway g = Gateway.start(config());
    try {
      String merchant = admin(g, "POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
          .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
      String product = admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "p")
          .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))),
          201).getString("id");
      String sku = admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
          .put("name", "payg").put("billing", new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD")
              .put("inputPricePerMillion", "1").put("outputPricePerMillion", "2")), 201).getString("id");
      admin(g, "POST", "/admin/v1/products/" + product + "/submit", merchant, null, 200);
      admin(g, "POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null, 200);
      JsonObject sub = admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
          new JsonObject().put("skuId", sku).put("buyerId", "b1"), 201);
      subscriptionId = sub.getString("id");

      byte[] body = bigStreamedChat();
      try (Socket s = new Socket("127.0.0.1", g.buyerPort())) {
        s.setSoTimeout(20_000);
        OutputStream out = s.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sub.getString("apiKey")
            + "\r\nx-mock-no-usage: true\r\nx-mock-chunk-delay-ms: 200\r\nContent-Type: application/json"
            + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        InputStream in = s.getInputStream();
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[4096];
        while (got.indexOf("\"content\"") < 0) {
          int n = in.read(buf);
          assertThat(n).as("the stream must start: %s", got).isPositive();
          got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
        }
      }
    } finally {
      // At once: the buyer just left, and the estimate over its 8 MB prompt takes most of a second.
      g.close();
    }

    Gateway again = Gateway.start(config());
    try {
      JsonObject total = Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(
          () -> admin(again, "GET", "/admin/v1/usage?subscriptionId=" + subscriptionId + "&granularity=day",
              OPERATOR, null, 200).getJsonObject("total"),
          t -> t.getLong("calls") >= 1);
      assertThat(total.getLong("calls")).as("the aborted call, recorded during the shutdown").isEqualTo(1);
      assertThat(total.getLong("inputTokens")).as("its whole prompt, estimated").isGreaterThan(1_000_000);
      assertThat(total.getLong("estimatedTokens")).isEqualTo(total.getLong("totalTokens"));
    } finally {
      again.close();
    }
  }
}
