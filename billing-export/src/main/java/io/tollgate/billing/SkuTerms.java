package io.tollgate.billing;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What pricing needs to know of a SKU: how it is charged and its whole price history.
 *
 * @param history oldest first, at least one entry; each is in force until the next one's start
 */
public record SkuTerms(String skuId, BillingMode mode, List<PriceEntry> history) {

  public SkuTerms {
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(mode, "mode");
    history = List.copyOf(history);
    if (history.isEmpty()) {
      throw new IllegalArgumentException("SKU " + skuId + " has no prices");
    }
    for (int i = 1; i < history.size(); i++) {
      if (!history.get(i).effectiveFrom().isAfter(history.get(i - 1).effectiveFrom())) {
        throw new IllegalArgumentException("price history of " + skuId + " is not in order");
      }
    }
  }

  /**
   * The entry in force at {@code t}: the latest that started at or before it (the first entry for
   * a time before it, which only a clock skew between instances can produce).
   */
  public PriceEntry at(Instant t) {
    PriceEntry in = history.get(0);
    for (PriceEntry e : history) {
      if (e.effectiveFrom().isAfter(t)) {
        break;
      }
      in = e;
    }
    return in;
  }
}
