package io.tollgate.gateway.catalog;

import java.time.Instant;

/**
 * What a purchase or a renewal grants: the period and quota of a subscription, in one place.
 *
 * <ul>
 *   <li>A package SKU's subscription gets one period from its start and the SKU's quota times the
 *       product of the chosen quantities ({@link ChoiceRules#units}): a package of 2 calls bought
 *       for 3 users holds 6 calls a period. Pay-as-you-go has neither period nor quota.
 *   <li>A merchant's test subscription lasts {@link CatalogRepository#TEST_PERIOD} with {@link
 *       CatalogRepository#TEST_TOKEN_QUOTA} tokens or {@link CatalogRepository#TEST_CALL_QUOTA}
 *       calls, or the package quota (times the quantities) if that is smaller.
 *   <li>Renewing starts a new period now with the full quota of the choices bought; the expiry
 *       moves one period past the later of now and the old expiry, so renewing early loses no paid
 *       time. A test subscription runs its test period from now again.
 * </ul>
 */
final class SubscriptionTerms {

  private SubscriptionTerms() {}

  /** The expiry and quota of a subscription bought at {@code now}. */
  static Subscription purchase(Subscription bought, Sku sku, Instant now) {
    if (bought.test()) {
      return withTerms(bought, now, now.plus(CatalogRepository.TEST_PERIOD), testQuota(sku, bought.choices()));
    }
    return withTerms(bought, now, sku.period() == null ? null : sku.period().after(now),
        packageQuota(sku, bought.choices()));
  }

  /** The subscription renewed at {@code now}. */
  static Subscription renewal(Subscription sub, Sku sku, Instant now) {
    if (sub.test()) {
      return withTerms(sub, now, now.plus(CatalogRepository.TEST_PERIOD), testQuota(sku, sub.choices()));
    }
    if (sku.period() != null) {
      Instant from = sub.expiresAt() != null && sub.expiresAt().isAfter(now) ? sub.expiresAt() : now;
      return withTerms(sub, now, sku.period().after(from), packageQuota(sku, sub.choices()));
    }
    return withTerms(sub, now, sub.expiresAt(), sub.quota());
  }

  /**
   * The SKU's quota times the chosen quantities; null without a quota.
   *
   * @throws IllegalArgumentException naming {@code quantities} when the product overflows
   */
  static Long packageQuota(Sku sku, PurchaseChoices choices) {
    if (sku.quota() == null) {
      return null;
    }
    try {
      return Math.multiplyExact(sku.quota(), ChoiceRules.units(choices));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("quantities: the package quota (" + sku.quota()
          + ") times the chosen quantities is too large");
    }
  }

  private static Long testQuota(Sku sku, PurchaseChoices choices) {
    if (sku.mode() == io.tollgate.billing.BillingMode.PERIOD) {
      return null; // a licence has seats, not a quota
    }
    long q = sku.mode().countsTokens() ? CatalogRepository.TEST_TOKEN_QUOTA : CatalogRepository.TEST_CALL_QUOTA;
    Long pkg = packageQuota(sku, choices);
    return pkg != null ? Math.min(q, pkg) : q;
  }

  private static Subscription withTerms(Subscription s, Instant periodStart, Instant expiresAt, Long quota) {
    return new Subscription(s.id(), s.skuId(), s.buyerId(), s.buyerName(), s.status(), s.test(), s.createdAt(),
        periodStart, expiresAt, quota, s.choices());
  }
}
