package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * Everything the buyer port needs to admit and route one call, resolved from an API key's hash in
 * one repository read and cached (Caffeine) until an admin change invalidates it.
 *
 * @param merchant the product's merchant: its name and support contact are shown to the buyer
 * @param periodKey the key of the subscription's current period in the quota pool (its start in
 *     epoch millis): made once here, not per call
 */
public record SubscriptionSnapshot(Subscription subscription, Sku sku, Product product, Merchant merchant,
    String periodKey) {
  public SubscriptionSnapshot {
    Objects.requireNonNull(subscription, "subscription");
    Objects.requireNonNull(sku, "sku");
    Objects.requireNonNull(product, "product");
    Objects.requireNonNull(merchant, "merchant");
    Objects.requireNonNull(periodKey, "periodKey");
  }

  public SubscriptionSnapshot(Subscription subscription, Sku sku, Product product, Merchant merchant) {
    this(subscription, sku, product, merchant, Long.toString(subscription.periodStart().toEpochMilli()));
  }

  /**
   * A snapshot whose merchant is known by its id only (named by it, no support contact): for
   * snapshots built by hand, as tests and benchmarks of the buyer port do.
   */
  public SubscriptionSnapshot(Subscription subscription, Sku sku, Product product) {
    this(subscription, sku, product, new Merchant(product.merchantId(), product.merchantId(), null, null));
  }
}
