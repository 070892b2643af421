package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/**
 * A product's place in the listing review, changed only by {@link CatalogRepository#changeListing}
 * and {@link CatalogRepository#recordSupportFailure}: product writes leave it as stored.
 *
 * @param reviewNote the operator's reason for the last rejection or delisting; null once approved
 * @param firstListedAt when the product was first approved; never cleared, so a delisted product's
 *     SKUs stay frozen. Null if it never was listed
 */
public record Listing(ListingStatus status, String reviewNote, Instant firstListedAt) {

  /** A new product's: a draft, never listed. */
  public static final Listing DRAFT = new Listing(ListingStatus.DRAFT, null, null);

  public Listing {
    Objects.requireNonNull(status, "status");
  }
}
