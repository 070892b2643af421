package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.time.ZoneOffset;

/** A subscription's billing period. */
public enum Period {
  MONTH,
  YEAR;

  /** The end of a period starting at {@code start}, in calendar terms (UTC). */
  public Instant after(Instant start) {
    var t = start.atOffset(ZoneOffset.UTC);
    return (this == MONTH ? t.plusMonths(1) : t.plusYears(1)).toInstant();
  }
}
