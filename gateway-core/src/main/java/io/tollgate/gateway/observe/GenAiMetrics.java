package io.tollgate.gateway.observe;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The buyer port's calls in the OpenTelemetry GenAI semantic conventions' names, through
 * Micrometer: {@value #TOKEN_USAGE} (a distribution of tokens per call, tagged {@code
 * gen_ai.token.type} = {@code input} or {@code output}), {@value #REQUEST_DURATION} (seconds) and
 * {@value #TIME_TO_FIRST_TOKEN} (seconds, only for calls where an answer body byte came from the
 * upstream). Every meter is tagged {@code gen_ai.request.model}, {@code gen_ai.provider.name} (the
 * product's protocol: {@code openai}, {@code anthropic}, {@code custom}; {@code none} when no
 * product is known), {@code product} (its id, or {@code none}) and {@code status_class} ({@code
 * 2xx} ... {@code 5xx}, of the status the buyer received).
 *
 * <p>Prometheus (Micrometer 1.17's naming) exposes them as {@code gen_ai_client_token_usage_bucket
 * / _count / _sum / _max} (no unit suffix: the meter has no base unit, as the OpenTelemetry
 * Prometheus exporter drops the annotation unit {@code {token}} too), {@code
 * gen_ai_server_request_duration_seconds_*} and {@code gen_ai_server_time_to_first_token_seconds_*};
 * tags become labels with underscores ({@code gen_ai_request_model}, ...). The histograms' buckets
 * are the conventions' advised boundaries, not Micrometer's 70-odd percentile buckets.
 *
 * <p>The model label is bounded: it is the call's model only when the call's SKU lists that model
 * by name (the buyer port checks {@code Sku.models().contains(model)} at the call's end, from the
 * subscription snapshot the call was admitted with, see {@link CallObserver#ended(CallSummary,
 * boolean)}); anything else, including no model and a SKU whose empty list admits any model, is
 * {@value #OTHER}. So the label's values are at most the models the catalog's SKUs list.
 *
 * <p>Meters are resolved once per (product, model label, status class) and held: recording a call
 * is two map reads and an array read, then the adds; nothing is allocated. Token usage is recorded
 * only for calls with tokens counted (a refusal adds no zero sample). Thread-safe: calls end on
 * every event loop and on estimate workers.
 */
public final class GenAiMetrics implements CallObserver {

  public static final String TOKEN_USAGE = "gen_ai.client.token.usage";
  public static final String REQUEST_DURATION = "gen_ai.server.request.duration";
  public static final String TIME_TO_FIRST_TOKEN = "gen_ai.server.time_to_first_token";
  /** The model label of a model no SKU lists (or none). */
  public static final String OTHER = "other";
  /** The product and provider label of a call no product is known for (a missing or unknown key). */
  public static final String NONE = "none";

  private static final String[] STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};

  /** OpenTelemetry GenAI semconv's advised boundaries for gen_ai.client.token.usage. */
  private static final double[] TOKEN_BUCKETS = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
      4194304, 16777216, 67108864};
  /** ... for gen_ai.server.request.duration, in seconds. */
  private static final Duration[] DURATION_BUCKETS = seconds(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56,
      5.12, 10.24, 20.48, 40.96, 81.92);
  /** ... for gen_ai.server.time_to_first_token, in seconds. */
  private static final Duration[] TTFT_BUCKETS = seconds(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
      0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);

  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, ProductMeters> byProduct = new ConcurrentHashMap<>();

  /** Registers the meters of calls without a product at once, so every name is in a scrape before any call. */
  public GenAiMetrics(MeterRegistry registry) {
    this.registry = registry;
    product(NONE, NONE).meters(OTHER, 400);
  }

  @Override
  public void ended(CallSummary call) {
    ended(call, false);
  }

  @Override
  public void ended(CallSummary call, boolean modelListed) {
    String product = call.productId() == null ? NONE : call.productId();
    String provider = call.protocol() == null ? NONE : call.protocol();
    String model = modelListed && call.model() != null ? call.model() : OTHER;
    CallMeters m = product(product, provider).meters(model, call.status());
    m.duration.record(call.durationNanos(), TimeUnit.NANOSECONDS);
    if (call.ttftNanos() >= 0) {
      m.ttft.record(call.ttftNanos(), TimeUnit.NANOSECONDS);
    }
    if (call.inputTokens() + call.outputTokens() > 0) {
      m.input.record(call.inputTokens());
      m.output.record(call.outputTokens());
    }
  }

  private ProductMeters product(String product, String provider) {
    ProductMeters p = byProduct.get(product);
    if (p == null || !p.provider.equals(provider)) {
      // first call of the product, or its protocol changed (rare): a new set
      p = new ProductMeters(product, provider);
      byProduct.put(product, p);
    }
    return p;
  }

  private static int statusClass(int status) {
    return status < 100 || status > 599 ? 4 : status / 100 - 1;
  }

  private final class ProductMeters {
    final String product;
    final String provider;
    final ConcurrentHashMap<String, AtomicReferenceArray<CallMeters>> byModel = new ConcurrentHashMap<>();

    ProductMeters(String product, String provider) {
      this.product = product;
      this.provider = provider;
    }

    CallMeters meters(String model, int status) {
      AtomicReferenceArray<CallMeters> classes = byModel.get(model);
      if (classes == null) {
        classes = byModel.computeIfAbsent(model, k -> new AtomicReferenceArray<>(STATUS_CLASSES.length));
      }
      int c = statusClass(status);
      CallMeters m = classes.get(c);
      if (m == null) {
        // a race registers the same meters twice: the registry hands back the ones it has
        m = new CallMeters(registry, Tags.of("gen_ai.request.model", model, "gen_ai.provider.name", provider,
            "product", product, "status_class", STATUS_CLASSES[c]));
        classes.set(c, m);
      }
      return m;
    }
  }

  private static final class CallMeters {
    final DistributionSummary input;
    final DistributionSummary output;
    final Timer duration;
    final Timer ttft;

    CallMeters(MeterRegistry registry, Tags tags) {
      input = tokens(registry, tags, "input");
      output = tokens(registry, tags, "output");
      duration = Timer.builder(REQUEST_DURATION)
          .description("GenAI server request duration: from a buyer's request to the end of its answer")
          .tags(tags).serviceLevelObjectives(DURATION_BUCKETS).register(registry);
      ttft = Timer.builder(TIME_TO_FIRST_TOKEN)
          .description("Time from a buyer's request to the first answer byte from the upstream")
          .tags(tags).serviceLevelObjectives(TTFT_BUCKETS).register(registry);
    }

    private static DistributionSummary tokens(MeterRegistry registry, Tags tags, String type) {
      return DistributionSummary.builder(TOKEN_USAGE)
          .description("Tokens used per call (unit: tokens), by type")
          .tags(tags).tag("gen_ai.token.type", type).serviceLevelObjectives(TOKEN_BUCKETS).register(registry);
    }
  }

  private static Duration[] seconds(double... values) {
    Duration[] d = new Duration[values.length];
    for (int i = 0; i < values.length; i++) {
      d[i] = Duration.ofNanos(Math.round(values[i] * 1e9));
    }
    return d;
  }
}
