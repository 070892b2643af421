package io.tollgate.gateway.catalog;

/** The lifecycle of a subscription. Only ACTIVE (and not past its expiry) may call. */
public enum SubscriptionStatus {
  ACTIVE,
  SUSPENDED,
  EXPIRED,
  CANCELLED
}
