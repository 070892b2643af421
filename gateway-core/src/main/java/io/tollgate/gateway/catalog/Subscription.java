package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/**
 * A buyer's purchase of a SKU. The API key itself is never stored, only its SHA-256.
 *
 * @param expiresAt end of the current period; null when the SKU has no period
 * @param quota quota of the current period (tokens or calls by the SKU's mode): the SKU's quota
 *     times the chosen quantities ({@link SubscriptionTerms}); null for none
 * @param test a merchant's test subscription (short expiry, small quota)
 * @param choices the attributes and quantities chosen at purchase; {@link PurchaseChoices#NONE}
 *     if null
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
    Long quota,
    PurchaseChoices choices) {

  public Subscription {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(buyerId, "buyerId");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(periodStart, "periodStart");
    buyerName = buyerName == null ? buyerId : buyerName;
    choices = choices == null ? PurchaseChoices.NONE : choices;
  }

  /** A subscription of a SKU without attributes or quantities: nothing chosen. */
  public Subscription(String id, String skuId, String buyerId, String buyerName, SubscriptionStatus status,
      boolean test, Instant createdAt, Instant periodStart, Instant expiresAt, Long quota) {
    this(id, skuId, buyerId, buyerName, status, test, createdAt, periodStart, expiresAt, quota, PurchaseChoices.NONE);
  }

  /** The status as of {@code now}: an ACTIVE subscription past its expiry is EXPIRED. */
  public SubscriptionStatus statusAt(Instant now) {
    if (status == SubscriptionStatus.ACTIVE && expiresAt != null && !now.isBefore(expiresAt)) {
      return SubscriptionStatus.EXPIRED;
    }
    return status;
  }

  /**
   * The machines a licence subscription may run on at once: the product of the chosen quantities
   * (e.g. {@code users}), 1 where the SKU has none.
   */
  public long seats() {
    return ChoiceRules.units(choices);
  }

  /** This subscription with {@code newStatus}; everything else as it is. */
  public Subscription withStatus(SubscriptionStatus newStatus) {
    return new Subscription(id, skuId, buyerId, buyerName, newStatus, test, createdAt, periodStart, expiresAt, quota,
        choices);
  }
}
