package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * Everything the buyer port needs to admit and route one call, resolved from an API key's hash in
 * one repository read and cached (Caffeine) until an admin change invalidates it.
 *
 * @param periodKey the key of the subscription's current period in the quota pool (its start in
 *     epoch millis): made once here, not per call
 */
public record SubscriptionSnapshot(Subscription subscription, Sku sku, Product product, String periodKey) {
  public SubscriptionSnapshot {
    Objects.requireNonNull(subscription, "subscription");
    Objects.requireNonNull(sku, "sku");
    Objects.requireNonNull(product, "product");
    Objects.requireNonNull(periodKey, "periodKey");
  }

  public SubscriptionSnapshot(Subscription subscription, Sku sku, Product product) {
    this(subscription, sku, product, Long.toString(subscription.periodStart().toEpochMilli()));
  }
}
