package io.tollgate.billing;

import java.util.Locale;

/** What a usage record stands for. */
public enum RecordKind {
  /** The first record of a (subscription, SKU, window): its usage as exported when it closed. */
  USAGE,
  /** Usage of a window already exported that reached the meter store later: only the difference. */
  ADJUSTMENT,
  /** A package purchase or renewal: revenue at purchase, with no calls or tokens. */
  PURCHASE;

  /** {@code usage}, {@code adjustment}, {@code purchase}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The kind of a wire name; null if there is none. */
  public static RecordKind parse(String wireName) {
    for (RecordKind k : values()) {
      if (k.wireName().equals(wireName)) {
        return k;
      }
    }
    return null;
  }
}
