package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/**
 * A buyer's purchase of a SKU. The API key itself is never stored, only its SHA-256.
 *
 * @param expiresAt end of the current period; null when the SKU has no period
 * @param quota quota of the current period (tokens or calls by the SKU's mode), null for none
 * @param test a merchant's test subscription (short expiry, small quota)
 */
public record Subscription(
    String id,
    String skuId,
    String buyerId,
    String buyerName,
    SubscriptionStatus status,
    boolean test,
    Instant createdAt,
    Instant periodStart,
    Instant expiresAt,
    Long quota) {

  public Subscription {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(buyerId, "buyerId");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(periodStart, "periodStart");
    buyerName = buyerName == null ? buyerId : buyerName;
  }

  /** The status as of {@code now}: an ACTIVE subscription past its expiry is EXPIRED. */
  public SubscriptionStatus statusAt(Instant now) {
    if (status == SubscriptionStatus.ACTIVE && expiresAt != null && !now.isBefore(expiresAt)) {
      return SubscriptionStatus.EXPIRED;
    }
    return status;
  }
}
