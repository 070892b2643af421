package io.tollgate.gateway.account;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.billing.Pricing;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;

/**
 * Subscriptions on the wire. {@code status} is lower case and computed at the time of the
 * response (an active subscription past {@code expiresAt} shows {@code expired}); {@code
 * remaining} is the quota left in the current period, in tokens or calls by the SKU's billing
 * mode, or null when the subscription has no quota. {@code usage} is the current period's, with
 * {@code amount} (a decimal string) in the SKU's {@code currency}: what the usage costs, priced as
 * its usage records are ("0" for packages, paid at purchase, and for test subscriptions). {@code
 * attributes} and {@code quantities} are what was chosen at purchase, under the names the purchase
 * sent them with ({@code {"edition":"pro"}}, {@code {"users":3}}); {@code quota} already counts
 * the quantities.
 * {@code merchant} is who sells it and how its buyers reach support ({@code name}, {@code
 * supportPhone}, {@code supportEmail}), {@code product} what it is ({@code id}, {@code name}, and
 * its listing {@code status}: a subscription keeps working until it ends when its product is
 * delisted, but cannot be renewed).
 */
public final class SubscriptionJson {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The fields {@code POST /admin/v1/subscriptions} takes. */
  public static final Set<String> CREATE_FIELDS =
      Set.of("skuId", "buyerId", "buyerName", "test", "attributes", "quantities");

  private SubscriptionJson() {}

  /** A subscription with what it is entitled to, as both ports show it. */
  public static ObjectNode render(SubscriptionSnapshot snap, Entitlements.Entitlement entitlement, Instant now) {
    UsageView.Usage usage = entitlement.usage();
    var s = snap.subscription();
    ObjectNode o = JSON.createObjectNode();
    o.put("id", s.id());
    o.put("object", "subscription");
    o.put("skuId", s.skuId());
    o.put("productId", snap.product().id());
    o.put("buyerId", s.buyerId());
    o.put("buyerName", s.buyerName());
    o.put("status", s.statusAt(now).name().toLowerCase(Locale.ROOT));
    o.put("test", s.test());
    o.put("billingMode", snap.sku().mode().name());
    ObjectNode attributes = o.putObject("attributes");
    s.choices().attributes().forEach(attributes::put);
    ObjectNode quantities = o.putObject("quantities");
    s.choices().quantities().forEach(quantities::put);
    o.put("createdAt", s.createdAt().toString());
    o.put("periodStart", s.periodStart().toString());
    o.put("expiresAt", s.expiresAt() == null ? null : s.expiresAt().toString());
    if (s.quota() == null) {
      o.putNull("quota");
      o.putNull("remaining");
    } else {
      o.put("quota", s.quota());
      o.put("remaining", entitlement.remaining());
    }
    ObjectNode u = o.putObject("usage");
    u.put("calls", usage.calls());
    u.put("inputTokens", usage.inputTokens());
    u.put("outputTokens", usage.outputTokens());
    u.put("totalTokens", usage.totalTokens());
    u.put("amount", Pricing.plain(usage.amount()));
    u.put("currency", snap.sku().prices().currency());
    ObjectNode merchant = o.putObject("merchant");
    merchant.put("name", snap.merchant().name());
    merchant.put("supportPhone", snap.merchant().support().phone());
    merchant.put("supportEmail", snap.merchant().support().email());
    ObjectNode product = o.putObject("product");
    product.put("id", snap.product().id());
    product.put("name", snap.product().name());
    product.put("status", snap.product().status().wireName());
    return o;
  }
}
