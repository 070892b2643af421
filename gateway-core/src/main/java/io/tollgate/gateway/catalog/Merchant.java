package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/** A seller on the marketplace; authenticates to the admin API with its token (stored hashed). */
public record Merchant(String id, String name, Instant createdAt) {
  public Merchant {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(name, "name");
  }
}
