package io.tollgate.gateway.catalog;

import io.tollgate.billing.PriceEntry;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Objects;

/**
 * The prices of a SKU in force from {@code effectiveFrom}. Money is decimal, never float; only the
 * prices that the billing mode uses are set.
 *
 * @param cachedInputPricePerMillion PER_TOKEN only, optional: the price of input tokens read from
 *     the upstream's prompt cache; null means the input price
 * @param price the package price (TOKEN_PACKAGE, CALL_PACKAGE)
 */
public record Prices(
    Instant effectiveFrom,
    String currency,
    BigDecimal inputPricePerMillion,
    BigDecimal cachedInputPricePerMillion,
    BigDecimal outputPricePerMillion,
    BigDecimal pricePerCall,
    BigDecimal price) {

  public Prices {
    Objects.requireNonNull(effectiveFrom, "effectiveFrom");
    Objects.requireNonNull(currency, "currency");
    for (BigDecimal p :
        new BigDecimal[] {inputPricePerMillion, cachedInputPricePerMillion, outputPricePerMillion, pricePerCall,
            price}) {
      if (p != null && p.signum() < 0) {
        throw new IllegalArgumentException("prices must not be negative: " + p);
      }
    }
  }

  /** Prices without a cached-input price (it defaults to the input price). */
  public Prices(Instant effectiveFrom, String currency, BigDecimal inputPricePerMillion,
      BigDecimal outputPricePerMillion, BigDecimal pricePerCall, BigDecimal price) {
    this(effectiveFrom, currency, inputPricePerMillion, null, outputPricePerMillion, pricePerCall, price);
  }

  /** These prices as billing's {@link io.tollgate.billing.Pricing} reads them. */
  public PriceEntry entry() {
    return new PriceEntry(effectiveFrom, currency, inputPricePerMillion, cachedInputPricePerMillion,
        outputPricePerMillion, pricePerCall, price);
  }
}
