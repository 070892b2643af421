package io.tollgate.benchmarks;

import io.micrometer.core.instrument.Clock;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.tollgate.gateway.observe.CallSummary;
import io.tollgate.gateway.observe.GenAiMetrics;
import io.tollgate.gateway.observe.MeterClock;
import io.tollgate.gateway.proxy.ProxySteps;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What recording one proxied call's meters costs on the event loop: what {@code Exchange.settleAndCount}
 * does once a call has ended, {@code ProxyMetrics} (requests by status, {@code tollgate.request.duration})
 * and then {@link GenAiMetrics#ended(CallSummary, boolean)} (duration, time to first token, input and
 * output tokens), into one Prometheus registry shared by the threads, as the gateway's event loops
 * share it. {@code oneLoop} is one event loop; {@code twoLoops} two, recording into the same meters
 * (the load harness runs two). Calls cycle through 64 summaries of spread durations, token counts and
 * two products, so the histograms' buckets differ from call to call. {@code clock}: the registry's
 * clock, {@code meter} the {@link MeterClock} the gateway gives it, {@code system} Micrometer's
 * default (what the gateway had before).
 *
 * <p>Run (from the project root): {@code ONLY=call-meters benchmarks/jmh.sh -wi 3 -w 1 -i 5 -r 1 -f 1}
 * (jmh.sh adds {@code -prof gc} and {@link CpuTimeProfiler}: read {@code cpu.time.norm}, the process CPU
 * per call of all threads together, and {@code gc.alloc.rate.norm}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CallMetersBenchmark {

  private static final int CALLS = 64;
  private final CallSummary[] calls = new CallSummary[CALLS];
  private PrometheusMeterRegistry registry;
  private Object proxyMetrics;
  private GenAiMetrics genAi;
  private MeterClock meterClock;

  @Param({"meter", "system"})
  public String clock;

  @Setup(Level.Trial)
  public void start() {
    meterClock = new MeterClock().start();
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(),
        clock.equals("meter") ? meterClock : Clock.SYSTEM);
    proxyMetrics = ProxySteps.proxyMetrics(registry);
    genAi = new GenAiMetrics(registry);
    for (int i = 0; i < CALLS; i++) {
      // 2 products, 3 ms .. about 20 s, first byte at a third, 10 .. 60k tokens
      long nanos = 3_000_000L << (i % 13);
      calls[i] = new CallSummary(UUID.randomUUID(), "sub_" + i, i % 2 == 0 ? "prod_1" : "prod_2", "sku_1", "openai",
          "gpt-4o-mini", "POST", "/v1/chat/completions", i % 17 == 0 ? 429 : 200, 200, nanos, nanos / 3,
          10L << (i % 12), 5L << (i % 9), false, 612, "127.0.0.1:18080");
    }
    // one round first, so every meter is registered before the measured calls
    for (CallSummary c : calls) {
      record(c);
    }
  }

  @TearDown(Level.Trial)
  public void stop() {
    meterClock.close();
  }

  private void record(CallSummary c) {
    ProxySteps.recordRequest(proxyMetrics, c.productId(), c.status(), c.durationNanos());
    genAi.ended(c, true);
  }

  @Benchmark
  @Threads(1)
  @OperationsPerInvocation(CALLS)
  public void oneLoop() {
    for (CallSummary c : calls) {
      record(c);
    }
  }

  @Benchmark
  @Threads(2)
  @OperationsPerInvocation(CALLS)
  public void twoLoops() {
    for (CallSummary c : calls) {
      record(c);
    }
  }
}
