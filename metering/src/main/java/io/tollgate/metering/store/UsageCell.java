package io.tollgate.metering.store;

import java.util.Objects;

/**
 * Usage of one subscription and SKU in one UTC minute. productId, merchantId, buyerId and test are
 * fixed by the subscription and SKU; they ride along so that stores can answer queries by product
 * or merchant.
 *
 * @param minuteStart epoch millis of the minute's start (a multiple of 60 000)
 */
public record UsageCell(
    String subscriptionId,
    String skuId,
    String productId,
    String merchantId,
    String buyerId,
    boolean test,
    long minuteStart,
    UsageCounts counts) {

  public UsageCell {
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(counts, "counts");
    if (minuteStart < 0 || minuteStart % 60_000 != 0) {
      throw new IllegalArgumentException("minuteStart must be a whole UTC minute: " + minuteStart);
    }
  }
}
