package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * A subscription with a freshly issued API key (on creation or rotation): the only time the key is
 * available; the catalog keeps its SHA-256 alone.
 */
public record IssuedKey(Subscription subscription, String apiKey) {
  public IssuedKey {
    Objects.requireNonNull(subscription, "subscription");
    Objects.requireNonNull(apiKey, "apiKey");
  }

  /** Never prints the key. */
  @Override
  public String toString() {
    return "IssuedKey[subscription=" + subscription + ", apiKey=****]";
  }
}
