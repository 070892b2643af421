package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * What recording a missed support reply did.
 *
 * @param failuresInWindow the product's missed replies within {@link
 *     ListingPolicy#SUPPORT_FAILURE_WINDOW}, this one included
 * @param product the product after the recording
 * @param delisted whether this failure delisted the product
 */
public record SupportFailureOutcome(SupportFailure failure, int failuresInWindow, Product product, boolean delisted) {
  public SupportFailureOutcome {
    Objects.requireNonNull(failure, "failure");
    Objects.requireNonNull(product, "product");
  }
}
