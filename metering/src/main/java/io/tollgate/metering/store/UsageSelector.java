package io.tollgate.metering.store;

import java.util.Objects;

/** Which usage a query sums: one subscription's, one SKU's, one product's or one merchant's. */
public record UsageSelector(Dimension dimension, String id) {

  /** The dimension a selector filters on. */
  public enum Dimension {
    SUBSCRIPTION,
    SKU,
    PRODUCT,
    MERCHANT
  }

  public UsageSelector {
    Objects.requireNonNull(dimension, "dimension");
    Objects.requireNonNull(id, "id");
    if (id.isEmpty()) {
      throw new IllegalArgumentException("selector id must not be empty");
    }
  }

  public static UsageSelector subscription(String id) {
    return new UsageSelector(Dimension.SUBSCRIPTION, id);
  }

  public static UsageSelector sku(String id) {
    return new UsageSelector(Dimension.SKU, id);
  }

  public static UsageSelector product(String id) {
    return new UsageSelector(Dimension.PRODUCT, id);
  }

  public static UsageSelector merchant(String id) {
    return new UsageSelector(Dimension.MERCHANT, id);
  }
}
