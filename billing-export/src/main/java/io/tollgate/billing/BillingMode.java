package io.tollgate.billing;

/**
 * How a SKU is charged. Package modes carry a quota per period; {@link #PERIOD} (licences of
 * merchant software) is a price per period with no quota and no usage charge.
 */
public enum BillingMode {
  PER_TOKEN,
  PER_CALL,
  TOKEN_PACKAGE,
  CALL_PACKAGE,
  /** A price per period (MONTH or YEAR), paid at purchase and at each renewal; calls cost nothing. */
  PERIOD;

  public boolean isPackage() {
    return this == TOKEN_PACKAGE || this == CALL_PACKAGE;
  }

  /**
   * Whether the SKU is paid at purchase and at each renewal ({@code purchase} records, price x
   * quantity) rather than by its usage: the packages and PERIOD.
   */
  public boolean paidAtPurchase() {
    return isPackage() || this == PERIOD;
  }

  /** Whether quota and usage of this mode are measured in tokens (else in calls). */
  public boolean countsTokens() {
    return this == PER_TOKEN || this == TOKEN_PACKAGE;
  }
}
