package io.tollgate.metering.store;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Shared per-minute usage counters of all gateway instances.
 *
 * <p>Guarantees: {@link #apply} adds each batch's deltas at most once per batch id, atomically per
 * batch (Redis: per hash slot of a batch, each with its own derived id; see {@link
 * RedisMeterStore}); a failed or timed-out apply may have taken effect, and repeating it is safe.
 * Stores keep per-minute cells; hour and day buckets are summed at query time (writes happen
 * every flush on every instance, queries are rare admin and export reads, so we keep the write
 * side one increment per cell).
 *
 * <p>All methods block; call them from a flusher or worker thread, never from an event loop.
 */
public interface MeterStore extends AutoCloseable {

  /** Applies each batch that was not applied before. Throws {@link MeterStoreException}. */
  void apply(List<UsageBatch> batches);

  /** Buckets with any usage in {@code [from, to)}, oldest first. */
  List<UsageBucket> usage(UsageSelector selector, Instant from, Instant to, Granularity granularity);

  /** A subscription's usage in {@code [from, to)}. */
  default UsageCounts totals(String subscriptionId, Instant from, Instant to) {
    UsageCounts sum = UsageCounts.ZERO;
    for (UsageBucket b : usage(UsageSelector.subscription(subscriptionId), from, to, Granularity.DAY)) {
      sum = sum.plus(b.counts());
    }
    return sum;
  }

  @Override
  default void close() {}

  /** Sums per-minute counts into buckets of the given granularity, oldest first. */
  static List<UsageBucket> buckets(Map<Long, UsageCounts> perMinute, Granularity granularity) {
    TreeMap<Long, UsageCounts> sums = new TreeMap<>();
    perMinute.forEach(
        (minute, counts) -> sums.merge(granularity.bucketStart(minute), counts, UsageCounts::plus));
    return sums.entrySet().stream()
        .filter(e -> !e.getValue().isZero())
        .map(e -> new UsageBucket(Instant.ofEpochMilli(e.getKey()), e.getValue()))
        .toList();
  }
}
