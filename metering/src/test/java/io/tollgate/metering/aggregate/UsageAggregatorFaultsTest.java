package io.tollgate.metering.aggregate;

import static io.tollgate.metering.aggregate.AggregatorFixture.assertStoreMatches;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.journal.JournalException;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.MeterStoreException;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageBucket;
import io.tollgate.metering.store.UsageSelector;
import io.tollgate.metering.testing.Ledger;
import io.tollgate.metering.testing.Services;
import io.tollgate.metering.usage.UsageEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The flusher survives failures of its own journal directory (issue: a roll that could not create
 * its next segment killed the flusher for good, silently). The fault enters through the real
 * file system: the journal directory is replaced by a plain file, so every segment creation and
 * deletion fails as it does when descriptors run out or the disk is gone, then it is put back.
 */
class UsageAggregatorFaultsTest {

  static final int SUBS = 5;

  @TempDir Path dir;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final TaskHealth health = new TaskHealth(Clock.systemUTC(), registry);
  final MeterStore h2 = new JdbcMeterStore(Services.h2(), "tg_", Clock.systemUTC()).migrate();
  final SwitchableStore store = new SwitchableStore(h2);
  final Ledger ledger = new Ledger(SUBS);
  final Random rnd = new Random(7);
  Path journalDir;
  Path movedAway;
  UsageAggregator aggregator;

  @AfterEach
  void close() throws IOException {
    restoreJournalDirectory();
    if (aggregator != null) {
      aggregator.close();
    }
  }

  UsageAggregator start(long segmentBytes, int stripes) {
    journalDir = dir.resolve("journal");
    movedAway = dir.resolve("journal.moved");
    UsageJournal journal = UsageJournal.open(journalDir,
        new UsageJournal.Config(Duration.ofMillis(50), segmentBytes, 1L << 30), Clock.systemUTC(), registry, health);
    aggregator = UsageAggregator.start(journal, store,
        new UsageAggregator.Config(Duration.ofMillis(20), stripes, Duration.ofMillis(200), Duration.ofSeconds(5)),
        Clock.systemUTC(), registry, health);
    return aggregator;
  }

  void replaceJournalDirectoryByAFile() throws IOException {
    Files.move(journalDir, movedAway);
    Files.writeString(journalDir, "not a directory");
  }

  void restoreJournalDirectory() throws IOException {
    if (movedAway != null && Files.exists(movedAway)) {
      Files.delete(journalDir);
      Files.move(movedAway, journalDir);
    }
  }

  /** Records {@code n} events; returns how many the aggregator accepted (the rest were refused). */
  int record(int n) {
    int accepted = 0;
    for (int i = 0; i < n; i++) {
      UsageEvent e = ledger.next(rnd);
      try {
        aggregator.record(e);
      } catch (JournalException refused) {
        continue; // not journaled: the call is not served, so it must not count
      }
      ledger.recorded(e);
      accepted++;
    }
    return accepted;
  }

  void awaitStoreMatchesLedger() {
    Awaitility.await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .untilAsserted(() -> assertStoreMatches(h2, ledger, SUBS));
  }

  TaskHealth.Status flushStatus() {
    return health.statuses().stream().filter(s -> s.name().equals(UsageAggregator.TASK)).findFirst().orElseThrow();
  }

  @Test
  void journalDirectoryGone_flusherKeepsRunning_showsTheFailure_andCatchesUpOnceItIsBack() throws Exception {
    start(1 << 20, 2);
    record(200);
    awaitStoreMatchesLedger();
    assertThat(health.ready()).isTrue();

    replaceJournalDirectoryByAFile();
    int accepted = record(200); // appended to the open segments, whose files are still open
    assertThat(accepted).as("open segments keep accepting events").isEqualTo(200);
    Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      TaskHealth.Status s = flushStatus();
      assertThat(s.state()).as("a flush that cannot roll shows as failing").isEqualTo(TaskHealth.State.FAILING);
      assertThat(s.cause()).isEqualTo(TaskHealth.Cause.LOCAL);
      assertThat(health.ready()).as("a local flush failure takes the instance out of readiness").isFalse();
    });
    assertThat(registry.get("tollgate.task.failures").tag("task", UsageAggregator.TASK).tag("cause", "local")
        .counter().count()).as("every failed run is counted").isPositive();
    long failuresSoFar = flushStatus().failures();
    Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> flushStatus().failures() > failuresSoFar + 2);

    restoreJournalDirectory();
    record(100);
    awaitStoreMatchesLedger();
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(health::ready);
    assertThat(flushStatus().state()).isEqualTo(TaskHealth.State.OK);
    aggregator.close();
    aggregator = null;
    try (var files = Files.list(journalDir)) {
      assertThat(files.filter(p -> p.toString().endsWith(".tgj")).toList())
          .as("every applied segment is deleted once the directory is back").isEmpty();
    }
  }

  @Test
  void segmentFillsWhileNoSegmentCanBeCreated_everyAcceptedEventCountsOnce_refusedOnesNever() throws Exception {
    store.down = true; // the open segment is not rolled while its batch waits: it fills up
    start(4096, 1);
    record(10);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> aggregator.pendingBatches() >= 1);
    replaceJournalDirectoryByAFile();

    int accepted = record(300);
    assertThat(accepted).as("some events fit the open segment").isPositive();
    assertThat(accepted).as("once it is full and no next segment can be created, events are refused")
        .isLessThan(300);
    assertThatThrownBy(() -> aggregator.record(ledger.next(rnd))).isInstanceOf(JournalException.class);

    restoreJournalDirectory();
    store.down = false;
    record(50);
    awaitStoreMatchesLedger();
    Thread.sleep(300); // a few more flushes: nothing may be counted twice
    assertStoreMatches(h2, ledger, SUBS);
  }

  @Test
  void storeDown_isAFailingDependency_notALocalFailure() {
    store.down = true;
    start(1 << 20, 2);
    record(50);
    Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      assertThat(flushStatus().state()).isEqualTo(TaskHealth.State.FAILING);
      assertThat(flushStatus().cause()).isEqualTo(TaskHealth.Cause.DEPENDENCY);
    });
    assertThat(health.ready()).as("a meter store outage is every instance's: the journal holds the usage").isTrue();
    store.down = false;
    awaitStoreMatchesLedger();
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> flushStatus().state() == TaskHealth.State.OK);
  }

  /** A real store that can be made to fail every apply, as a store outage does. */
  static final class SwitchableStore implements MeterStore {
    final MeterStore real;
    volatile boolean down;

    SwitchableStore(MeterStore real) {
      this.real = real;
    }

    @Override
    public void apply(List<UsageBatch> batches) {
      if (down) {
        throw new MeterStoreException("store down", null);
      }
      real.apply(batches);
    }

    @Override
    public List<UsageBucket> usage(UsageSelector s, Instant from, Instant to, Granularity g) {
      return real.usage(s, from, to, g);
    }
  }
}
