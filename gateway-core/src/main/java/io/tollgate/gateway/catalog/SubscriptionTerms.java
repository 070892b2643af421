package io.tollgate.gateway.catalog;

import java.time.Instant;

/**
 * What a purchase or a renewal grants: the period and quota of a subscription, in one place.
 *
 * <ul>
 *   <li>A package SKU's subscription gets the SKU's quota and one period from its start;
 *       pay-as-you-go has neither.
 *   <li>A merchant's test subscription lasts {@link CatalogRepository#TEST_PERIOD} with {@link
 *       CatalogRepository#TEST_TOKEN_QUOTA} tokens or {@link CatalogRepository#TEST_CALL_QUOTA}
 *       calls, or the package quota if that is smaller.
 *   <li>Renewing starts a new period now with the full quota; the expiry moves one period past the
 *       later of now and the old expiry, so renewing early loses no paid time. A test subscription
 *       runs its test period from now again.
 * </ul>
 */
final class SubscriptionTerms {

  private SubscriptionTerms() {}

  /** The expiry and quota of a subscription bought at {@code now}. */
  static Subscription purchase(Subscription bought, Sku sku, Instant now) {
    if (bought.test()) {
      return withTerms(bought, now, now.plus(CatalogRepository.TEST_PERIOD), testQuota(sku));
    }
    return withTerms(bought, now, sku.period() == null ? null : sku.period().after(now), sku.quota());
  }

  /** The subscription renewed at {@code now}. */
  static Subscription renewal(Subscription sub, Sku sku, Instant now) {
    if (sub.test()) {
      return withTerms(sub, now, now.plus(CatalogRepository.TEST_PERIOD), testQuota(sku));
    }
    if (sku.period() != null) {
      Instant from = sub.expiresAt() != null && sub.expiresAt().isAfter(now) ? sub.expiresAt() : now;
      return withTerms(sub, now, sku.period().after(from), sku.quota());
    }
    return withTerms(sub, now, sub.expiresAt(), sub.quota());
  }

  private static long testQuota(Sku sku) {
    long q = sku.mode().countsTokens() ? CatalogRepository.TEST_TOKEN_QUOTA : CatalogRepository.TEST_CALL_QUOTA;
    return sku.quota() != null ? Math.min(q, sku.quota()) : q;
  }

  private static Subscription withTerms(Subscription s, Instant periodStart, Instant expiresAt, Long quota) {
    return new Subscription(s.id(), s.skuId(), s.buyerId(), s.buyerName(), s.status(), s.test(), s.createdAt(),
        periodStart, expiresAt, quota);
  }
}
