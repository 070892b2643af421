package io.tollgate.billing;

import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.util.Objects;

/**
 * A (subscription, SKU)'s whole usage in one export window as the meter store holds it now,
 * priced: what the records of that window must add up to.
 */
public record WindowUsage(
    String subscriptionId,
    String skuId,
    String productId,
    String merchantId,
    String buyerId,
    boolean test,
    BillingMode billingMode,
    String currency,
    UsageCounts counts,
    BigDecimal amount) {

  public WindowUsage {
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(billingMode, "billingMode");
    Objects.requireNonNull(currency, "currency");
    Objects.requireNonNull(counts, "counts");
    Objects.requireNonNull(amount, "amount");
  }
}
