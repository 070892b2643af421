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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Recording one usage event on the hot path: {@link UsageAggregator#record}, i.e. the journal
 * append (a write to the page cache, no fsync) and the per-minute cell update, as the event loop
 * does it before a call's last byte leaves. The flusher runs in the background every 20 ms into
 * a store that counts batches in memory, so nothing here touches the network. Read {@code
 * cpu.worker.norm} and {@code alloc.worker.norm} ({@link CpuTimeProfiler}): the recording thread's
 * own CPU time and allocation per event, without the journal's and flusher's threads, which work
 * per segment and per batch, and count in {@code cpu.time.norm}. Events for 1,024
 * subscriptions are generated up front and indexed with {@code i++ & MASK}; one thread records, as
 * one event loop does, or two at once, as two event loops do.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * ONLY=record benchmarks/jmh.sh
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

  /**
   * Where the journal lives. {@code disk}: the system's temporary directory, here on the VM's
   * disk. At this benchmark's rate (a few million events a second, ~100 bytes each) its writeback
   * cannot keep up (this disk takes ~220 MB/s), so the append's page faults wait on the kernel's
   * dirty-page throttling, and the figure is the disk's bandwidth per entry, not recording's cost.
   * {@code tmpfs}: {@code /dev/shm}, where writeback costs nothing, so the figure is recording's
   * own: the event loop's share at the gateway's rates, which are a hundredth of this one.
   */
  @Param({"tmpfs", "disk"})
  public String journal;

  private Path dir;
  private UsageJournal usageJournal;
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
    dir = "tmpfs".equals(journal)
        ? Files.createTempDirectory(Path.of("/dev/shm"), "tollgate-record-bench")
        : Files.createTempDirectory("tollgate-record-bench");
    Clock clock = Clock.systemUTC();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // The flusher rolls every 20 ms and a segment holds 256 MiB, so segments are rolled by the
    // flusher, as in the gateway, where a loop's 16 MiB segment lasts seconds: at this benchmark's
    // rate the defaults fill one every ~15 ms, and a full segment is rolled on the recording thread
    // itself, whose batch (a cell per subscription) was then all it allocated, ~0.7 B per event.
    UsageJournal.Config defaults = UsageJournal.Config.defaults();
    usageJournal = UsageJournal.open(dir,
        new UsageJournal.Config(defaults.syncInterval(), 256L << 20, 4L << 30), clock, registry);
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
    aggregator = UsageAggregator.start(usageJournal, counting,
        UsageAggregator.Config.defaults().withFlushInterval(Duration.ofMillis(20)), clock, registry);
    events = new UsageEvent[SIZE];
    long now = System.currentTimeMillis();
    // One String per SKU, product and merchant, shared by their subscriptions' events, as the
    // gateway's events carry the ids of its cached catalog entries.
    String[] skus = ids("sku_", 16);
    String[] products = ids("prod_", 8);
    String[] merchants = ids("mer_", 4);
    for (int i = 0; i < SIZE; i++) {
      events[i] = new UsageEvent(UUID.randomUUID(), "sub_" + i, skus[i % 16], products[i % 8],
          merchants[i % 4], "buyer_" + i, now, 200, UsageEvent.Outcome.COMPLETED,
          new TokenUsage(100 + i, i % 50, 20 + i % 300, /* estimated= */ false), /* test= */ false);
    }
  }

  private static String[] ids(String prefix, int n) {
    String[] out = new String[n];
    for (int i = 0; i < n; i++) {
      out[i] = prefix + i;
    }
    return out;
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    aggregator.close();
    usageJournal.close();
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
