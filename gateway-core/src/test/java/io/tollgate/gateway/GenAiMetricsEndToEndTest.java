package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.ConfigLoader;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.GatewayHttp;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.assertj.core.api.Assertions;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole gateway's {@code /metrics} after real calls: the OpenTelemetry GenAI series with their
 * labels and counts, the bounded model label, and the names registered before any call; and the
 * optional OTLP push.
 */
class GenAiMetricsEndToEndTest {

  static final String OPERATOR = "genai-operator-token-0123456789";
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  static final String STREAM = "{\"model\":\"mock-gpt\",\"stream\":true,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"stream me a few words\"}]}";
  static final String UNLISTED = "{\"model\":\"gpt-unlisted\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final GatewayHttp http = new GatewayHttp();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  GatewayConfig config(GatewayConfig.Metrics metrics) {
    return new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofSeconds(10)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null), null, null, null, null,
        metrics);
  }

  HttpResponse<String> chat(Gateway g, String key, String body) throws Exception {
    return http.send("POST", "http://127.0.0.1:" + g.buyerPort() + "/v1/chat/completions", key, body);
  }

  String metrics(Gateway g) throws Exception {
    HttpResponse<String> r = http.send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null);
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  /** The value of the one series {@code name} with these labels (and maybe others); fails if none. */
  static double value(String scrape, String name, Map<String, String> labels) {
    List<String> matches = scrape.lines().filter(l -> l.startsWith(name + "{"))
        .filter(l -> labels.entrySet().stream().allMatch(e -> l.contains(e.getKey() + "=\"" + e.getValue() + "\"")))
        .toList();
    assertThat(matches).as("one series %s%s in:\n%s", name, labels, scrape.lines()
        .filter(l -> l.startsWith(name)).toList()).hasSize(1);
    String line = matches.get(0);
    return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
  }

  /** A product on the mock with two SKUs: one listing mock-gpt (rpm 2), one admitting any model; their keys. */
  String[] onboard(Gateway g) throws Exception {
    String merchant = http.admin(g, "POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
        .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
    String product = http.admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
        .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))),
        201).getString("id");
    JsonObject billing = new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD")
        .put("inputPricePerMillion", "0.15").put("outputPricePerMillion", "0.60");
    String listed = http.admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
        .put("name", "payg").put("models", new JsonArray().add("mock-gpt")).put("billing", billing)
        .put("limits", new JsonObject().put("rpm", 2)), 201).getString("id");
    String any = http.admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
        .put("name", "any").put("billing", billing.copy()), 201).getString("id");
    http.admin(g, "POST", "/admin/v1/products/" + product + "/submit", OPERATOR, null, 200);
    http.admin(g, "POST", "/admin/v1/products/" + product + "/approve", OPERATOR, null, 200);
    String key = http.admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", listed).put("buyerId", "b1"), 201).getString("apiKey");
    String anyKey = http.admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", any).put("buyerId", "b2"), 201).getString("apiKey");
    return new String[] {product, key, anyKey};
  }

  @Test
  void genAiSeries_afterServedStreamedAndRefusedCalls() throws Exception {
    try (Gateway g = Gateway.start(config(null))) {
      assertThat(g.otlpRegistry()).as("no OTLP registry without metrics.otlp.endpoint").isNull();
      assertThat(g.meters()).isSameAs(g.registry()).isNotInstanceOf(CompositeMeterRegistry.class);

      String before = metrics(g);
      assertThat(value(before, "tollgate_endpoint_ejections_total", Map.of("product", "none", "endpoint", "none")))
          .as("registered at start-up").isZero();
      for (String name : List.of("gen_ai_client_token_usage_bucket", "gen_ai_client_token_usage_count",
          "gen_ai_client_token_usage_sum", "gen_ai_server_request_duration_seconds_bucket",
          "gen_ai_server_request_duration_seconds_count", "gen_ai_server_time_to_first_token_seconds_bucket",
          "gen_ai_server_time_to_first_token_seconds_count")) {
        assertThat(before).as("%s before any call", name).contains("\n" + name + "{");
      }

      String[] onboarded = onboard(g);
      String product = onboarded[0];
      assertThat(chat(g, onboarded[1], CHAT).statusCode()).isEqualTo(200);
      HttpResponse<String> stream = chat(g, onboarded[1], STREAM);
      assertThat(stream.statusCode()).isEqualTo(200);
      assertThat(stream.body()).contains("data: [DONE]");
      assertThat(chat(g, onboarded[1], CHAT).statusCode()).as("rpm 2: refused").isEqualTo(429);
      assertThat(chat(g, onboarded[1], UNLISTED).statusCode()).as("not a model of the SKU").isEqualTo(404);
      assertThat(chat(g, onboarded[2], CHAT).statusCode()).as("a SKU of any model").isEqualTo(200);
      assertThat(chat(g, "tg-no-such-key", CHAT).statusCode()).isEqualTo(401);

      MockUpstream.Usage json = MockUpstream.expectedUsage("/v1/chat/completions", CHAT);
      MockUpstream.Usage streamed = MockUpstream.expectedUsage("/v1/chat/completions", STREAM);
      Map<String, String> served = Map.of("product", product, "gen_ai_request_model", "mock-gpt",
          "gen_ai_provider_name", "openai", "status_class", "2xx");
      // the observer is told right after the answer's end is written: wait for the last call's count
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> value(metrics(g), "gen_ai_server_request_duration_seconds_count",
          Map.of("product", "none", "status_class", "4xx")) >= 1);
      String after = metrics(g);

      assertThat(value(after, "gen_ai_client_token_usage_sum", with(served, "gen_ai_token_type", "input")))
          .isEqualTo(json.promptTokens() + streamed.promptTokens());
      assertThat(value(after, "gen_ai_client_token_usage_sum", with(served, "gen_ai_token_type", "output")))
          .isEqualTo(json.completionTokens() + streamed.completionTokens());
      assertThat(value(after, "gen_ai_client_token_usage_count", with(served, "gen_ai_token_type", "input")))
          .isEqualTo(2);
      assertThat(value(after, "gen_ai_server_request_duration_seconds_count", served)).isEqualTo(2);
      assertThat(value(after, "gen_ai_server_time_to_first_token_seconds_count", served))
          .as("both calls, the stream's included, had a first byte").isEqualTo(2);
      assertThat(value(after, "gen_ai_server_time_to_first_token_seconds_sum", served)).isPositive();
      assertThat(value(after, "gen_ai_server_request_duration_seconds_bucket", with(served, "le", "+Inf")))
          .isEqualTo(2);

      Map<String, String> refused = Map.of("product", product, "gen_ai_request_model", "mock-gpt",
          "status_class", "4xx");
      assertThat(value(after, "gen_ai_server_request_duration_seconds_count", refused)).as("the 429").isEqualTo(1);
      assertThat(value(after, "gen_ai_server_time_to_first_token_seconds_count", refused)).isZero();
      assertThat(value(after, "gen_ai_client_token_usage_count", with(refused, "gen_ai_token_type", "input")))
          .as("a refusal adds no token sample").isZero();

      Map<String, String> other4xx = Map.of("product", product, "gen_ai_request_model", "other",
          "status_class", "4xx");
      assertThat(value(after, "gen_ai_server_request_duration_seconds_count", other4xx))
          .as("gpt-unlisted is not a label: other").isEqualTo(1);
      assertThat(after).doesNotContain("gpt-unlisted");
      Map<String, String> other2xx = Map.of("product", product, "gen_ai_request_model", "other",
          "status_class", "2xx");
      assertThat(value(after, "gen_ai_client_token_usage_sum", with(other2xx, "gen_ai_token_type", "input")))
          .as("a SKU of any model lists none: other").isEqualTo(json.promptTokens());
      assertThat(value(after, "gen_ai_server_request_duration_seconds_count",
          Map.of("product", "none", "gen_ai_provider_name", "none", "status_class", "4xx")))
          .as("the unknown key").isEqualTo(1);

      assertThat(value(after, "tollgate_requests_total", Map.of("product", product, "status", "200")))
          .as("both SKUs' served calls").isEqualTo(3);
      assertThat(after).contains("tollgate_request_duration_seconds_bucket{");
    }
  }

  static Map<String, String> with(Map<String, String> labels, String name, String value) {
    java.util.HashMap<String, String> m = new java.util.HashMap<>(labels);
    m.put(name, value);
    return m;
  }

  @Test
  void otlpEndpoint_receivesProtobufPushes_andIsClosedWithTheGateway() throws Exception {
    List<String> contentTypes = new CopyOnWriteArrayList<>();
    List<Integer> sizes = new CopyOnWriteArrayList<>();
    HttpServer collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext("/v1/metrics", ex -> {
      if ("POST".equals(ex.getRequestMethod())) {
        contentTypes.add(String.valueOf(ex.getRequestHeaders().getFirst("content-type")));
        sizes.add(ex.getRequestBody().readAllBytes().length);
      }
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    collector.start();
    try {
      String url = "http://127.0.0.1:" + collector.getAddress().getPort() + "/v1/metrics";
      GatewayConfig loaded = new ConfigLoader().load(null, Map.of("TOLLGATE_METRICS_OTLP_ENDPOINT", url,
          "TOLLGATE_METRICS_OTLP_STEP", "PT1S"));
      assertThat(loaded.metrics().otlp().endpoint()).isEqualTo(url);
      assertThat(loaded.metrics().otlp().step()).isEqualTo(Duration.ofSeconds(1));
      Gateway g = Gateway.start(config(loaded.metrics()));
      try {
        assertThat(g.otlpRegistry()).isNotNull();
        assertThat(g.meters()).isInstanceOf(CompositeMeterRegistry.class);
        assertThat(((CompositeMeterRegistry) g.meters()).getRegistries()).contains(g.registry(), g.otlpRegistry());
        assertThat(g.otlpRegistry().find("gen_ai.server.request.duration").timers())
            .as("the GenAI meters are pushed too").isNotEmpty();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !contentTypes.isEmpty());
        assertThat(contentTypes.get(0)).isEqualTo("application/x-protobuf");
        assertThat(sizes.get(0)).isPositive();
      } finally {
        g.close();
      }
      assertThat(g.otlpRegistry().isClosed()).as("closed with the gateway").isTrue();
    } finally {
      collector.stop(0);
    }
  }

  @Test
  void otlpEndpoint_mustBeAnHttpUrl() {
    ConfigLoader loader = new ConfigLoader();
    for (String bad : List.of("ftp://collector:21/v1/metrics", "localhost:4318", "http://", "not a url")) {
      Assertions.assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_METRICS_OTLP_ENDPOINT", bad)))
          .as(bad).isInstanceOf(ConfigException.class).hasMessageStartingWith("metrics.otlp.endpoint: ");
    }
    assertThat(loader.load(null, Map.of("TOLLGATE_METRICS_OTLP_ENDPOINT", "")).metrics().otlp().enabled())
        .as("empty: off").isFalse();
    assertThat(loader.load(null, Map.of()).metrics().otlp().step()).isEqualTo(Duration.ofSeconds(60));
  }
}
