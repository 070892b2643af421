package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** One contract for every {@link MeterStore}; subclasses supply a fresh, isolated store. */
abstract class MeterStoreContract {

  static final long T0 = Instant.parse("2025-03-01T10:15:00Z").toEpochMilli();
  static final Instant DAY_START = Instant.parse("2025-03-01T00:00:00Z");
  static final Instant NEXT_DAY = Instant.parse("2025-03-02T00:00:00Z");

  MeterStore store;

  abstract MeterStore createStore() throws Exception;

  abstract void dropStore() throws Exception;

  @BeforeEach
  void setUp() throws Exception {
    store = createStore();
  }

  @AfterEach
  void tearDown() throws Exception {
    dropStore();
  }

  static UsageCell cell(String sub, String sku, long minuteStart, long calls, long in, long out) {
    return new UsageCell(sub, sku, "prod-" + sku, "mer-1", "buyer-" + sub, false, minuteStart,
        new UsageCounts(calls, in, in / 2, out, 0));
  }

  @Test
  void appliedBatch_isCountedInTotals() {
    store.apply(List.of(new UsageBatch("b1", List.of(
        cell("s1", "k1", T0, 2, 100, 40), cell("s1", "k1", T0 + 60_000, 1, 10, 5)))));

    assertThat(store.totals("s1", DAY_START, NEXT_DAY))
        .isEqualTo(new UsageCounts(3, 110, 55, 45, 0));
  }

  @Test
  void sameBatchIdTwice_countsOnce() {
    UsageBatch batch = new UsageBatch("dup", List.of(cell("s1", "k1", T0, 1, 7, 3)));
    store.apply(List.of(batch));
    store.apply(List.of(batch));
    store.apply(List.of(batch, batch));

    assertThat(store.totals("s1", DAY_START, NEXT_DAY))
        .as("a retried batch must not be counted twice")
        .isEqualTo(new UsageCounts(1, 7, 3, 3, 0));
  }

  @Test
  void batchSpanningSubscriptions_appliesToEach_andRetryAddsNothing() {
    UsageBatch batch = new UsageBatch("multi", List.of(
        cell("s1", "k1", T0, 1, 10, 1), cell("s2", "k1", T0, 2, 20, 2),
        cell("s3", "k2", T0, 3, 30, 3)));
    store.apply(List.of(batch));
    store.apply(List.of(batch));

    assertThat(store.totals("s2", DAY_START, NEXT_DAY).calls()).isEqualTo(2);
    assertThat(store.usage(UsageSelector.sku("k1"), DAY_START, NEXT_DAY, Granularity.DAY))
        .extracting(b -> b.counts().calls()).containsExactly(3L);
    assertThat(store.usage(UsageSelector.merchant("mer-1"), DAY_START, NEXT_DAY, Granularity.DAY))
        .extracting(b -> b.counts().inputTokens()).containsExactly(60L);
    assertThat(store.usage(UsageSelector.product("prod-k2"), DAY_START, NEXT_DAY, Granularity.DAY))
        .extracting(b -> b.counts().outputTokens()).containsExactly(3L);
  }

  @Test
  void usage_isBucketedByGranularity_andBoundedByRange() {
    long h = 3_600_000L;
    store.apply(List.of(new UsageBatch("g", List.of(
        cell("s1", "k1", T0, 1, 1, 1), cell("s1", "k1", T0 + 60_000, 1, 1, 1),
        cell("s1", "k1", T0 + h, 1, 1, 1), cell("s1", "k1", T0 + 24 * h, 1, 1, 1)))));

    assertThat(store.usage(UsageSelector.subscription("s1"), DAY_START, NEXT_DAY, Granularity.MINUTE))
        .extracting(UsageBucket::start)
        .containsExactly(Instant.ofEpochMilli(T0), Instant.ofEpochMilli(T0 + 60_000),
            Instant.ofEpochMilli(T0 + h));
    assertThat(store.usage(UsageSelector.subscription("s1"), DAY_START, NEXT_DAY, Granularity.HOUR))
        .extracting(UsageBucket::start, b -> b.counts().calls())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(Instant.parse("2025-03-01T10:00:00Z"), 2L),
            org.assertj.core.groups.Tuple.tuple(Instant.parse("2025-03-01T11:00:00Z"), 1L));
    assertThat(store.usage(UsageSelector.subscription("s1"), DAY_START,
            NEXT_DAY.plusSeconds(86_400), Granularity.DAY))
        .extracting(b -> b.counts().calls()).containsExactly(3L, 1L);
    assertThat(store.totals("s1", Instant.ofEpochMilli(T0 + 60_000), Instant.ofEpochMilli(T0 + h)))
        .as("[from, to) includes from and excludes to")
        .extracting(UsageCounts::calls).isEqualTo(1L);
  }

  @Test
  void unknownSubscription_hasZeroTotals() {
    assertThat(store.totals("nobody", DAY_START, NEXT_DAY)).isEqualTo(UsageCounts.ZERO);
  }

  @Test
  void concurrentAppliersOfOverlappingBatches_countEachBatchOnce() throws Exception {
    // 4 threads each apply the same 30 batches in a different order, released together.
    int threads = 4;
    List<UsageBatch> batches = new ArrayList<>();
    long expectedCalls = 0;
    for (int b = 0; b < 30; b++) {
      batches.add(new UsageBatch("c" + b, List.of(
          cell("s1", "k1", T0 + (b % 3) * 60_000L, b + 1, b, b), cell("s2", "k1", T0, 1, 1, 1))));
      expectedCalls += b + 1;
    }
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        List<UsageBatch> mine = new ArrayList<>(batches);
        java.util.Collections.shuffle(mine, new Random(t));
        done.add(pool.submit(() -> {
          start.await();
          for (UsageBatch batch : mine) {
            store.apply(List.of(batch));
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
    assertThat(store.totals("s1", DAY_START, NEXT_DAY).calls()).isEqualTo(expectedCalls);
    assertThat(store.totals("s2", DAY_START, NEXT_DAY).calls()).isEqualTo(30);
  }
}
