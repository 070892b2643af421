package io.tollgate.gateway.auth;

import java.util.Set;

/**
 * What a committed admin write changed that buyers can observe, named by the ids whose cached
 * subscription snapshots must be dropped: a subscription (suspended, resumed, cancelled, renewed,
 * re-keyed) or a product (edited, listed, delisted; a SKU edit names its product). Nothing else is
 * invalidated: a purchase issues a new key that no cache holds, so it changes nothing cached.
 */
public record CatalogChange(Set<String> subscriptionIds, Set<String> productIds) {

  /** A change no cache holds (a purchase, a new SKU, a price-only edit the price book handles). */
  public static final CatalogChange NONE = new CatalogChange(Set.of(), Set.of());

  public CatalogChange {
    subscriptionIds = Set.copyOf(subscriptionIds);
    productIds = Set.copyOf(productIds);
  }

  public static CatalogChange subscription(String id) {
    return new CatalogChange(Set.of(id), Set.of());
  }

  public static CatalogChange product(String id) {
    return new CatalogChange(Set.of(), Set.of(id));
  }

  public boolean isEmpty() {
    return subscriptionIds.isEmpty() && productIds.isEmpty();
  }
}
