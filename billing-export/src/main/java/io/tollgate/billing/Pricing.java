package io.tollgate.billing;

import io.tollgate.metering.store.MinuteUsage;
import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * Usage into money, exactly: BigDecimal throughout, no rounding (rounding to a currency's minor
 * unit belongs to the invoice). Each minute is priced with the entry in force at the start of
 * that minute, so a window that straddles a price change is priced per minute, then summed; a
 * change made mid-minute applies from the next whole minute.
 *
 * <ul>
 *   <li>PER_TOKEN: (input - cached) x input + cached x cached-input + output x output, per
 *       million tokens; the cached-input price defaults to the input price.
 *   <li>PER_CALL: calls x price per call.
 *   <li>Packages and PERIOD: 0; they were paid at purchase ({@link #purchase}).
 *   <li>Test subscriptions: 0, whatever the mode.
 * </ul>
 */
public final class Pricing {

  private Pricing() {}

  /** The amount of {@code minutes} of usage of a SKU with {@code terms}. */
  public static BigDecimal amount(SkuTerms terms, boolean test, List<MinuteUsage> minutes) {
    if (test || terms.mode().paidAtPurchase()) {
      return BigDecimal.ZERO;
    }
    BigDecimal sum = BigDecimal.ZERO;
    for (MinuteUsage m : minutes) {
      sum = sum.add(amount(terms.at(Instant.ofEpochMilli(m.minuteStart())), terms.mode(), m.counts()));
    }
    return sum;
  }

  /** The amount of usage {@code c} at prices {@code p}. */
  public static BigDecimal amount(PriceEntry p, BillingMode mode, UsageCounts c) {
    return switch (mode) {
      case PER_TOKEN -> {
        BigDecimal input = orZero(p.inputPricePerMillion());
        BigDecimal cached = p.cachedInputPricePerMillion() == null ? input : p.cachedInputPricePerMillion();
        long uncached = c.inputTokens() - c.cachedInputTokens();
        yield input.multiply(BigDecimal.valueOf(uncached))
            .add(cached.multiply(BigDecimal.valueOf(c.cachedInputTokens())))
            .add(orZero(p.outputPricePerMillion()).multiply(BigDecimal.valueOf(c.outputTokens())))
            .movePointLeft(6);
      }
      case PER_CALL -> orZero(p.pricePerCall()).multiply(BigDecimal.valueOf(c.calls()));
      case TOKEN_PACKAGE, CALL_PACKAGE, PERIOD -> BigDecimal.ZERO;
    };
  }

  /** What a purchase (or renewal) at {@code at} costs: the package or period price in force then, x quantity. */
  public static BigDecimal purchase(SkuTerms terms, boolean test, Instant at, long quantity) {
    if (test) {
      return BigDecimal.ZERO;
    }
    return orZero(terms.at(at).price()).multiply(BigDecimal.valueOf(quantity));
  }

  /**
   * A decimal string in plain notation with no trailing zeros after the point: {@code "0"},
   * {@code "0.00015"}, {@code "1200"}.
   */
  public static String plain(BigDecimal amount) {
    return amount.signum() == 0 ? "0" : amount.stripTrailingZeros().toPlainString();
  }

  private static BigDecimal orZero(BigDecimal b) {
    return b == null ? BigDecimal.ZERO : b;
  }
}
