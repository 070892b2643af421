package io.tollgate.gateway.catalog;

/**
 * Which subscriptions a list selects; every null field selects all. {@code merchantId} scopes the
 * list to the subscriptions of one merchant's SKUs (what a merchant may see).
 *
 * @param status as {@link Subscription#statusAt} shows it now: EXPIRED selects active
 *     subscriptions past their expiry, ACTIVE only those before it
 */
public record SubscriptionFilter(
    String merchantId, String skuId, String productId, String buyerId, SubscriptionStatus status, Boolean test) {

  /** Every subscription. */
  public static final SubscriptionFilter ALL = new SubscriptionFilter(null, null, null, null, null, null);
}
