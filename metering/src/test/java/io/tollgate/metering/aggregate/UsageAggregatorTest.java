package io.tollgate.metering.aggregate;

import static io.tollgate.metering.aggregate.AggregatorFixture.assertStoreMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.testing.Ledger;
import io.tollgate.metering.testing.Services;
import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsageAggregatorTest {

  static final int SUBS = 20;

  @TempDir Path dir;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final MeterStore store = new JdbcMeterStore(Services.h2(), "tg_", Clock.systemUTC()).migrate();
  final Ledger ledger = new Ledger(SUBS);

  @Test
  void threadsReleasedTogether_areCountedExactly() throws Exception {
    UsageAggregator aggregator = AggregatorFixture.start(dir, store, registry);
    recordConcurrently(aggregator, 8, 3000, 0);
    aggregator.close();

    assertStoreMatches(store, ledger, SUBS);
    assertThat(segments()).as("every acknowledged segment is trimmed").isEmpty();
    assertThat(registry.get("tollgate.usage.events").tag("billable", "true").counter().count())
        .isEqualTo(ledger.expected().values().stream().mapToLong(c -> c.calls()).sum());
  }

  @Test
  void crashBeforeFlush_replayCountsEverythingOnce() throws Exception {
    UsageAggregator crashed = AggregatorFixture.start(dir, blackHole(), registry);
    recordConcurrently(crashed, 4, 500, 0);
    crashed.halt();

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void crashAfterStoreAppliedButBeforeTrim_replayDoesNotDoubleCount() throws Exception {
    // The store applies every batch, then the "process" dies before it can delete a segment.
    AtomicInteger applies = new AtomicInteger();
    MeterStore appliesThenDies = new MeterStore() {
      @Override
      public void apply(List<UsageBatch> batches) {
        store.apply(batches);
        applies.incrementAndGet();
        throw new IllegalStateException("process died after the store applied");
      }

      @Override
      public List<io.tollgate.metering.store.UsageBucket> usage(
          io.tollgate.metering.store.UsageSelector s, java.time.Instant from, java.time.Instant to,
          io.tollgate.metering.store.Granularity g) {
        return store.usage(s, from, to, g);
      }
    };
    UsageAggregator crashed = AggregatorFixture.start(dir, appliesThenDies, registry);
    recordConcurrently(crashed, 4, 500, 0);
    org.awaitility.Awaitility.await().until(() -> applies.get() >= 3);
    crashed.halt();
    assertThat(segments()).as("nothing was trimmed, so replay sees applied segments").isNotEmpty();

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
    assertThat(segments()).isEmpty();
  }

  @Test
  void tornTailWrite_isIgnoredAndWholeEntriesCount() throws Exception {
    UsageAggregator crashed = AggregatorFixture.start(dir, blackHole(), registry);
    recordConcurrently(crashed, 2, 300, 0);
    crashed.halt();
    Path last = segments().stream().filter(p -> p.toFile().length() > 8).reduce((a, b) -> b)
        .orElseThrow();
    try (FileChannel ch = FileChannel.open(last, StandardOpenOption.APPEND)) {
      // A length that promises 90 bytes, a CRC, and only 20 bytes of the payload.
      ch.write(ByteBuffer.allocate(28).putInt(90).putInt(12345).put(new byte[20]).flip());
    }

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void heldRecords_countAfterACrashOnlyOncePublished() throws Exception {
    UsageJournal journal = UsageJournal.open(dir, new UsageJournal.Config(Duration.ofMillis(50), 1 << 20, 1L << 30),
        Clock.systemUTC(), registry);
    TaskHealth health = new TaskHealth(Clock.systemUTC(), registry);
    UsageAggregator crashed = UsageAggregator.start(journal, blackHole(),
        new UsageAggregator.Config(Duration.ofHours(1), 4, Duration.ofHours(1), Duration.ofSeconds(1)),
        Clock.systemUTC(), registry, health);
    // Its flusher's first run, at start, finds nothing; the next is an hour away: no roll before the crash.
    Awaitility.await().until(() -> health.statuses().stream().allMatch(t -> t.lastSuccess() != null));
    Random rnd = new Random(11);
    record(crashed, rnd, 50);
    recordHeld(crashed, rnd, 20, true);
    crashed.publish();
    recordHeld(crashed, rnd, 15, false); // their calls' ends never left: the crash comes first
    assertThat(crashed.pendingBatches()).as("no roll published them").isZero();
    crashed.halt();

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void heldRecordsOfARolledSegment_countAfterACrash() throws Exception {
    UsageAggregator crashed = AggregatorFixture.start(dir, blackHole(), registry);
    Random rnd = new Random(12);
    int before = crashed.pendingBatches();
    recordHeld(crashed, rnd, 10, true);
    // The flusher rolls the segment (its store refuses the batch): a closed segment holds no
    // unpublished entry, as its batch counts them.
    org.awaitility.Awaitility.await().until(() -> crashed.pendingBatches() > before);
    crashed.halt();

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void replayAfterTwoCrashes_stillCountsOnce() throws Exception {
    UsageAggregator first = AggregatorFixture.start(dir, blackHole(), registry);
    recordConcurrently(first, 2, 300, 0);
    first.halt();
    UsageAggregator second = AggregatorFixture.start(dir, blackHole(), new SimpleMeterRegistry());
    recordConcurrently(second, 2, 300, 1000);
    second.halt();

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void recordingIntoExistingCells_allocatesNothing() throws Exception {
    UsageJournal journal = UsageJournal.open(dir, UsageJournal.Config.defaults(), Clock.systemUTC(),
        registry); // 16 MiB segments: no roll on the recording thread while it is measured
    UsageAggregator aggregator = UsageAggregator.start(journal, blackHole(),
        UsageAggregator.Config.defaults(), Clock.systemUTC(), registry);
    Random rnd = new Random(1);
    UsageEvent[] events = new UsageEvent[64];
    for (int i = 0; i < events.length; i++) {
      events[i] = ledger.next(rnd);
    }
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    for (int i = 0; i < 20_000; i++) {
      aggregator.record(events[i & 63]);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < 20_000; i++) {
      aggregator.record(events[i & 63]);
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    aggregator.halt();

    assertThat(allocated).as("bytes allocated by 20,000 records into cells that exist").isLessThan(20_000);
  }

  @Test
  void cellsOutliveRolls_butNoBatchCarriesAnIdleOne() throws Exception {
    List<UsageCell> sent = new CopyOnWriteArrayList<>();
    MeterStore capturing = new MeterStore() {
      @Override
      public void apply(List<UsageBatch> batches) {
        batches.forEach(b -> sent.addAll(b.cells()));
        store.apply(batches);
      }

      @Override
      public List<io.tollgate.metering.store.UsageBucket> usage(
          io.tollgate.metering.store.UsageSelector s, java.time.Instant from, java.time.Instant to,
          io.tollgate.metering.store.Granularity g) {
        return store.usage(s, from, to, g);
      }
    };
    UsageAggregator aggregator = AggregatorFixture.start(dir, capturing, registry);
    Random rnd = new Random(3);
    for (int round = 0; round < 10; round++) { // each round outlasts a flush (20 ms): many rolls
      for (int i = 0; i < 200; i++) {
        UsageEvent e = ledger.next(rnd);
        if (round % 2 == 0 || e.subscriptionId().equals("sub-1")) { // others idle every other round
          aggregator.record(e);
          ledger.recorded(e);
        }
      }
      Thread.sleep(30);
    }
    aggregator.close();

    assertStoreMatches(store, ledger, SUBS);
    assertThat(sent).as("a cell kept across a roll but idle since is not sent as a zero count")
        .allSatisfy(c -> assertThat(c.counts().calls()).isPositive());
  }

  /**
   * A journal of 4 KiB segments synced every 10 ms behind one stripe and a store that is down, so
   * the flusher rolls the stripe once and then only full segments roll, on the recording thread.
   */
  UsageAggregator startWithSmallSegmentsAndTheStoreDown() {
    UsageJournal journal = UsageJournal.open(dir,
        new UsageJournal.Config(Duration.ofMillis(10), 4096, 1L << 30), Clock.systemUTC(), registry);
    return UsageAggregator.start(journal, blackHole(),
        new UsageAggregator.Config(Duration.ofMillis(20), 1, Duration.ofMillis(400), Duration.ofSeconds(1)),
        Clock.systemUTC(), registry);
  }

  /** Records until the stripe has rolled {@code rolls} more segments. */
  void recordUntilRolled(UsageAggregator aggregator, Random rnd, int rolls) {
    int target = aggregator.pendingBatches() + rolls;
    while (aggregator.pendingBatches() < target) {
      UsageEvent e = ledger.next(rnd);
      aggregator.record(e);
      ledger.recorded(e);
    }
  }

  /** Records {@code n} events held; {@code counted}: the ledger expects them to be counted. */
  void recordHeld(UsageAggregator aggregator, Random rnd, int n, boolean counted) {
    for (int i = 0; i < n; i++) {
      UsageEvent e = ledger.next(rnd);
      aggregator.recordHeld(e);
      if (counted) {
        ledger.recorded(e);
      }
    }
  }

  void record(UsageAggregator aggregator, Random rnd, int n) {
    for (int i = 0; i < n; i++) {
      UsageEvent e = ledger.next(rnd);
      aggregator.record(e);
      ledger.recorded(e);
    }
  }

  /** Segment files with a header and no entry: open ones nothing was appended to, or the spare. */
  List<Path> emptySegments() throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path p : segments()) {
      ByteBuffer firstLength = ByteBuffer.allocate(4);
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
        ch.read(firstLength, 8);
      } catch (java.nio.file.NoSuchFileException deleted) {
        continue;
      }
      if (firstLength.position() == 4 && firstLength.getInt(0) == 0) {
        out.add(p);
      }
    }
    return out;
  }

  @Test
  void fullSegmentRoll_onTheRecordingThread_takesTheSpareTheJournalPrepared() throws Exception {
    UsageAggregator aggregator = startWithSmallSegmentsAndTheStoreDown();
    Random rnd = new Random(5);
    record(aggregator, rnd, 5);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> aggregator.pendingBatches() == 1);
    record(aggregator, rnd, 5); // the flusher's last roll: from here only full segments roll
    double inline = registry.get("tollgate.journal.inline.segments").counter().count();

    for (int roll = 0; roll < 5; roll++) {
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> emptySegments().size() == 1);
      recordUntilRolled(aggregator, rnd, 1);
    }

    assertThat(registry.get("tollgate.journal.inline.segments").counter().count())
        .as("each full segment rolled to the ready spare: no file created on the recording thread")
        .isEqualTo(inline);
    assertThat(aggregator.pendingBatches()).isEqualTo(6);
    aggregator.halt();
    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();
    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void crashWithAPreparedSpareOnDisk_replayCountsEverythingOnce_andDeletesIt() throws Exception {
    UsageAggregator crashed = startWithSmallSegmentsAndTheStoreDown();
    Random rnd = new Random(6);
    recordUntilRolled(crashed, rnd, 8); // as fast as it can: spares taken, raced, or not ready
    record(crashed, rnd, 5);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> emptySegments().size() == 1);
    crashed.halt();
    List<Path> spare = emptySegments();
    assertThat(spare).as("the crash left the prepared spare: a header, no entry").hasSize(1);

    AggregatorFixture.start(dir, store, new SimpleMeterRegistry()).close();

    assertStoreMatches(store, ledger, SUBS);
    assertThat(segments()).as("the spare replayed as nothing and was deleted with the rest").isEmpty();
  }

  /** A store that is down: every apply fails. */
  static MeterStore blackHole() {
    return new MeterStore() {
      @Override
      public void apply(List<UsageBatch> batches) {
        throw new io.tollgate.metering.store.MeterStoreException("down", null);
      }

      @Override
      public List<io.tollgate.metering.store.UsageBucket> usage(
          io.tollgate.metering.store.UsageSelector s, java.time.Instant from, java.time.Instant to,
          io.tollgate.metering.store.Granularity g) {
        return List.of();
      }
    };
  }

  List<Path> segments() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tgj")).sorted().toList();
    }
  }

  void recordConcurrently(UsageAggregator aggregator, int threads, int perThread, int seed)
      throws Exception {
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        Random rnd = new Random(seed + t);
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < perThread; i++) {
            var e = ledger.next(rnd);
            aggregator.record(e);
            ledger.recorded(e);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
