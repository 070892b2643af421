package io.tollgate.gateway.catalog;

import java.math.BigDecimal;
import java.util.Objects;

/**
 * What may change on a SKU, and how money is kept: the rules of {@link CatalogRepository#createSku}
 * and {@link CatalogRepository#updateSku} in one place.
 *
 * <ul>
 *   <li>Money has at most {@value CatalogRepository#MONEY_INTEGER_DIGITS} integer and {@value
 *       CatalogRepository#MONEY_SCALE} fractional digits, and is kept in its shortest exact form.
 *   <li>Once the product was first listed, or a buyer has subscribed if that came first (a
 *       merchant's test keys freeze nothing; see {@link ListingRules#skusFrozen}), the SKU's name,
 *       billing mode, currency, quota and period are what buyers buy: they cannot change.
 *   <li>Prices may change at any time, from the change on; the past is never rewritten.
 * </ul>
 */
final class SkuRules {

  private SkuRules() {}

  /**
   * Refuses a change of a field buyers bought.
   *
   * @throws CatalogException CONFLICT naming the first field that would change
   */
  static void refuseFrozenChanges(Sku old, Sku proposed, Prices proposedPrices) {
    refuseChange("name", old.name(), proposed.name());
    refuseChange("billing.mode", old.mode(), proposed.mode());
    refuseChange("billing.currency", old.prices().currency(), proposedPrices.currency());
    refuseChange("billing.quota", old.quota(), proposed.quota());
    refuseChange("billing.period", old.period(), proposed.period());
  }

  /**
   * A licence product sells PERIOD SKUs only, and PERIOD is for licence products only: its calls
   * are not billable, so a proxied API sold per period would be free to use.
   *
   * @throws IllegalArgumentException naming {@code billing.mode}
   */
  static void requireModeFits(Protocol protocol, io.tollgate.billing.BillingMode mode) {
    boolean licence = protocol == Protocol.LICENCE;
    boolean period = mode == io.tollgate.billing.BillingMode.PERIOD;
    if (licence && !period) {
      throw new IllegalArgumentException("billing.mode must be PERIOD for a licence product");
    }
    if (period && !licence) {
      throw new IllegalArgumentException("billing.mode PERIOD is only for licence products");
    }
  }

  private static void refuseChange(String field, Object old, Object proposed) {
    if (!Objects.equals(old, proposed)) {
      throw CatalogException.conflict(
          field + " cannot change once the product was listed or the SKU has subscriptions (is " + old + ")");
    }
  }

  /**
   * Refuses prices that would take effect before those in force: a change is effective from its
   * own time on, never back-dated.
   */
  static void refuseBackdating(Prices inForce, Prices proposed) {
    if (proposed.effectiveFrom().isBefore(inForce.effectiveFrom())) {
      throw CatalogException.conflict("prices cannot be back-dated: the prices in force since "
          + inForce.effectiveFrom() + " stay as they were");
    }
  }

  static boolean samePrices(Prices a, Prices b) {
    return a.currency().equals(b.currency())
        && sameMoney(a.inputPricePerMillion(), b.inputPricePerMillion())
        && sameMoney(a.cachedInputPricePerMillion(), b.cachedInputPricePerMillion())
        && sameMoney(a.outputPricePerMillion(), b.outputPricePerMillion())
        && sameMoney(a.pricePerCall(), b.pricePerCall())
        && sameMoney(a.price(), b.price());
  }

  private static boolean sameMoney(BigDecimal a, BigDecimal b) {
    return a == null ? b == null : b != null && a.compareTo(b) == 0;
  }

  /** @throws IllegalArgumentException when an amount does not fit NUMERIC(38,18) */
  static void checkMoney(Prices p) {
    for (BigDecimal v : new BigDecimal[] {p.inputPricePerMillion(), p.cachedInputPricePerMillion(),
        p.outputPricePerMillion(), p.pricePerCall(), p.price()}) {
      if (v != null && (v.stripTrailingZeros().scale() > CatalogRepository.MONEY_SCALE
          || v.precision() - v.scale() > CatalogRepository.MONEY_INTEGER_DIGITS)) {
        throw new IllegalArgumentException("money needs at most " + CatalogRepository.MONEY_INTEGER_DIGITS
            + " integer and " + CatalogRepository.MONEY_SCALE + " fractional digits: " + v.toPlainString());
      }
    }
  }

  /** Prices as they read back: times in microseconds, money in its shortest exact form. */
  static Prices normalized(Prices p) {
    return new Prices(Jdbc.micros(p.effectiveFrom()), p.currency(), Jdbc.shortest(p.inputPricePerMillion()),
        Jdbc.shortest(p.cachedInputPricePerMillion()), Jdbc.shortest(p.outputPricePerMillion()),
        Jdbc.shortest(p.pricePerCall()), Jdbc.shortest(p.price()));
  }
}
