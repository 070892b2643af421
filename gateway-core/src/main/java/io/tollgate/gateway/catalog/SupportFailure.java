package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/** A support reply the merchant of a product missed, as the operator recorded it. */
public record SupportFailure(String id, String productId, String note, Instant createdAt) {
  public SupportFailure {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(productId, "productId");
    Objects.requireNonNull(note, "note");
    Objects.requireNonNull(createdAt, "createdAt");
  }
}
