package io.tollgate.billing;

import java.time.Instant;
import java.util.Objects;

/**
 * A purchase or renewal of a package or PERIOD SKU, queued in the catalog's transaction ({@link
 * RecordLedger#enqueuePurchase}) and turned into a {@link RecordKind#PURCHASE} record by the
 * exporter, priced at {@code periodStart}.
 *
 * @param quantity the product of the SKU's chosen quantities; 1 where it has none
 */
public record PurchaseOrder(
    String subscriptionId,
    String skuId,
    String productId,
    String merchantId,
    String buyerId,
    boolean test,
    Instant periodStart,
    long quantity) {

  public PurchaseOrder {
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(periodStart, "periodStart");
    if (quantity < 1) {
      throw new IllegalArgumentException("quantity must be at least 1: " + quantity);
    }
  }
}
