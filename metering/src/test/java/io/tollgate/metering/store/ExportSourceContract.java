package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * One contract for every {@link ExportSource}, mixed into each meter store's test class (which
 * isolates and cleans up the storage, see {@link MeterStoreContract}).
 */
interface ExportSourceContract<S extends MeterStore & ExportSource> {

  Duration HOUR = Duration.ofHours(1);
  Instant W10 = Instant.parse("2025-03-01T10:00:00Z");
  Instant W11 = W10.plus(HOUR);
  Instant W12 = W11.plus(HOUR);

  /** A store on this test's own storage whose export windows are {@code window} long. */
  S exportStore(Duration window);

  static UsageCell use(String sub, String sku, Instant minute, long calls) {
    return new UsageCell(sub, sku, "prod-" + sku, "mer-" + sku, "buyer-" + sub, false,
        minute.toEpochMilli(), new UsageCounts(calls, 10 * calls, calls, 3 * calls, 0));
  }

  static Instant at(String iso) {
    return Instant.parse(iso);
  }

  static TouchedKey mark(String sub, String sku) {
    return new TouchedKey(sub, sku, "prod-" + sku, "mer-" + sku, "buyer-" + sub, false, 0);
  }

  static long calls(ExportSource store, String sub, Instant from, Instant to) {
    return store.minutes(List.of(sub), from, to).getOrDefault(sub, List.of()).stream()
        .mapToLong(m -> m.counts().calls()).sum();
  }

  /** An exporter's pass over a window that saw no new usage: reads the marks and clears them. */
  static List<TouchedKey> exportOnce(ExportSource store, Instant window) {
    List<TouchedKey> seen = store.touched(window);
    store.clearTouched(window, seen);
    return seen;
  }

  @Test
  default void apply_marksExactlyTheWindowsAndSubscriptionsItTouched_withTheirDimensions() {
    S store = exportStore(HOUR);
    // ids with the characters an encoding could trip on: separators, digits, a dash, non-ASCII
    String oddSub = "s 3:\t-7|";
    String oddSku = "12:k\u00fc";
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", at("2025-03-01T10:15:00Z"), 1), use("s1", "k1", at("2025-03-01T10:16:00Z"), 1),
        use("s2", "k2", at("2025-03-01T10:59:00Z"), 1), use("s2", "k2", at("2025-03-01T11:00:00Z"), 1),
        new UsageCell(oddSub, oddSku, null, null, null, /* test= */ true,
            at("2025-03-01T11:30:00Z").toEpochMilli(), new UsageCounts(1, 0, 0, 0, 0))))));

    assertThat(store.touchedWindows(W10.minus(HOUR), W12.plus(HOUR)))
        .as("exactly the windows the cells fall in")
        .containsExactly(W10, W11);
    assertThat(store.touched(W10))
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("version")
        .as("one mark per (window, subscription, SKU), however many cells")
        .containsExactlyInAnyOrder(mark("s1", "k1"), mark("s2", "k2"));
    assertThat(store.touched(W11))
        .usingRecursiveFieldByFieldElementComparatorIgnoringFields("version")
        .containsExactlyInAnyOrder(mark("s2", "k2"),
            new TouchedKey(oddSub, oddSku, null, null, null, /* test= */ true, 0));
  }

  @Test
  default void everyApply_changesTheVersionsOfTheMarksItTouches_only() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", W10, 1), use("s2", "k1", W10, 1)))));
    Map<String, Long> before = versions(store.touched(W10));

    store.apply(List.of(new UsageBatch("b2", List.of(use("s1", "k1", W10.plusSeconds(60), 1)))));

    Map<String, Long> after = versions(store.touched(W10));
    assertThat(after.get("s1")).as("a new apply must move the mark's version").isNotEqualTo(before.get("s1"));
    assertThat(after.get("s2")).as("an untouched mark keeps its version").isEqualTo(before.get("s2"));
  }

  private static Map<String, Long> versions(List<TouchedKey> keys) {
    Map<String, Long> v = new HashMap<>();
    keys.forEach(k -> v.put(k.subscriptionId(), k.version()));
    return v;
  }

  @Test
  default void retriedBatch_keepsTheWindowMarked_andIsNotCountedTwice() {
    S store = exportStore(HOUR);
    UsageBatch batch = new UsageBatch("retried", List.of(use("s1", "k1", W10, 2)));
    store.apply(List.of(batch));
    store.apply(List.of(batch, batch));

    assertThat(store.touched(W10)).extracting(TouchedKey::subscriptionId).containsExactly("s1");
    assertThat(calls(store, "s1", W10, W11)).as("a retried batch adds nothing").isEqualTo(2);

    exportOnce(store, W10);
    store.apply(List.of(batch));
    assertThat(calls(store, "s1", W10, W11)).as("nor does a retry after the export").isEqualTo(2);
  }

  @Test
  default void clearWithAStaleVersion_keepsTheMark_soUsageAppliedAfterTheReadIsExportedLater() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(use("s1", "k1", W10, 1), use("s2", "k1", W10, 1)))));
    List<TouchedKey> seen = store.touched(W10);
    assertThat(calls(store, "s1", W10, W11)).isEqualTo(1);

    // usage that lands while the exporter writes its records
    store.apply(List.of(new UsageBatch("b2", List.of(use("s1", "k1", W10.plusSeconds(600), 4)))));
    store.clearTouched(W10, seen);

    assertThat(store.touched(W10))
        .as("s1 changed after the read: its mark must stay; s2 did not: its mark goes")
        .extracting(TouchedKey::subscriptionId)
        .containsExactly("s1");
    assertThat(store.touchedWindows(W10, W11)).containsExactly(W10);
    assertThat(calls(store, "s1", W10, W11)).isEqualTo(5);
  }

  @Test
  default void clearFromAnOlderRead_keepsAMarkRecreatedAfterAnotherExporterCleared() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(use("s1", "k1", W10, 1)))));
    List<TouchedKey> slowExporter = store.touched(W10);
    exportOnce(store, W10); // a second exporter (its lease overlapped) reads and clears
    assertThat(store.touchedWindows(W10, W11)).isEmpty();

    store.apply(List.of(new UsageBatch("late", List.of(use("s1", "k1", W10.plusSeconds(60), 1)))));
    store.clearTouched(W10, slowExporter);

    assertThat(store.touched(W10))
        .as("the new mark is not the one the slow exporter read, even if it looks the same")
        .extracting(TouchedKey::subscriptionId)
        .containsExactly("s1");
  }

  @Test
  default void windowWhoseMarksWereAllCleared_isNoLongerListed() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", W10, 1), use("s2", "k2", W10, 1), use("s1", "k1", W11, 1)))));

    assertThat(exportOnce(store, W10)).hasSize(2);

    assertThat(store.touchedWindows(W10, W12)).containsExactly(W11);
    assertThat(store.touched(W10)).isEmpty();
  }

  @Test
  default void lateApplyToAnExportedWindow_marksItAgain_withAllItsUsageReadable() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(use("s1", "k1", W10.plusSeconds(900), 1)))));
    exportOnce(store, W10);

    // a journal replayed an hour later
    store.apply(List.of(new UsageBatch("replayed", List.of(use("s1", "k1", W10.plusSeconds(1800), 2)))));

    assertThat(store.touchedWindows(W10.minus(Duration.ofDays(7)), W12)).containsExactly(W10);
    assertThat(store.touched(W10)).extracting(TouchedKey::subscriptionId).containsExactly("s1");
    assertThat(calls(store, "s1", W10, W11)).isEqualTo(3);
  }

  @Test
  default void touchedWindows_listsWindowStartsFromInclusiveToExclusive() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", W10.plusSeconds(60), 1), use("s1", "k1", W11, 1), use("s1", "k1", W12, 1)))));

    assertThat(store.touchedWindows(W10, W12)).containsExactly(W10, W11);
    assertThat(store.touchedWindows(W10.plusMillis(1), W12.plusMillis(1)))
        .as("a window starting before from is out, one starting before to is in")
        .containsExactly(W11, W12);
    assertThat(store.touchedWindows(W10.plusNanos(1), W11.plusNanos(1))).containsExactly(W11);
    assertThat(store.touchedWindows(W11, W11)).isEmpty();
    assertThat(store.touchedWindows(W12.plus(HOUR), W12.plus(Duration.ofDays(7)))).isEmpty();
  }

  @Test
  default void oneMinuteWindows_markEachMinuteOnItsOwn() {
    S store = exportStore(Duration.ofMinutes(1));
    Instant m15 = at("2025-03-01T10:15:00Z");
    Instant m16 = m15.plusSeconds(60);
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", m15, 1), use("s1", "k1", m16, 1), use("s2", "k1", m16, 1)))));

    assertThat(store.exportWindow()).isEqualTo(Duration.ofMinutes(1));
    assertThat(store.touchedWindows(W10, W11)).containsExactly(m15, m16);
    assertThat(store.touched(m15)).extracting(TouchedKey::subscriptionId).containsExactly("s1");
    assertThat(store.touched(m16)).extracting(TouchedKey::subscriptionId).containsExactlyInAnyOrder("s1", "s2");

    exportOnce(store, m15);
    assertThat(store.touchedWindows(W10, W11)).containsExactly(m16);
    assertThat(store.minutes(List.of("s1"), m16, m16.plusSeconds(60)).get("s1"))
        .extracting(MinuteUsage::minuteStart)
        .containsExactly(m16.toEpochMilli());
  }

  @Test
  default void minutes_acrossDayAndWindowBoundaries_areOldestFirst_fromInclusiveToExclusive() {
    S store = exportStore(HOUR);
    store.apply(List.of(new UsageBatch("b1", List.of(
        use("s1", "k1", at("2025-03-02T01:00:00Z"), 6), use("s1", "k1", at("2025-03-02T00:00:00Z"), 4),
        use("s1", "k1", at("2025-03-01T23:59:00Z"), 3), use("s1", "k1", at("2025-03-01T22:59:00Z"), 1),
        use("s1", "k1", at("2025-03-01T23:58:00Z"), 2), use("s1", "k1", at("2025-03-02T00:01:00Z"), 5),
        use("s2", "k2", at("2025-03-01T23:59:00Z"), 7)))));

    Map<String, List<MinuteUsage>> m = store.minutes(
        List.of("s1", "s2", "nobody"), at("2025-03-01T23:58:00Z"), at("2025-03-02T01:00:00Z"));

    assertThat(m.get("s1"))
        .extracting(u -> Instant.ofEpochMilli(u.minuteStart()), u -> u.counts().calls())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(at("2025-03-01T23:58:00Z"), 2L),
            org.assertj.core.groups.Tuple.tuple(at("2025-03-01T23:59:00Z"), 3L),
            org.assertj.core.groups.Tuple.tuple(at("2025-03-02T00:00:00Z"), 4L),
            org.assertj.core.groups.Tuple.tuple(at("2025-03-02T00:01:00Z"), 5L));
    assertThat(m.get("s2")).containsExactly(new MinuteUsage(at("2025-03-01T23:59:00Z").toEpochMilli(),
        new UsageCounts(7, 70, 7, 21, 0)));
    assertThat(m.getOrDefault("nobody", List.of())).isEmpty();

    // whole days and part days in one range
    assertThat(store.minutes(List.of("s1"), at("2025-02-28T23:30:00Z"), at("2025-03-02T00:00:30Z")).get("s1"))
        .extracting(u -> u.counts().calls())
        .containsExactly(1L, 2L, 3L, 4L);
    assertThat(store.minutes(List.of("s1"), at("2025-03-01T00:00:00Z"), at("2025-03-03T00:00:00Z")).get("s1"))
        .extracting(u -> u.counts().calls())
        .containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
    assertThat(store.minutes(List.of("s1"), at("2025-03-01T23:58:00.001Z"), at("2025-03-02T00:00:00Z")).get("s1"))
        .as("a minute starting before from is out")
        .extracting(u -> u.counts().calls())
        .containsExactly(3L);
  }

  @Test
  default void minutes_ofBusyAndQuietDays_areExact_whicheverWayTheStoreReadsThem() {
    // Redis reads a big day hash field by field and a small one whole; both must agree.
    S store = exportStore(HOUR);
    Instant day = at("2025-03-01T00:00:00Z");
    List<UsageCell> busy = new ArrayList<>();
    for (int m = 0; m < 240; m++) {
      busy.add(use("busy", "k1", day.plusSeconds(60L * m), m + 1));
    }
    store.apply(List.of(new UsageBatch("busy", busy), new UsageBatch("quiet", List.of(
        use("quiet", "k2", at("2025-03-01T00:10:00Z"), 1), use("quiet", "k2", at("2025-03-01T01:30:00Z"), 2),
        use("quiet", "k2", at("2025-03-01T23:59:00Z"), 3)))));

    Map<String, List<MinuteUsage>> hour = store.minutes(
        List.of("busy", "quiet"), at("2025-03-01T01:00:00Z"), at("2025-03-01T02:00:00Z"));
    assertThat(hour.get("busy")).extracting(u -> u.counts().calls())
        .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(61, 120).boxed().toList());
    assertThat(hour.get("quiet")).containsExactly(new MinuteUsage(
        at("2025-03-01T01:30:00Z").toEpochMilli(), new UsageCounts(2, 20, 2, 6, 0)));

    Map<String, List<MinuteUsage>> wholeDay = store.minutes(List.of("busy", "quiet"), day, day.plus(Duration.ofDays(1)));
    assertThat(wholeDay.get("busy")).hasSize(240)
        .extracting(u -> u.counts().outputTokens()).endsWith(3L * 240);
    assertThat(wholeDay.get("quiet")).extracting(u -> u.counts().calls()).containsExactly(1L, 2L, 3L);

    Map<String, List<MinuteUsage>> minute = store.minutes(
        List.of("busy", "quiet"), at("2025-03-01T01:30:00Z"), at("2025-03-01T01:31:00Z"));
    assertThat(minute.get("busy")).extracting(u -> u.counts().calls()).containsExactly(91L);
    assertThat(minute.get("quiet")).extracting(u -> u.counts().calls()).containsExactly(2L);
  }

  @Test
  default void minutes_ofMoreSubscriptionsThanOneRound_areAllRead() {
    S store = exportStore(HOUR);
    int n = 601; // more than two rounds of reads (Redis: 250, JDBC: 500 per query)
    List<String> subs = new ArrayList<>();
    for (int i = 0; i < n; i += 100) {
      List<UsageCell> cells = new ArrayList<>();
      for (int j = i; j < Math.min(n, i + 100); j++) {
        subs.add("s" + j);
        cells.add(use("s" + j, "k1", W10.plusSeconds(60L * (j % 10)), j + 1));
      }
      store.apply(List.of(new UsageBatch("many" + i, cells)));
    }

    Map<String, List<MinuteUsage>> m = store.minutes(subs, W10, W10.plusSeconds(600));

    assertThat(m).hasSize(n);
    for (int i = 0; i < n; i++) {
      assertThat(m.get("s" + i)).as("s" + i)
          .containsExactly(new MinuteUsage(W10.toEpochMilli() + 60_000L * (i % 10),
              new UsageCounts(i + 1, 10L * (i + 1), i + 1, 3L * (i + 1), 0)));
    }
    assertThat(store.touched(W10)).hasSize(n);
  }

  @Test
  default void exportWindow_isWholeMinutesFromOneMinuteToSevenDays() {
    assertThat(exportStore(Duration.ofDays(7)).exportWindow()).isEqualTo(Duration.ofDays(7));
    for (Duration bad : List.of(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(90),
        Duration.ofDays(7).plusMinutes(1), Duration.ofMinutes(-60))) {
      assertThatThrownBy(() -> exportStore(bad)).as(bad.toString())
          .isInstanceOf(IllegalArgumentException.class);
    }
    S store = exportStore(HOUR);
    assertThatThrownBy(() -> store.touched(W10.plusSeconds(60)))
        .as("marks are kept per window start")
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Appliers and an exporter released together; each (window, subscription) gets one apply from
   * every applier at about the same time, so applies keep landing between the exporter's read
   * and its clear. The exporter keeps the last usage it read per (window, subscription), as the
   * ledger does; when everything is applied and no mark is left, that must be all the usage.
   */
  @Test
  default void exporterRacingAppliers_neverLosesAMarkWhoseUsageItDidNotRead() throws Exception {
    S store = exportStore(HOUR);
    int appliers = 3;
    int subs = 150;
    CyclicBarrier start = new CyclicBarrier(appliers + 1);
    AtomicBoolean applied = new AtomicBoolean();
    Map<String, Long> exported = new HashMap<>(); // "<window> <sub>" -> calls last read
    ExecutorService pool = Executors.newFixedThreadPool(appliers + 1);
    try {
      List<Future<?>> applying = new ArrayList<>();
      for (int t = 0; t < appliers; t++) {
        int thread = t;
        applying.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < subs; i++) {
            store.apply(List.of(new UsageBatch("t" + thread + "-" + i, List.of(
                use("s" + i, "k1", W10.plusSeconds(60L * thread), 1),
                use("s" + i, "k1", W11.plusSeconds(60L * thread), 1)))));
          }
          return null;
        }));
      }
      Future<Integer> exporter = pool.submit(() -> {
        start.await();
        int passes = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
          boolean done = applied.get();
          List<Instant> windows = store.touchedWindows(W10, W12);
          if (windows.isEmpty() && done) {
            return passes;
          }
          for (Instant w : windows) {
            List<TouchedKey> seen = store.touched(w);
            Map<String, List<MinuteUsage>> usage = store.minutes(
                seen.stream().map(TouchedKey::subscriptionId).toList(), w, w.plus(HOUR));
            usage.forEach((sub, minutes) -> exported.put(w + " " + sub,
                minutes.stream().mapToLong(u -> u.counts().calls()).sum()));
            Thread.sleep(1); // the records being written
            store.clearTouched(w, seen);
          }
          passes++;
        }
        throw new AssertionError("the exporter never caught up");
      });
      for (Future<?> f : applying) {
        f.get(120, TimeUnit.SECONDS);
      }
      applied.set(true);
      assertThat(exporter.get(120, TimeUnit.SECONDS)).as("exporter passes").isPositive();
    } finally {
      pool.shutdownNow();
    }
    Map<String, Long> lost = new HashMap<>(); // "<window> <sub>" -> calls never read
    for (Instant w : List.of(W10, W11)) {
      for (int i = 0; i < subs; i++) {
        long read = exported.getOrDefault(w + " s" + i, 0L);
        if (read != appliers) {
          lost.put(w + " s" + i, appliers - read);
        }
      }
    }
    assertThat(lost)
        .as("every apply's usage must have been read before its mark was cleared")
        .isEmpty();
  }
}
