package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.tollgate.gateway.observe.CallSummary;
import io.tollgate.gateway.observe.GenAiMetrics;
import io.tollgate.gateway.observe.MeterClock;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.function.ToLongFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A call's meters as the buyer port records them at its end ({@link ProxyMetrics} then {@link
 * GenAiMetrics}), from two event loops at once into one Prometheus registry on the gateway's
 * {@link MeterClock}: the scrape's counts, sums, every bucket and the maxima are exactly those of
 * the calls recorded, none lost and none twice.
 */
class CallMetersTest {

  static final int PER_LOOP = 40_000;
  final MeterClock clock = new MeterClock().start();
  final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), clock);

  @AfterEach
  void close() {
    registry.close();
    clock.close();
  }

  /** Call {@code i} of a loop: 0.4 ms .. about 13 s, first byte at a third, 1 .. 2^19 tokens, every 7th a 429. */
  static CallSummary call(int i) {
    long nanos = (400_000L << (i % 16)) + (i % 5) * 1_000_000L;
    return new CallSummary(UUID.randomUUID(), "sub", "prod_1", "sku", "openai", "gpt-x", "POST", "/v1/chat/completions",
        i % 7 == 0 ? 429 : 200, 200, nanos, nanos / 3, 1L << (i % 20), 3L * (i % 11), false, 100, "127.0.0.1:1");
  }

  @Test
  void callsRecordedOnTwoLoopsAreAllInTheScrapeWithTheirBuckets() throws Exception {
    ProxyMetrics metrics = new ProxyMetrics(registry);
    GenAiMetrics genAi = new GenAiMetrics(registry);
    CyclicBarrier start = new CyclicBarrier(2);
    List<Thread> loops = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      Thread loop = new Thread(() -> {
        try {
          start.await();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        for (int i = 0; i < PER_LOOP; i++) {
          CallSummary c = call(i);
          metrics.product(c.productId()).record(c.status(), c.durationNanos());
          genAi.ended(c, true);
        }
      });
      loop.start();
      loops.add(loop);
    }
    for (Thread loop : loops) {
      loop.join();
    }
    List<CallSummary> calls = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      for (int i = 0; i < PER_LOOP; i++) {
        calls.add(call(i));
      }
    }
    String scrape = registry.scrape();

    long ok = calls.stream().filter(c -> c.status() == 200).count();
    assertThat(value(scrape, "tollgate_requests_total{product=\"prod_1\",status=\"200\"}")).isEqualTo(ok);
    assertThat(value(scrape, "tollgate_requests_total{product=\"prod_1\",status=\"429\"}")).isEqualTo(2 * PER_LOOP - ok);
    histogram(scrape, "tollgate_request_duration_seconds", "product=\"prod_1\"", calls, CallSummary::durationNanos,
        1e-9);

    List<CallSummary> served = calls.stream().filter(c -> c.status() == 200).toList();
    List<CallSummary> refused = calls.stream().filter(c -> c.status() == 429).toList();
    String labels2xx = "gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-x\",product=\"prod_1\","
        + "status_class=\"2xx\"";
    String labels4xx = labels2xx.replace("2xx", "4xx");
    for (var s : List.of(new Object[] {labels2xx, served}, new Object[] {labels4xx, refused})) {
      String labels = (String) s[0];
      @SuppressWarnings("unchecked")
      List<CallSummary> these = (List<CallSummary>) s[1];
      histogram(scrape, "gen_ai_server_request_duration_seconds", labels, these, CallSummary::durationNanos, 1e-9);
      histogram(scrape, "gen_ai_server_time_to_first_token_seconds", labels, these, CallSummary::ttftNanos, 1e-9);
      histogram(scrape, "gen_ai_client_token_usage", labels.replace("product=", "gen_ai_token_type=\"input\",product="),
          these, CallSummary::inputTokens, 1);
      histogram(scrape, "gen_ai_client_token_usage", labels.replace("product=", "gen_ai_token_type=\"output\",product="),
          these, CallSummary::outputTokens, 1);
    }
  }

  /**
   * The series {@code name} with exactly {@code labels} holds the samples' count, sum and max, and
   * each of its buckets ({@code le} in the unit, {@code unit} of a sample) the samples at most its
   * bound.
   */
  static void histogram(String scrape, String name, String labels, List<CallSummary> calls,
      ToLongFunction<CallSummary> sample, double unit) {
    long[] samples = calls.stream().mapToLong(sample).toArray();
    assertThat(value(scrape, name + "_count{" + labels + "}")).isEqualTo(samples.length);
    double sum = 0;
    long max = 0;
    for (long v : samples) {
      sum += v;
      max = Math.max(max, v);
    }
    assertThat(value(scrape, name + "_sum{" + labels + "}")).isCloseTo(sum * unit, org.assertj.core.data.Percentage
        .withPercentage(1e-9));
    assertThat(value(scrape, name + "_max{" + labels + "}")).isEqualTo(max * unit);
    List<String> buckets = scrape.lines().filter(l -> l.startsWith(name + "_bucket{" + labels + ",le=")).toList();
    assertThat(buckets).as("buckets of %s{%s}", name, labels).hasSizeGreaterThan(10);
    for (String line : buckets) {
      String le = line.substring(line.indexOf("le=\"") + 4, line.indexOf('"', line.indexOf("le=\"") + 4));
      long bound = le.equals("+Inf") ? Long.MAX_VALUE : Math.round(Double.parseDouble(le) / unit);
      long expected = 0;
      for (long v : samples) {
        if (v <= bound) {
          expected++;
        }
      }
      assertThat(value(scrape, line.substring(0, line.lastIndexOf(' ')))).as(line).isEqualTo(expected);
    }
  }

  /** The value of the series spelt {@code series} (name and labels as in the scrape). */
  static double value(String scrape, String series) {
    List<String> lines = scrape.lines().filter(l -> l.startsWith(series + " ")).toList();
    assertThat(lines).as("%s in:\n%s", series, scrape).hasSize(1);
    String line = lines.get(0);
    return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
  }
}
