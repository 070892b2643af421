package io.tollgate.gateway.proxy;

import io.tollgate.gateway.api.ApiError;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.quota.Admission;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.RateDecision;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.quota.RateLimits;
import io.tollgate.metering.quota.RateStatus;
import io.tollgate.metering.usage.TokenEstimator;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent.Outcome;
import io.tollgate.metering.usage.UsageExtractor;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Each admitted call holds what it took until it ends: its {@link Admitted} settles exactly once
 * (a second settlement does nothing), and a call that ends without being billable, on any path,
 * gives its reservation and its rate-limit token estimate back ({@link Admitted#release()}).
 *
 * <p>Usage: the upstream's report when there is one; a tokenizer estimate (marked estimated, and
 * counted in {@code tollgate.usage.estimated}) when it reported none, reported something not
 * believable, or the buyer went away before the end, in which case the buyer pays for the prompt
 * and for the completion text that was delivered.
 *
 * <p>Estimates run on a small pool of their own, never on an event loop: the tokenizer needs
 * about 0.1 s per megabyte of prompt (an 8.3 MB prompt took 0.87 s), and on a loop that stalled
 * every connection of the loop. The pool's queue is bounded; when it is full (or the tokenizer
 * fails) the call is estimated from sizes instead, bytes / 4 for the prompt and characters / 4 for
 * the delivered text, still marked estimated and counted in {@code
 * tollgate.usage.estimate.fallback}: usage is never dropped, and the loop never waits. A call
 * whose usage was reported never touches the pool.
 */
public final class CallMetering implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CallMetering.class);

  /**
   * Estimate workers: half the cores, one to two. Each tokenizes about 10 MB of prompt a second;
   * more would take the cores the event loops need (on 2 cores, 2 busy workers doubled the slow
   * tail of the loop's other calls).
   */
  static final int ESTIMATE_THREADS = Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors() / 2));
  /** Estimates that may wait; each holds its call's prompt, so the bound is a memory bound too. */
  static final int ESTIMATE_QUEUE = 256;
  /** How long {@link #close()} waits for the estimates in flight. */
  static final long CLOSE_WAIT_SECONDS = 10;

  private final QuotaLeases tokenQuota;
  private final QuotaLeases callQuota;
  private final RateLimiter limiter;
  private final Counter estimatedNone;
  private final Counter estimatedRejected;
  private final Counter estimatedAborted;
  private final Counter estimateFallbacks;
  private final AtomicInteger pendingEstimates = new AtomicInteger();
  private final ThreadPoolExecutor estimates;

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
    this.estimateFallbacks = Counter.builder("tollgate.usage.estimate.fallback")
        .description("Calls estimated from sizes (bytes / 4) because the estimate pool was full or the tokenizer failed")
        .register(registry);
    registry.gauge("tollgate.usage.estimate.pending", pendingEstimates);
    // Netty threads: a worker frees prompts (pooled buffers) into its own buffer cache, which
    // goes back to the pool when the idle worker stops.
    this.estimates = new ThreadPoolExecutor(ESTIMATE_THREADS, ESTIMATE_THREADS, 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(ESTIMATE_QUEUE), new DefaultThreadFactory("tollgate-estimate", /* daemon= */ true));
    // Threads start with the first estimate and stop when idle: most calls report their usage.
    estimates.allowCoreThreadTimeOut(true);
  }

  private static Counter counter(MeterRegistry registry, String reason) {
    return Counter.builder("tollgate.usage.estimated")
        .description("Calls whose tokens were estimated, by reason")
        .tag("reason", reason)
        .register(registry);
  }

  /** What admission decided. */
  sealed interface Decision {}

  /**
   * Admitted: what the call holds, {@code reserved} of its quota lease (0 without a quota) and
   * {@code estimatedTokens} of its tpm window, until it is settled, exactly once, from any thread.
   */
  static final class Admitted implements Decision {
    private static final AtomicIntegerFieldUpdater<Admitted> SETTLED =
        AtomicIntegerFieldUpdater.newUpdater(Admitted.class, "settled");

    private final CallMetering metering;
    private final SubscriptionSnapshot snap;
    private final long reserved;
    private final long estimatedTokens;
    @SuppressWarnings("unused") // through SETTLED
    private volatile int settled;

    /** @param metering null for a call that holds nothing */
    private Admitted(CallMetering metering, SubscriptionSnapshot snap, long reserved, long estimatedTokens) {
      this.metering = metering;
      this.snap = snap;
      this.reserved = reserved;
      this.estimatedTokens = estimatedTokens;
    }

    /**
     * Settles the reservation and the rate-limit estimate with what the call used ({@code used}
     * counts only when {@code billable}). Only the first settlement of a call counts.
     */
    void settle(boolean billable, TokenUsage used) {
      if (metering != null && SETTLED.compareAndSet(this, 0, 1)) {
        metering.settle(snap, reserved, estimatedTokens, billable, used);
      }
    }

    /** The call ended without being billable: all it held goes back. */
    void release() {
      settle(/* billable= */ false, TokenUsage.ZERO);
    }
  }

  record Refused(ApiError error, long retryAfterSeconds) implements Decision {}

  /** A lease refill is in flight; completes on a store thread. */
  record Pending(CompletionStage<Decision> decision) implements Decision {}

  /** A call without quota or limits holds nothing: one shared instance. */
  private static final Admitted FREE = new Admitted(null, null, 0, 0);

  static long estimateTokens(ByteBuf requestBody) {
    return Math.max(1, requestBody.readableBytes() / 4);
  }

  Decision admit(SubscriptionSnapshot snap, long estimatedTokens) {
    Sku sku = snap.sku();
    QuotaLeases q = quotaOf(sku.mode());
    Long quota = snap.subscription().quota();
    if (q == null || quota == null) {
      return withinRate(snap, 0, estimatedTokens);
    }
    long cost = sku.mode() == BillingMode.TOKEN_PACKAGE ? estimatedTokens : 1;
    String period = periodKey(snap);
    return decide(snap, q, period, q.tryAdmit(snap.subscription().id(), period, quota, cost), cost, estimatedTokens);
  }

  /** Quota first, then the rate limits; may run on a store thread after a lease refill. */
  private Decision decide(SubscriptionSnapshot snap, QuotaLeases q, String period, Admission a, long cost,
      long estimatedTokens) {
    if (a instanceof Admission.Admitted) {
      Decision d = withinRate(snap, cost, estimatedTokens);
      if (d instanceof Refused) {
        q.settle(snap.subscription().id(), period, cost, 0); // the reservation goes back to the lease
      }
      return d;
    }
    if (a instanceof Admission.Pending pending) {
      return new Pending(pending.decision().thenApply(next -> decide(snap, q, period, next, cost, estimatedTokens)));
    }
    return new Refused(ApiError.quotaExhausted(), 0); // nothing taken: rate limits were not asked
  }

  /**
   * The call counted against rpm/tpm, holding {@code reserved} of its quota lease; or refused by
   * the rate limits, having taken nothing from them.
   */
  private Decision withinRate(SubscriptionSnapshot snap, long reserved, long estimatedTokens) {
    Sku sku = snap.sku();
    boolean limited = limiter != null && (sku.rpm() != null || sku.tpm() != null);
    if (limited) {
      RateDecision rd = limiter.tryAcquire(snap.subscription().id(), limits(sku), estimatedTokens);
      if (rd instanceof RateDecision.Limited l) {
        return new Refused(ApiError.rateLimited(l.limit(), l.retryAfterSeconds()), l.retryAfterSeconds());
      }
    }
    return limited || reserved > 0 ? new Admitted(this, snap, reserved, estimatedTokens) : FREE;
  }

  /** Settles a call's reservation and rate-limit estimate with what it actually used: see {@link Admitted#settle}. */
  private void settle(SubscriptionSnapshot snap, long reserved, long estimatedTokens, boolean billable, TokenUsage used) {
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
   * Whether a call's tokens must be estimated: it was answered 2xx, and the upstream reported no
   * believable usage or the buyer left before the end. Then {@link #estimate} gives them;
   * otherwise {@link #reportedUsage} does, inline.
   */
  boolean needsEstimate(Outcome outcome, int status, UsageExtractor extractor) {
    if (status < 200 || status > 299 || outcome == Outcome.UPSTREAM_FAILED || extractor == null) {
      return false;
    }
    return outcome != Outcome.COMPLETED || extractor.reported() == null;
  }

  /** The tokens of a call that needs no estimate: the upstream's report, or none. */
  TokenUsage reportedUsage(Outcome outcome, int status, UsageExtractor extractor) {
    if (status < 200 || status > 299 || outcome == Outcome.UPSTREAM_FAILED || extractor == null) {
      return TokenUsage.ZERO;
    }
    return extractor.reported();
  }

  /**
   * Estimates a call's tokens on an estimate worker and hands them to {@code done} there; when
   * the pool is full or closed, estimates from sizes and calls {@code done} on the caller's
   * thread. Takes over {@code prompt} (the request body, retained for this call) and releases it
   * once read. The extractor is read on the worker, so nothing may feed it any more.
   */
  void estimate(SubscriptionSnapshot snap, Outcome outcome, UsageExtractor extractor, ByteBuf prompt,
      Consumer<TokenUsage> done) {
    (outcome == Outcome.BUYER_ABORTED ? estimatedAborted : extractor.rejected() ? estimatedRejected : estimatedNone)
        .increment();
    pendingEstimates.incrementAndGet();
    try {
      estimates.execute(() -> {
        TokenUsage usage;
        try {
          usage = tokenize(snap, outcome, extractor, prompt);
        } catch (RuntimeException e) {
          log.warn("token estimate failed, estimated from sizes instead: {}", e.toString());
          usage = bySize(outcome, extractor, prompt);
        } finally {
          prompt.release();
        }
        try {
          done.accept(usage);
        } finally {
          pendingEstimates.decrementAndGet();
        }
      });
    } catch (RejectedExecutionException full) {
      TokenUsage usage;
      try {
        usage = bySize(outcome, extractor, prompt);
      } finally {
        prompt.release();
        pendingEstimates.decrementAndGet();
      }
      done.accept(usage);
    }
  }

  /** The tokenizer's estimate: the slow part, on a worker. */
  private TokenUsage tokenize(SubscriptionSnapshot snap, Outcome outcome, UsageExtractor extractor, ByteBuf prompt) {
    TokenEstimator estimator = TokenEstimator.forEncoding(snap.product().tokenizer());
    TokenUsage reported = extractor.reported();
    if (outcome == Outcome.BUYER_ABORTED && reported != null) {
      // The prompt as the upstream counted it; the output at least what was delivered.
      long delivered = estimator.completionTokens(extractor.completionText());
      return new TokenUsage(reported.inputTokens(), reported.cachedInputTokens(),
          Math.max(reported.outputTokens(), delivered), /* estimated= */ true);
    }
    return estimator.estimate(snap.product().protocol().dialect(), prompt, extractor.completionText());
  }

  /** The cheap estimate, when the tokenizer cannot run: bytes / 4 of prompt, characters / 4 of text. */
  private TokenUsage bySize(Outcome outcome, UsageExtractor extractor, ByteBuf prompt) {
    estimateFallbacks.increment();
    long output = (extractor.completionText().length() + 3) / 4;
    TokenUsage reported = extractor.reported();
    if (outcome == Outcome.BUYER_ABORTED && reported != null) {
      return new TokenUsage(reported.inputTokens(), reported.cachedInputTokens(),
          Math.max(reported.outputTokens(), output), /* estimated= */ true);
    }
    return new TokenUsage(estimateTokens(prompt), 0, output, /* estimated= */ true);
  }

  /** Estimates queued or running. */
  int pendingEstimates() {
    return pendingEstimates.get();
  }

  /**
   * Stops taking estimates and waits (up to {@value #CLOSE_WAIT_SECONDS} s) for those in flight,
   * so the usage of calls that ended before is recorded before metering shuts down.
   */
  @Override
  public void close() {
    estimates.shutdown();
    try {
      if (!estimates.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
        log.error("{} token estimates still running after {} s: their calls' usage may be lost",
            pendingEstimates.get(), CLOSE_WAIT_SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * What is left of the subscription's package quota for its current period, as admission sees
   * it (see {@link QuotaLeases#remaining}); empty without a quota or quota enforcement. Blocking:
   * call it on a worker thread.
   */
  public java.util.OptionalLong remaining(SubscriptionSnapshot snap) {
    QuotaLeases q = quotaOf(snap.sku().mode());
    Long quota = snap.subscription().quota();
    if (q == null || quota == null) {
      return java.util.OptionalLong.empty();
    }
    return java.util.OptionalLong.of(q.remaining(snap.subscription().id(), periodKey(snap), quota));
  }

  /**
   * What the subscription's rate limits leave it on this instance, for the buyer's rate-limit
   * headers; null when its SKU sets neither rpm nor tpm, or limits are not enforced. Never blocks.
   */
  RateStatus rateStatus(SubscriptionSnapshot snap) {
    Sku sku = snap.sku();
    if (limiter == null || (sku.rpm() == null && sku.tpm() == null)) {
      return null;
    }
    return limiter.status(snap.subscription().id(), limits(sku));
  }

  /**
   * {@link #remaining} without a store call, for the buyer's {@code x-tollgate-quota-remaining}
   * on the event loop (see {@link QuotaLeases#estimatedRemaining}); -1 without a quota, without
   * quota enforcement, or before this instance first refilled the period's lease. Never blocks.
   */
  long estimatedRemaining(SubscriptionSnapshot snap) {
    QuotaLeases q = quotaOf(snap.sku().mode());
    Long quota = snap.subscription().quota();
    if (q == null || quota == null) {
      return -1;
    }
    return q.estimatedRemaining(snap.subscription().id(), periodKey(snap), quota);
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
    return snap.periodKey();
  }
}
