package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.observe.AccessLog;
import io.tollgate.gateway.testing.GatewayHttp;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real gateway on loopback writes one access line per buyer call, with the call's values. */
class AccessLogEndToEndTest {

  static final String OPERATOR = "access-log-operator-token-0123";
  static final String UPSTREAM_SECRET = "sk-access-log-upstream-secret";
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final GatewayHttp http = new GatewayHttp();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withAksk("ak-log", UPSTREAM_SECRET)).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  static List<JsonNode> lines(Path file) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        out.add(JSON.readTree(line));
      }
    }
    return out;
  }

  @Test
  void aServedCall_andARefusedOne_eachWriteOneLine_withTheirValues_andNoKey() throws Exception {
    Path accessLog = dir.resolve("access.log");
    GatewayConfig config = new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, null),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null), null, null)
        .withLogging(new GatewayConfig.Logging("json", "file " + accessLog));
    try (Gateway g = Gateway.start(config)) {
      String merchant = http.admin(g, "POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
          .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
      String product = http.admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
          .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl())))
          .put("auth", new JsonObject().put("type", "aksk").put("accessKey", "ak-log").put("secretKey", UPSTREAM_SECRET)),
          201).getString("id");
      String sku = http.admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
          .put("name", "payg").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
              .put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "0.15")
              .put("outputPricePerMillion", "0.60")), 201).getString("id");
      http.admin(g, "POST", "/admin/v1/products/" + product + "/submit", OPERATOR, null, 200);
      http.admin(g, "POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null, 200);
      JsonObject sub = http.admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
          new JsonObject().put("skuId", sku).put("buyerId", "b1").put("buyerName", "Bea"), 201);
      String key = sub.getString("apiKey");

      String buyer = "http://127.0.0.1:" + g.buyerPort();
      HttpResponse<String> served = http.send("POST", buyer + "/v1/chat/completions?trace=" + key, key, CHAT);
      assertThat(served.statusCode()).as(served.body()).isEqualTo(200);
      JsonObject usage = new JsonObject(served.body()).getJsonObject("usage");
      String servedId = served.headers().firstValue("x-request-id").orElseThrow();
      HttpResponse<String> refused = http.send("POST", buyer + "/v1/chat/completions", "tg-not-a-key", CHAT);
      assertThat(refused.statusCode()).isEqualTo(401);
      String refusedId = refused.headers().firstValue("x-request-id").orElseThrow();

      await().atMost(Duration.ofSeconds(10)).until(() -> lines(accessLog).size() >= 2);
      Thread.sleep(200); // a third line, were there one, has had time to come
      List<JsonNode> lines = lines(accessLog);
      assertThat(lines).as("one line per call").hasSize(2);
      String text = Files.readString(accessLog);
      assertThat(text).as("the buyer's key is never in a line, not even from the query").doesNotContain(key)
          .doesNotContain(UPSTREAM_SECRET).doesNotContain("hello there");

      JsonNode a = lines.stream().filter(l -> l.get("request_id").asText().equals(servedId)).findFirst().orElseThrow(
          () -> new AssertionError("no line with the served call's x-request-id " + servedId + ": " + text));
      assertThat(a.get("type").asText()).isEqualTo("access");
      assertThat(a.get("subscription_id").asText()).isEqualTo(sub.getString("id"));
      assertThat(a.get("product_id").asText()).isEqualTo(product);
      assertThat(a.get("sku_id").asText()).isEqualTo(sku);
      assertThat(a.get("model").asText()).isEqualTo("mock-gpt");
      assertThat(a.get("method").asText()).isEqualTo("POST");
      assertThat(a.get("path").asText()).as("without the query").isEqualTo("/v1/chat/completions");
      assertThat(a.get("status").asInt()).isEqualTo(200);
      assertThat(a.get("upstream_status").asInt()).isEqualTo(200);
      assertThat(a.get("input_tokens").asLong()).as("what the upstream reported").isEqualTo(usage.getLong("prompt_tokens"));
      assertThat(a.get("output_tokens").asLong()).isEqualTo(usage.getLong("completion_tokens"));
      assertThat(a.get("estimated").asBoolean()).isFalse();
      assertThat(a.get("bytes_out").asLong()).isEqualTo(served.body().getBytes(StandardCharsets.UTF_8).length);
      assertThat(a.get("endpoint").asText()).isEqualTo(URI.create(mock.baseUrl()).getHost() + ":"
          + URI.create(mock.baseUrl()).getPort());
      assertThat(a.get("duration_ms").decimalValue()).isPositive();
      assertThat(a.get("ttft_ms").decimalValue()).isPositive().isLessThanOrEqualTo(a.get("duration_ms").decimalValue());

      JsonNode r = lines.stream().filter(l -> l.get("request_id").asText().equals(refusedId)).findFirst().orElseThrow();
      assertThat(r.get("status").asInt()).isEqualTo(401);
      assertThat(r.get("upstream_status").asInt()).as("never reached the upstream").isZero();
      assertThat(r.get("subscription_id").isNull()).isTrue();
      assertThat(r.get("ttft_ms").isNull()).isTrue();
      assertThat(g.registry().get("tollgate.task.up").tag("task", AccessLog.TASK).gauge().value())
          .as("the writer reports to /health/ready").isEqualTo(1.0);
    }
  }

  @Test
  void off_writesNothing_andStdoutIsTheDefault() throws Exception {
    assertThat(GatewayConfig.defaults().logging().access()).isEqualTo("stdout");
    GatewayConfig config = new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 1, null, null, null),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null), null, null)
        .withLogging(new GatewayConfig.Logging("json", "off"));
    try (Gateway g = Gateway.start(config)) {
      assertThat(http.send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/models", "tg-unknown", null).statusCode())
          .isEqualTo(401);
      assertThat(g.registry().find("tollgate.task.up").tag("task", AccessLog.TASK).gauge())
          .as("no access log writer runs").isNull();
      assertThat(g.registry().find("tollgate.access.dropped").functionCounter()).isNull();
    }
  }
}
