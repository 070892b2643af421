package io.tollgate.metering.usage;

import java.util.Objects;
import java.util.UUID;

/**
 * What one call through the gateway consumed, emitted once per call when it ends.
 *
 * <p>Only a {@link #billable()} event counts towards a subscription's usage: the upstream answered
 * 2xx and the buyer received the answer (or the part of it the buyer let through, when it cut the
 * call short). Every other event still counts as a call in metrics.
 *
 * @param requestId the id sent upstream as {@code X-Request-Id}; the idempotency key of the call
 * @param epochMillis when the call ended
 * @param status the HTTP status the buyer received
 */
public record UsageEvent(
    UUID requestId,
    String subscriptionId,
    String skuId,
    String productId,
    String merchantId,
    String buyerId,
    long epochMillis,
    int status,
    Outcome outcome,
    TokenUsage tokens,
    boolean test) {

  /** How a call ended. */
  public enum Outcome {
    /** The buyer received the upstream's whole answer. */
    COMPLETED,
    /** The buyer went away before the answer ended; billed for what was delivered. */
    BUYER_ABORTED,
    /** The upstream failed, timed out or broke off the answer. */
    UPSTREAM_FAILED
  }

  public UsageEvent {
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(subscriptionId, "subscriptionId");
    Objects.requireNonNull(skuId, "skuId");
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(tokens, "tokens");
    if (epochMillis <= 0) {
      throw new IllegalArgumentException("epochMillis must be positive: " + epochMillis);
    }
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("status out of range: " + status);
    }
  }

  /** A 2xx answer that reached the buyer, whole or in part. */
  public boolean billable() {
    return status >= 200 && status < 300 && outcome != Outcome.UPSTREAM_FAILED;
  }
}
