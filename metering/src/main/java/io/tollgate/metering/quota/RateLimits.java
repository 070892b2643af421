package io.tollgate.metering.quota;

/** A SKU's limits per minute; 0 means unlimited. */
public record RateLimits(long rpm, long tpm) {

  public static final RateLimits UNLIMITED = new RateLimits(0, 0);

  public RateLimits {
    if (rpm < 0 || tpm < 0) {
      throw new IllegalArgumentException("limits must not be negative: rpm=" + rpm + " tpm=" + tpm);
    }
  }
}
