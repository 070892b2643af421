package io.tollgate.metering.store;

/** Width of the buckets a usage query returns; buckets start at UTC minute, hour or day. */
public enum Granularity {
  MINUTE(60_000L),
  HOUR(3_600_000L),
  DAY(86_400_000L);

  private final long millis;

  Granularity(long millis) {
    this.millis = millis;
  }

  public long millis() {
    return millis;
  }

  /** The start of the bucket holding {@code epochMillis}. */
  public long bucketStart(long epochMillis) {
    return Math.floorDiv(epochMillis, millis) * millis;
  }
}
