package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * Everything the buyer port needs to admit and route one call, resolved from an API key's hash in
 * one repository read and cached (Caffeine) until an admin change invalidates it.
 */
public record SubscriptionSnapshot(Subscription subscription, Sku sku, Product product) {
  public SubscriptionSnapshot {
    Objects.requireNonNull(subscription, "subscription");
    Objects.requireNonNull(sku, "sku");
    Objects.requireNonNull(product, "product");
  }
}
