package io.tollgate.gateway.auth;

/**
 * Tells every gateway instance that the catalog changed in a way buyers see (a suspended,
 * cancelled, renewed or re-keyed subscription, an edited product or SKU), so each drops the cached
 * subscription snapshots of what changed, and only those. {@link #local} serves a single instance;
 * {@link RedisCatalogChanges} fans out over Redis pub/sub.
 */
public interface CatalogChanges extends AutoCloseable {

  /** Announces a committed change; the local instance is invalidated before this returns. */
  void publish(CatalogChange change);

  @Override
  default void close() {}

  /** A single instance: a change invalidates what it names in this instance's cache only. */
  static CatalogChanges local(SubscriptionCache cache) {
    return cache::invalidate;
  }
}
