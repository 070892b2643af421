package io.tollgate.gateway.catalog;

import io.tollgate.metering.usage.Dialect;
import java.util.Locale;

/** The API a product's endpoints speak; decides the buyer paths it serves and its usage shape. */
public enum Protocol {
  OPENAI(Dialect.OPENAI),
  ANTHROPIC(Dialect.ANTHROPIC),
  CUSTOM(Dialect.CUSTOM),
  /**
   * Merchant software sold per period: nothing is proxied; the buyer's key is a licence code that
   * the software checks on the licence API ({@code /licence/v1/*}). Its dialect is never read.
   */
  LICENCE(Dialect.CUSTOM);

  private final Dialect dialect;
  private final String wireName;

  Protocol(Dialect dialect) {
    this.dialect = dialect;
    this.wireName = name().toLowerCase(Locale.ROOT);
  }

  public Dialect dialect() {
    return dialect;
  }

  /** The lower-case name used in JSON and the database. */
  public String wireName() {
    return wireName; // made once: metrics and the access log read it per call
  }

  /** Parses {@code openai}, {@code anthropic}, {@code custom} or {@code licence}, in any case; null if unknown. */
  public static Protocol parse(String s) {
    if (s == null) {
      return null;
    }
    for (Protocol p : values()) {
      if (p.name().equalsIgnoreCase(s)) {
        return p;
      }
    }
    return null;
  }
}
