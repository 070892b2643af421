package io.tollgate.gateway.catalog;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Objects;

/**
 * The prices of a SKU in force from {@code effectiveFrom}. Money is decimal, never float; only the
 * prices that the billing mode uses are set.
 *
 * @param price the package price (TOKEN_PACKAGE, CALL_PACKAGE)
 */
public record Prices(
    Instant effectiveFrom,
    String currency,
    BigDecimal inputPricePerMillion,
    BigDecimal outputPricePerMillion,
    BigDecimal pricePerCall,
    BigDecimal price) {

  public Prices {
    Objects.requireNonNull(effectiveFrom, "effectiveFrom");
    Objects.requireNonNull(currency, "currency");
    for (BigDecimal p : new BigDecimal[] {inputPricePerMillion, outputPricePerMillion, pricePerCall, price}) {
      if (p != null && p.signum() < 0) {
        throw new IllegalArgumentException("prices must not be negative: " + p);
      }
    }
  }
}
