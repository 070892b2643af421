package io.tollgate.gateway.catalog;

import java.util.Locale;

/**
 * A step of the listing review: the merchant submits, the operator approves, rejects or delists.
 * {@link ListingRules#next} says from which status each applies.
 */
public enum ListingAction {
  SUBMIT,
  APPROVE,
  REJECT,
  DELIST;

  /** The name on the wire and in the route: {@code submit}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
