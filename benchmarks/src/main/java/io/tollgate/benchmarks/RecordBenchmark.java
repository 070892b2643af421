package io.tollgate.benchmarks;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.aggregate.UsageAggregator;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageBucket;
import io.tollgate.metering.store.UsageSelector;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Recording one usage event on the hot path: {@link UsageAggregator#record}, i.e. the journal
 * append (a write to the page cache, no fsync) and the per-minute cell update, as the event loop
 * does it before a call's last byte leaves. The flusher runs in the background every 200 ms into
 * a store that counts batches in memory, so nothing here touches the network. Events for 1,024
 * subscriptions are generated up front and indexed with {@code i++ & MASK}; one thread records, as
 * one event loop does, or two at once, as two event loops do.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar RecordBenchmark -prof gc -rf json -rff benchmarks/results/record.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RecordBenchmark {

  private static final int SIZE = 1024;
  private static final int MASK = SIZE - 1;

  private Path dir;
  private UsageJournal journal;
  private UsageAggregator aggregator;
  private UsageEvent[] events;
  final LongAdder applied = new LongAdder();

  /** Each thread walks the events from its own offset. */
  @State(Scope.Thread)
  public static class Cursor {
    int i = (int) (Thread.currentThread().getId() * 7919);
  }

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    dir = Files.createTempDirectory("tollgate-record-bench");
    Clock clock = Clock.systemUTC();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    journal = UsageJournal.open(dir, UsageJournal.Config.defaults(), clock, registry);
    MeterStore counting = new MeterStore() {
      @Override
      public void apply(List<UsageBatch> batches) {
        applied.add(batches.size());
      }

      @Override
      public List<UsageBucket> usage(UsageSelector s, Instant from, Instant to, Granularity g) {
        return List.of();
      }
    };
    aggregator = UsageAggregator.start(journal, counting,
        UsageAggregator.Config.defaults().withFlushInterval(Duration.ofMillis(200)), clock, registry);
    events = new UsageEvent[SIZE];
    long now = System.currentTimeMillis();
    for (int i = 0; i < SIZE; i++) {
      events[i] = new UsageEvent(UUID.randomUUID(), "sub_" + i, "sku_" + (i % 16), "prod_" + (i % 8),
          "mer_" + (i % 4), "buyer_" + i, now, 200, UsageEvent.Outcome.COMPLETED,
          new TokenUsage(100 + i, i % 50, 20 + i % 300, /* estimated= */ false), /* test= */ false);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    aggregator.close();
    journal.close();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Benchmark
  @Threads(1)
  public void record1Thread(Cursor c) {
    aggregator.record(events[c.i++ & MASK]);
  }

  @Benchmark
  @Threads(2)
  public void record2Threads(Cursor c) {
    aggregator.record(events[c.i++ & MASK]);
  }
}
