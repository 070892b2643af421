package io.tollgate.billing;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Objects;

/**
 * One exported record: what a billing job charges from. Immutable once exported; usage that
 * arrives for a window already exported becomes a new record of kind {@link
 * RecordKind#ADJUSTMENT} with the next {@code revision}, never a change to this one.
 *
 * <p>Quantities and {@code amount} are never negative. {@code amount} is exact (no rounding: the
 * invoice rounds to the currency's minor unit) and is {@code 0} for package usage and for test
 * subscriptions. A purchase has no calls or tokens; its window is the export window holding the
 * purchase time.
 *
 * @param id deterministic, see {@link RecordIds}
 * @param windowStart inclusive
 * @param windowEnd exclusive
 * @param revision 0 for the first usage record of a (subscription, SKU, window), then 1, 2, ...
 *     for its adjustments; 0 for a purchase
 * @param exportedAt when this record was written
 */
public record UsageRecord(
    String id,
    String subscriptionId,
    String buyerId,
    String merchantId,
    String productId,
    String skuId,
    Instant windowStart,
    Instant windowEnd,
    long calls,
    long inputTokens,
    long cachedInputTokens,
    long outputTokens,
    long estimatedTokens,
    BillingMode billingMode,
    BigDecimal amount,
    String currency,
    boolean test,
    RecordKind kind,
    int revision,
    Instant exportedAt) {

  public UsageRecord {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(windowStart, "windowStart");
    Objects.requireNonNull(windowEnd, "windowEnd");
    Objects.requireNonNull(billingMode, "billingMode");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(currency, "currency");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(exportedAt, "exportedAt");
    if (!windowEnd.isAfter(windowStart)) {
      throw new IllegalArgumentException("windowEnd must be after windowStart: " + windowStart + ".." + windowEnd);
    }
    if (calls < 0 || inputTokens < 0 || cachedInputTokens < 0 || outputTokens < 0 || estimatedTokens < 0) {
      throw new IllegalArgumentException("quantities must not be negative in record " + id);
    }
    if (cachedInputTokens > inputTokens) {
      throw new IllegalArgumentException("cachedInputTokens exceeds inputTokens in record " + id);
    }
    if (amount.signum() < 0) {
      throw new IllegalArgumentException("amount must not be negative in record " + id + ": " + amount);
    }
    if (revision < 0 || (kind == RecordKind.USAGE && revision != 0) || (kind == RecordKind.ADJUSTMENT && revision == 0)) {
      throw new IllegalArgumentException("revision " + revision + " does not fit kind " + kind + " in record " + id);
    }
    if (test && amount.signum() != 0) {
      throw new IllegalArgumentException("a test subscription's record must carry amount 0: " + id);
    }
  }

  /** The amount as it is written everywhere: a decimal string in plain notation, no exponent. */
  public String amountText() {
    return Pricing.plain(amount);
  }
}
