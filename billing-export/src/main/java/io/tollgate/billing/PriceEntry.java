package io.tollgate.billing;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Objects;

/**
 * A SKU's prices in force from {@code effectiveFrom} until the next entry's. Only the prices the
 * billing mode uses are set; none is negative.
 *
 * @param cachedInputPricePerMillion PER_TOKEN only; null means the input price
 * @param price the package price (TOKEN_PACKAGE, CALL_PACKAGE) or the price per period (PERIOD), paid at purchase
 */
public record PriceEntry(
    Instant effectiveFrom,
    String currency,
    BigDecimal inputPricePerMillion,
    BigDecimal cachedInputPricePerMillion,
    BigDecimal outputPricePerMillion,
    BigDecimal pricePerCall,
    BigDecimal price) {

  public PriceEntry {
    Objects.requireNonNull(effectiveFrom, "effectiveFrom");
    Objects.requireNonNull(currency, "currency");
    for (BigDecimal p : new BigDecimal[] {inputPricePerMillion, cachedInputPricePerMillion, outputPricePerMillion,
        pricePerCall, price}) {
      if (p != null && p.signum() < 0) {
        throw new IllegalArgumentException("prices must not be negative: " + p);
      }
    }
  }
}
