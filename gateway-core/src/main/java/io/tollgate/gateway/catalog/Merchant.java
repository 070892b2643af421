package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.Objects;

/**
 * A seller on the marketplace; authenticates to the admin API with its token (stored hashed).
 *
 * @param support how buyers reach its support; {@link SupportContact#NONE} until it sets one
 */
public record Merchant(String id, String name, SupportContact support, Instant createdAt) {
  public Merchant {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(name, "name");
    support = support == null ? SupportContact.NONE : support;
  }
}
