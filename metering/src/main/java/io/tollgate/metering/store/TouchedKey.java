package io.tollgate.metering.store;

import java.util.Objects;

/**
 * A subscription whose usage changed in an export window since the exporter last cleared it, with
 * the dimensions fixed by its subscription and SKU, and the mark's {@code version}: every apply
 * that touches the window changes it to a value the mark never had (a re-created mark does not
 * start over), so {@link ExportSource#clearTouched} removes only the marks that did not change
 * after the exporter read them. Compare versions for equality only: they are not always rising.
 */
public record TouchedKey(
    String subscriptionId,
    String skuId,
    String productId,
    String merchantId,
    String buyerId,
    boolean test,
    long version) {

  public TouchedKey {
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
  }
}
