package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.tollgate.gateway.catalog.BillingMode;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.quota.Admission;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.RateDecision;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.quota.RateLimits;
import io.tollgate.metering.usage.TokenEstimator;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent.Outcome;
import io.tollgate.metering.usage.UsageExtractor;
import java.util.concurrent.CompletionStage;

/**
 * A call's admission against its subscription's limits and quota, and its accounting when it
 * ends: what the buyer port asks of metering, with no store round trip on the hot path.
 *
 * <p>Admission, for package SKUs, first reserves the call's estimated cost from the instance's
 * quota lease ({@link QuotaLeases}), then counts it against rpm/tpm; a call refused for quota
 * takes no rate budget (a used-up package would otherwise leave a renewed one rate-limited), and
 * a call the rate limit refuses gives its reservation back, also after waiting for a lease refill.
 * The end of the call settles the reservation against the actual cost (tokens or one call, only
 * for a billable call). The admission estimate
 * of a call's tokens is its request body's size / 4, a cheap over-estimate of the prompt that
 * needs no tokenizer; the settlement corrects it.
 *
 * <p>Usage: the upstream's report when there is one; a tokenizer estimate (marked estimated, and
 * counted in {@code tollgate.usage.estimated}) when it reported none, reported something not
 * believable, or the buyer went away before the end, in which case the buyer pays for the prompt
 * and for the completion text that was delivered.
 */
public final class CallMetering {

  private final QuotaLeases tokenQuota;
  private final QuotaLeases callQuota;
  private final RateLimiter limiter;
  private final Counter estimatedNone;
  private final Counter estimatedRejected;
  private final Counter estimatedAborted;

  /**
   * @param tokenQuota leases of TOKEN_PACKAGE quotas; null for no quota enforcement
   * @param callQuota leases of CALL_PACKAGE quotas; null for no quota enforcement
   * @param limiter rpm/tpm limits; null for none
   */
  public CallMetering(QuotaLeases tokenQuota, QuotaLeases callQuota, RateLimiter limiter, MeterRegistry registry) {
    this.tokenQuota = tokenQuota;
    this.callQuota = callQuota;
    this.limiter = limiter;
    this.estimatedNone = counter(registry, "none");
    this.estimatedRejected = counter(registry, "rejected");
    this.estimatedAborted = counter(registry, "aborted");
  }

  private static Counter counter(MeterRegistry registry, String reason) {
    return Counter.builder("tollgate.usage.estimated")
        .description("Calls whose tokens were estimated with the tokenizer, by reason")
        .tag("reason", reason)
        .register(registry);
  }

  /** What admission decided. */
  sealed interface Decision {}

  /** Admitted; {@code reserved} is what was taken from the quota lease (0 without a quota). */
  record Admitted(long reserved) implements Decision {}

  record Refused(ApiError error, long retryAfterSeconds) implements Decision {}

  /** A lease refill is in flight; completes on a store thread. */
  record Pending(CompletionStage<Decision> decision) implements Decision {}

  private static final Admitted FREE = new Admitted(0);

  static long estimateTokens(ByteBuf requestBody) {
    return Math.max(1, requestBody.readableBytes() / 4);
  }

  Decision admit(SubscriptionSnapshot snap, long estimatedTokens) {
    Sku sku = snap.sku();
    QuotaLeases q = quotaOf(sku.mode());
    Long quota = snap.subscription().quota();
    if (q == null || quota == null) {
      return withinRate(snap, estimatedTokens, FREE);
    }
    long cost = sku.mode() == BillingMode.TOKEN_PACKAGE ? estimatedTokens : 1;
    String period = periodKey(snap);
    return decide(snap, q, period, q.tryAdmit(snap.subscription().id(), period, quota, cost), cost, estimatedTokens);
  }

  /** Quota first, then the rate limits; may run on a store thread after a lease refill. */
  private Decision decide(SubscriptionSnapshot snap, QuotaLeases q, String period, Admission a, long cost,
      long estimatedTokens) {
    if (a instanceof Admission.Admitted) {
      Decision d = withinRate(snap, estimatedTokens, new Admitted(cost));
      if (d instanceof Refused) {
        q.settle(snap.subscription().id(), period, cost, 0); // the reservation goes back to the lease
      }
      return d;
    }
    if (a instanceof Admission.Pending pending) {
      return new Pending(pending.decision().thenApply(next -> decide(snap, q, period, next, cost, estimatedTokens)));
    }
    return new Refused(ApiError.quotaExhausted(), 0);
  }

  /** {@code admitted}, once the call is counted against rpm/tpm; or refused by them. */
  private Decision withinRate(SubscriptionSnapshot snap, long estimatedTokens, Decision admitted) {
    Sku sku = snap.sku();
    if (limiter != null && (sku.rpm() != null || sku.tpm() != null)) {
      RateDecision rd = limiter.tryAcquire(snap.subscription().id(), limits(sku), estimatedTokens);
      if (rd instanceof RateDecision.Limited limited) {
        return new Refused(ApiError.rateLimited(limited.limit(), limited.retryAfterSeconds()),
            limited.retryAfterSeconds());
      }
    }
    return admitted;
  }

  /** Settles the call's reservation and rate-limit estimate with what it actually used. */
  void settle(SubscriptionSnapshot snap, long reserved, long estimatedTokens, boolean billable, TokenUsage used) {
    Sku sku = snap.sku();
    String sub = snap.subscription().id();
    long tokens = billable ? used.totalTokens() : 0;
    if (limiter != null && (sku.rpm() != null || sku.tpm() != null)) {
      limiter.addTokens(sub, tokens - estimatedTokens);
    }
    QuotaLeases q = quotaOf(sku.mode());
    if (q != null && reserved > 0) {
      long actual = sku.mode() == BillingMode.TOKEN_PACKAGE ? tokens : billable ? 1 : 0;
      q.settle(sub, periodKey(snap), reserved, actual);
    }
  }

  /**
   * The tokens a call is accounted with. Reads the request body (the prompt) only when it must
   * estimate.
   */
  TokenUsage usage(SubscriptionSnapshot snap, Outcome outcome, int status, UsageExtractor extractor,
      ByteBuf requestBody) {
    if (status < 200 || status > 299 || outcome == Outcome.UPSTREAM_FAILED || extractor == null) {
      return TokenUsage.ZERO;
    }
    TokenUsage reported = extractor.reported();
    if (outcome == Outcome.COMPLETED && reported != null) {
      return reported;
    }
    TokenEstimator estimator = TokenEstimator.forEncoding(snap.product().tokenizer());
    TokenUsage estimate = estimator.estimate(snap.product().protocol().dialect(), requestBody,
        extractor.completionText());
    if (outcome == Outcome.BUYER_ABORTED) {
      estimatedAborted.increment();
      if (reported != null) {
        // The prompt as the upstream counted it; the output at least what was delivered.
        return new TokenUsage(reported.inputTokens(), reported.cachedInputTokens(),
            Math.max(reported.outputTokens(), estimate.outputTokens()), /* estimated= */ true);
      }
      return estimate;
    }
    (extractor.rejected() ? estimatedRejected : estimatedNone).increment();
    return estimate;
  }

  private QuotaLeases quotaOf(BillingMode mode) {
    return switch (mode) {
      case TOKEN_PACKAGE -> tokenQuota;
      case CALL_PACKAGE -> callQuota;
      default -> null;
    };
  }

  private static RateLimits limits(Sku sku) {
    return new RateLimits(sku.rpm() == null ? 0 : sku.rpm(), sku.tpm() == null ? 0 : sku.tpm());
  }

  /** A subscription period's key: its start; a renewal starts a new period, with a fresh quota. */
  static String periodKey(SubscriptionSnapshot snap) {
    return Long.toString(snap.subscription().periodStart().toEpochMilli());
  }
}
