package io.tollgate.billing;

/**
 * The catalog's prices, as the exporter reads them. Implemented by the gateway over its catalog
 * (which billing-export does not know); blocking, called off event loops.
 */
@FunctionalInterface
public interface PriceBook {

  /** The SKU's billing mode and price history. Throws if the SKU does not exist. */
  SkuTerms terms(String skuId);
}
