package io.tollgate.metering.quota;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits calls against package quotas without a store round trip per call: each instance leases
 * quota from the shared {@link QuotaPool} in chunks and answers {@link #tryAdmit} from its local
 * lease (a CAS on an {@code AtomicLong}). When the lease falls below half its grant after an
 * admission, a refill runs on {@code refillExecutor} (never the event loop).
 *
 * <p><b>Accounting.</b> Admission reserves the call's estimated cost from the lease; {@link
 * #settle} debits the difference between actual and estimated cost when the call ends, so a call
 * can overrun its estimate and drive the lease negative; the next refill pays that debt first.
 * Everything consumed was taken from the pool, except debt still open when the pool ran dry.
 *
 * <p><b>Bounds.</b> Overshoot: consumption never exceeds {@code quota + Σ over instances of the
 * overruns (actual − estimate) of calls in flight when that instance's lease and the pool ran
 * out} — at most {@code instances × concurrent calls × one call's output} when the estimate
 * counts only input. (A coarser but common statement: {@code lease chunk × instances + one call's
 * output} for an instance that admits on "lease > 0"; reserving the estimate removes the chunk
 * term.) Undershoot: when the pool is dry, each instance may strand less than one call's
 * estimate in its lease, plus up to its grant (a chunk, grown to at most {@value #MAX_GROWTH}
 * chunks by fast refills: see {@link #grow}) on an instance that no longer receives calls for
 * the subscription, until {@link #close()} gives leases back.
 *
 * <p>Pool outage: admissions continue from the local lease; a call the lease cannot cover is
 * refused ({@link Admission.Exhausted}) and the next one asks the pool again.
 *
 * <p>An exhausted lease re-asks the pool at most every {@code recheck} (default 5 s), so a top-up
 * is noticed without a store call per rejected request.
 *
 * <p>Refills report to {@link TaskHealth} as task {@value #TASK} (on demand, no deadline): a
 * refill the pool cannot answer shows as a dependency failure until one succeeds.
 */
public final class QuotaLeases implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(QuotaLeases.class);
  /** Refills' name in {@link TaskHealth}. */
  public static final String TASK = "quota-refill";

  private record LeaseKey(String subscriptionId, String periodKey) {}

  private static final class Lease {
    final AtomicLong balance = new AtomicLong();
    CompletableFuture<Void> refill; // guarded by this
    volatile long grant; // what a refill takes: the chunk, grown while refills come fast
    long lastRefillMillis = Long.MIN_VALUE; // refill executor only (one refill at a time)
    volatile long quota = -1; // the period's quota, for provisioning the pool on first use
    volatile long exhaustedAt = Long.MIN_VALUE; // clock millis when the pool answered 0
    volatile long pooled = -1; // the pool's remainder as this instance last read it; -1 not yet
  }

  /** A lease used up faster than this grows (see {@link #grow}). */
  static final long FAST_REFILL_MILLIS = 1_000;
  /** A lease that lasts longer than this shrinks. */
  static final long SLOW_REFILL_MILLIS = 10_000;
  /** How many chunks a lease may grow to. */
  static final long MAX_GROWTH = 64;

  private final QuotaPool pool;
  private final Executor refillExecutor;
  private final long chunk;
  private final Clock clock;
  private final long recheckMillis;
  private final ConcurrentHashMap<LeaseKey, Lease> leases = new ConcurrentHashMap<>();
  private final Counter rejections;
  private final TaskHealth.Task task;

  /** As the full constructor, reporting refills to a task health of its own. */
  public QuotaLeases(QuotaPool pool, Executor refillExecutor, long chunk, Duration recheck,
      Clock clock, MeterRegistry registry) {
    this(pool, refillExecutor, chunk, recheck, clock, registry, new TaskHealth(clock, registry));
  }

  /**
   * @param chunk quota taken from the pool per refill; also the largest overshoot term per
   *     instance in the coarse bound
   */
  public QuotaLeases(QuotaPool pool, Executor refillExecutor, long chunk, Duration recheck,
      Clock clock, MeterRegistry registry, TaskHealth health) {
    this.task = health.task(TASK, null);
    this.pool = Objects.requireNonNull(pool, "pool");
    this.refillExecutor = Objects.requireNonNull(refillExecutor, "refillExecutor");
    if (chunk <= 0) {
      throw new IllegalArgumentException("chunk must be positive: " + chunk);
    }
    this.chunk = chunk;
    this.recheckMillis = recheck.toMillis();
    this.clock = Objects.requireNonNull(clock, "clock");
    this.rejections = Counter.builder("tollgate.quota.rejections").register(registry);
  }

  /** Answers from the local lease; never blocks. */
  public Admission tryAdmit(String subscriptionId, String periodKey, long estimatedCost) {
    return tryAdmit(subscriptionId, periodKey, -1, estimatedCost);
  }

  /**
   * Answers from the local lease; never blocks. {@code quota} (or -1 if unknown) provisions the
   * period in the pool the first time any instance refills for it, as {@link #restore} would: so a
   * subscription needs no separate provisioning step at purchase or renewal (a renewal is a new
   * period key), and a lost provisioning call cannot leave a paid period without quota.
   */
  public Admission tryAdmit(String subscriptionId, String periodKey, long quota, long estimatedCost) {
    if (estimatedCost < 0) {
      throw new IllegalArgumentException("estimatedCost must not be negative: " + estimatedCost);
    }
    Lease lease = leases.get(new LeaseKey(subscriptionId, periodKey));
    if (lease == null) {
      lease = leases.computeIfAbsent(new LeaseKey(subscriptionId, periodKey), k -> newLease());
    }
    if (quota >= 0) {
      lease.quota = quota;
    }
    if (reserve(lease, estimatedCost)) {
      if (lease.balance.get() < lease.grant / 2) {
        refill(subscriptionId, periodKey, lease, 0);
      }
      return Admission.ADMITTED;
    }
    if (recentlyExhausted(lease)) {
      rejections.increment();
      return Admission.EXHAUSTED;
    }
    return new Admission.Pending(admitAfterRefill(subscriptionId, periodKey, lease, estimatedCost));
  }

  private CompletionStage<Admission> admitAfterRefill(String sub, String period, Lease lease,
      long cost) {
    return refill(sub, period, lease, cost).handle((ignored, error) -> error).thenCompose(error -> {
      if (reserve(lease, cost)) {
        return CompletableFuture.completedFuture(Admission.ADMITTED);
      }
      if (error != null) {
        // Pool unreachable and the lease is empty: refuse this call (fail closed) rather than
        // serve prepaid quota nobody can account for; the next call tries the pool again.
        rejections.increment();
        return CompletableFuture.completedFuture(Admission.EXHAUSTED);
      }
      if (reserve(lease, cost)) {
        return CompletableFuture.completedFuture(Admission.ADMITTED);
      }
      if (recentlyExhausted(lease)) {
        rejections.increment();
        return CompletableFuture.completedFuture(Admission.EXHAUSTED);
      }
      return admitAfterRefill(sub, period, lease, cost); // another caller took the refill
    });
  }

  private boolean recentlyExhausted(Lease lease) {
    long at = lease.exhaustedAt;
    return at != Long.MIN_VALUE && clock.millis() - at < recheckMillis;
  }

  private static boolean reserve(Lease lease, long cost) {
    while (true) {
      long b = lease.balance.get();
      if (b < cost || (cost == 0 && b <= 0)) {
        return false;
      }
      if (lease.balance.compareAndSet(b, b - cost)) {
        return true;
      }
    }
  }

  /** Starts a refill unless one is running; returns the running one. */
  private CompletableFuture<Void> refill(String sub, String period, Lease lease, long need) {
    synchronized (lease) {
      if (lease.refill != null && !lease.refill.isDone()) {
        return lease.refill;
      }
      lease.refill = CompletableFuture.runAsync(() -> {
        long want = Math.max(grow(lease), need - lease.balance.get());
        long taken;
        try {
          taken = pool.take(sub, period, want);
          long quota = lease.quota;
          if (taken == 0 && quota >= 0) {
            // Perhaps never provisioned: restore is idempotent (a no-op on a provisioned period,
            // even a used-up one), so no check-then-act race with another instance provisioning.
            pool.restore(sub, period, quota);
            taken = pool.take(sub, period, want);
          }
        } catch (RuntimeException e) {
          log.warn("quota refill for {} failed: {}", sub, e.toString());
          task.failed(e, TaskHealth.Cause.DEPENDENCY);
          throw e; // admission keeps answering from what is left; the next call retries
        }
        task.succeeded();
        lease.balance.addAndGet(taken);
        if (taken == 0) {
          lease.exhaustedAt = clock.millis();
        } else {
          lease.exhaustedAt = Long.MIN_VALUE;
        }
        notePooled(sub, period, lease, taken < want);
      }, refillExecutor);
      return lease.refill;
    }
  }

  /**
   * Keeps the pool's remainder for {@link #estimatedRemaining}: 0 when the take got less than it
   * asked for, else read back (one more store call per refill, not per admission; a refill that
   * grants more keeps an admission waiting only when its lease had run dry). A failed read keeps
   * the last value: the estimate is for headers, and must not fail a refill that succeeded.
   */
  private void notePooled(String sub, String period, Lease lease, boolean poolEmptied) {
    if (poolEmptied) {
      lease.pooled = 0;
      return;
    }
    try {
      lease.pooled = Math.max(0, pool.remaining(sub, period));
    } catch (RuntimeException e) {
      log.debug("quota remainder of {} not read after a refill: {}", sub, e.toString());
    }
  }

  private Lease newLease() {
    Lease lease = new Lease();
    lease.grant = chunk;
    return lease;
  }

  /**
   * The size of the next refill. A subscription that used its whole lease within {@value
   * #FAST_REFILL_MILLIS} ms gets twice as much next time, up to {@value #MAX_GROWTH} chunks (and
   * never more than a sixteenth of its period's quota, so the end of a small package is still
   * shared finely between instances); one that takes longer than {@value #SLOW_REFILL_MILLIS} ms
   * falls back by half towards the chunk. At 10,000 calls/s on a 20-call chunk this turns 500
   * pool round trips a second into about eight; the overshoot bound does not change (admission
   * reserves), only what an instance may strand when it stops receiving the subscription's calls.
   */
  private long grow(Lease lease) {
    long now = clock.millis();
    long last = lease.lastRefillMillis;
    lease.lastRefillMillis = now;
    long grant = lease.grant;
    if (last != Long.MIN_VALUE) {
      long since = now - last;
      long max = chunk > Long.MAX_VALUE / MAX_GROWTH ? chunk : chunk * MAX_GROWTH;
      long quota = lease.quota;
      if (quota > 0) {
        max = Math.max(chunk, Math.min(max, quota / 16));
      }
      if (since < FAST_REFILL_MILLIS) {
        grant = Math.min(max, grant * 2);
      } else if (since > SLOW_REFILL_MILLIS) {
        grant = Math.max(chunk, grant / 2);
      }
      lease.grant = grant;
    }
    return grant;
  }

  /**
   * Debits the difference between a call's actual and reserved cost (negative when the estimate
   * was too high). Never blocks.
   */
  public void settle(String subscriptionId, String periodKey, long reserved, long actualCost) {
    Lease lease = leases.get(new LeaseKey(subscriptionId, periodKey));
    if (lease != null) {
      lease.balance.addAndGet(reserved - actualCost);
    }
  }

  /**
   * Renewal: provisions {@code quota} for {@code newPeriodKey} (idempotent across instances) and
   * drops this instance's leases of the subscription's other periods. Blocking; off the event loop.
   */
  public void restore(String subscriptionId, String newPeriodKey, long quota) {
    pool.restore(subscriptionId, newPeriodKey, quota);
    leases.keySet().removeIf(
        k -> k.subscriptionId().equals(subscriptionId) && !k.periodKey().equals(newPeriodKey));
  }

  /**
   * What admission can still grant of a period's {@code quota}: the pool's remainder plus this
   * instance's unspent lease (less its debt), within {@code [0, quota]}; the whole quota while no
   * instance has drawn on the period yet. Leases other instances hold are not counted, so with
   * several instances this may read low by at most their unspent leases. Blocking (the pool).
   */
  public long remaining(String subscriptionId, String periodKey, long quota) {
    long pooled = pool.remaining(subscriptionId, periodKey);
    if (pooled < 0) {
      return quota;
    }
    Lease lease = leases.get(new LeaseKey(subscriptionId, periodKey));
    if (lease != null) {
      lease.pooled = pooled;
    }
    return Math.max(0, Math.min(quota, pooled + localBalance(subscriptionId, periodKey)));
  }

  /**
   * {@link #remaining} without a store call, for the event loop: the pool's remainder as this
   * instance last read it (after each of its refills, and by {@link #remaining}) plus its lease's
   * balance now, within {@code [0, quota]}. Exact with one instance; with several it reads high by
   * what the others took from the pool since this instance's last refill, and low by their unspent
   * leases. -1 while this instance has not read the pool for the period (no refill yet).
   */
  public long estimatedRemaining(String subscriptionId, String periodKey, long quota) {
    Lease lease = leases.get(new LeaseKey(subscriptionId, periodKey));
    long pooled = lease == null ? -1 : lease.pooled;
    if (pooled < 0) {
      return -1;
    }
    return Math.max(0, Math.min(quota, pooled + lease.balance.get()));
  }

  /** The local lease's balance (negative while in debt). */
  public long localBalance(String subscriptionId, String periodKey) {
    Lease lease = leases.get(new LeaseKey(subscriptionId, periodKey));
    return lease == null ? 0 : lease.balance.get();
  }

  /** Gives unused leases back to the pool. Blocking. */
  @Override
  public void close() {
    leases.forEach((k, lease) -> {
      long left = lease.balance.getAndSet(0);
      if (left > 0) {
        try {
          pool.giveBack(k.subscriptionId(), k.periodKey(), left);
        } catch (RuntimeException e) {
          log.warn("could not give back {} quota of {}: {}", left, k.subscriptionId(), e.toString());
        }
      }
    });
    leases.clear();
  }
}
