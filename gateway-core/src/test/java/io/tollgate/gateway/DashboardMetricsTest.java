package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.GatewayHttp;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code config/grafana/tollgate.json} and {@code config/prometheus.yml} against a running gateway:
 * every metric the dashboard's queries read is in {@code /metrics} at start-up, before any call (so
 * a new instance's panels show zeros, not "no data"), and still after a few calls; the Prometheus
 * configuration scrapes the admin port's {@code /metrics}.
 */
class DashboardMetricsTest {

  static final Path DASHBOARD = Path.of("..", "config", "grafana", "tollgate.json");
  static final Path PROMETHEUS = Path.of("..", "config", "prometheus.yml");
  static final String OPERATOR = "dashboard-operator-token-0123456789";
  /** A metric name in PromQL: tollgate's own series and the GenAI ones. */
  static final Pattern METRIC = Pattern.compile("\\b((?:tollgate|gen_ai)_[a-z0-9_]+)\\b");

  /** {@code by (...)} and {@code without (...)}: label names, not metrics. */
  static final Pattern LABEL_LISTS = Pattern.compile("\\b(?:by|without)\\s*\\([^)]*\\)");

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

  /** Every PromQL expression of the dashboard's panels and template variables. */
  static List<String> queries() throws Exception {
    JsonNode dash = new ObjectMapper().readTree(DASHBOARD.toFile());
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : dash.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        exprs.add(target.path("expr").asText());
      }
    }
    for (JsonNode variable : dash.path("templating").path("list")) {
      if (variable.has("definition")) {
        exprs.add(variable.path("definition").asText());
      }
    }
    return exprs;
  }

  static Set<String> metricNames(List<String> exprs) {
    Set<String> names = new TreeSet<>();
    for (String e : exprs) {
      Matcher m = METRIC.matcher(LABEL_LISTS.matcher(e).replaceAll(""));
      while (m.find()) {
        names.add(m.group(1));
      }
    }
    return names;
  }

  /** The series names in a Prometheus text exposition. */
  static Set<String> exposed(String text) {
    Set<String> names = new TreeSet<>();
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
        end++;
      }
      names.add(line.substring(0, end));
    }
    return names;
  }

  @Test
  void everyMetricTheDashboardReads_isExposedFromStartUp() throws Exception {
    Set<String> wanted = metricNames(queries());
    assertThat(wanted).as("the dashboard's panels, as the issue lists them")
        .contains("tollgate_requests_total", "tollgate_request_duration_seconds_bucket",
            "gen_ai_server_time_to_first_token_seconds_bucket", "gen_ai_client_token_usage_sum",
            "tollgate_quota_rejections_total", "tollgate_ratelimit_rejections_total",
            "tollgate_endpoint_ejections_total", "tollgate_meter_flush_duration_seconds_sum",
            "tollgate_journal_bytes", "tollgate_export_lag_seconds", "tollgate_usage_tokens_total");

    GatewayConfig config = new GatewayConfig(
        new GatewayConfig.Server("127.0.0.1", 0, 1, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null), null, null);
    try (Gateway g = Gateway.start(config)) {
      assertThat(exposed(http.metrics(g))).as("/metrics at start-up, before any call").containsAll(wanted);

      String merchant = http.admin(g, "POST", "/admin/v1/merchants", OPERATOR, GatewayHttp.seller(), 201).getString("token");
      String product = http.admin(g, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
          .put("protocol", "openai")
          .put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))), 201).getString("id");
      String sku = http.admin(g, "POST", "/admin/v1/products/" + product + "/skus", merchant, new JsonObject()
          .put("name", "payg").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
              .put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "0.15")
              .put("outputPricePerMillion", "0.60")), 201).getString("id");
      http.list(g, OPERATOR, product);
      String key = http.admin(g, "POST", "/admin/v1/subscriptions", OPERATOR,
          new JsonObject().put("skuId", sku).put("buyerId", "b1").put("buyerName", "Bea"), 201).getString("apiKey");

      assertThat(http.buyer(g, "POST", "/v1/chat/completions", key,
          "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode()).isEqualTo(200);
      assertThat(http.buyer(g, "POST", "/v1/chat/completions", key,
          "{\"model\":\"mock-gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
          .statusCode()).isEqualTo(200);
      assertThat(http.buyer(g, "POST", "/v1/chat/completions", "sk-not-a-key",
          "{\"model\":\"mock-gpt\"}").statusCode()).isEqualTo(401);

      String after = http.metrics(g);
      assertThat(exposed(after)).as("/metrics after calls").containsAll(wanted);
      assertThat(after).as("the calls show in the series the dashboard reads")
          .contains("tollgate_requests_total{product=\"" + product + "\",status=\"200\"} 2.0")
          .containsPattern("gen_ai_server_time_to_first_token_seconds_count\\{[^}]*product=\"" + product + "\"[^}]*} 2");
    }
  }

  @Test
  void prometheusScrapesTheAdminPortsMetrics() throws Exception {
    String yml = Files.readString(PROMETHEUS);
    assertThat(yml).contains("metrics_path: /metrics")
        .contains("targets: [\"127.0.0.1:" + new GatewayConfig.Admin(null, null, null).port() + "\"]");
  }
}
