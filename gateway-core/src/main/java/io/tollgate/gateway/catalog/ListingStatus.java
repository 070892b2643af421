package io.tollgate.gateway.catalog;

import java.util.Locale;

/**
 * Where a product stands in the marketplace's review: {@code draft} (new, or rejected) ->
 * {@code pending_review} -> {@code listed}, and {@code delisted} by an operator. Only a listed
 * product can be bought; see {@link ListingRules}.
 */
public enum ListingStatus {
  DRAFT,
  PENDING_REVIEW,
  LISTED,
  DELISTED;

  /** The name on the wire: {@code pending_review}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The status named {@code wire} ({@code draft}, {@code pending_review}, ...), or null. */
  public static ListingStatus parse(String wire) {
    for (ListingStatus s : values()) {
      if (s.wireName().equals(wire)) {
        return s;
      }
    }
    return null;
  }
}
