package io.tollgate.gateway.catalog;

import java.util.Objects;

/** A merchant just created, with its admin token: the only time the token is available. */
public record CreatedMerchant(Merchant merchant, String token) {
  public CreatedMerchant {
    Objects.requireNonNull(merchant, "merchant");
    Objects.requireNonNull(token, "token");
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "CreatedMerchant[merchant=" + merchant + ", token=****]";
  }
}
