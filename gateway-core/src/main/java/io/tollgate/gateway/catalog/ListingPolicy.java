package io.tollgate.gateway.catalog;

import java.time.Duration;
import java.util.Objects;

/**
 * The marketplace's listing settings ({@code catalog.*} in the configuration).
 *
 * @param reservedNames words a product name may not contain; defaults to {@link
 *     ReservedNames#DEFAULT} ({@code huawei}, {@code 华为})
 * @param supportFailuresToDelist missed support replies within {@link #SUPPORT_FAILURE_WINDOW}
 *     that delist a listed product; defaults to {@value #DEFAULT_SUPPORT_FAILURES_TO_DELIST}
 */
public record ListingPolicy(ReservedNames reservedNames, int supportFailuresToDelist) {

  public static final int DEFAULT_SUPPORT_FAILURES_TO_DELIST = 3;

  /** How far back missed support replies count towards a delisting. */
  public static final Duration SUPPORT_FAILURE_WINDOW = Duration.ofDays(90);

  public static final ListingPolicy DEFAULT =
      new ListingPolicy(ReservedNames.DEFAULT, DEFAULT_SUPPORT_FAILURES_TO_DELIST);

  public ListingPolicy {
    Objects.requireNonNull(reservedNames, "reservedNames");
    if (supportFailuresToDelist < 1) {
      throw new IllegalArgumentException("supportFailuresToDelist must be at least 1: " + supportFailuresToDelist);
    }
  }
}
