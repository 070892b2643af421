package io.tollgate.gateway.admin;

import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.UsageBucket;
import io.tollgate.metering.store.UsageSelector;
import java.time.Instant;
import java.util.List;

/**
 * Usage over time for {@code GET /admin/v1/usage}: the meter store's query ({@code
 * MeterStore::usage}). Called on a worker thread; may block.
 */
@FunctionalInterface
public interface UsageHistory {

  /** Buckets with any usage in {@code [from, to)}, oldest first. */
  List<UsageBucket> usage(UsageSelector selector, Instant from, Instant to, Granularity granularity);
}
