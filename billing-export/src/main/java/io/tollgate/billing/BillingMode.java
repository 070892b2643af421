package io.tollgate.billing;

/** How a SKU is charged. Package modes carry a quota per period. */
public enum BillingMode {
  PER_TOKEN,
  PER_CALL,
  TOKEN_PACKAGE,
  CALL_PACKAGE;

  public boolean isPackage() {
    return this == TOKEN_PACKAGE || this == CALL_PACKAGE;
  }

  /** Whether quota and usage of this mode are measured in tokens (else in calls). */
  public boolean countsTokens() {
    return this == PER_TOKEN || this == TOKEN_PACKAGE;
  }
}
