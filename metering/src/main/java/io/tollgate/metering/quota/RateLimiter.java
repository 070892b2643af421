package io.tollgate.metering.quota;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * rpm and tpm limits per subscription, decided locally on each instance with a sliding-window
 * counter (the previous fixed minute weighted by how much of it still overlaps the window, plus
 * the current minute — the approximation nginx and Cloudflare use; exact on steady traffic,
 * within a few percent on bursts).
 *
 * <p>Why local: limits protect merchants' endpoints and are not money, so a shared store round
 * trip per call (or a second asynchronous protocol) would buy little. Each instance enforces
 * {@code ceil(limit / instances)}: with the load balancer spreading a subscription's calls evenly
 * the fleet admits about the limit; a client pinned to one instance gets a share of it. The
 * gateway passes its configured instance count (default 1). Quotas, which are money, are shared
 * through {@link QuotaLeases} instead.
 *
 * <p>tpm counts estimated input tokens at admission; {@link #addTokens} adds the rest (output,
 * correction of the estimate) when the call ends. Thread-safe; each subscription's window is a
 * small synchronized object.
 */
public final class RateLimiter {

  private static final long MINUTE = 60_000;

  private static final class Window {
    long minute; // start of the current fixed minute
    long prevRequests;
    long requests;
    long prevTokens;
    long tokens;

    void roll(long now) {
      long m = now - Math.floorMod(now, MINUTE);
      if (m == minute) {
        return;
      }
      boolean adjacent = m - minute == MINUTE;
      prevRequests = adjacent ? requests : 0;
      prevTokens = adjacent ? tokens : 0;
      requests = 0;
      tokens = 0;
      minute = m;
    }
  }

  private final Clock clock;
  private final int instances;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
  private final Counter rpmRejections;
  private final Counter tpmRejections;

  /** @param instances gateway instances sharing the limits; each enforces its share */
  public RateLimiter(Clock clock, int instances, MeterRegistry registry) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (instances < 1) {
      throw new IllegalArgumentException("instances must be at least 1: " + instances);
    }
    this.instances = instances;
    this.rpmRejections = Counter.builder("tollgate.ratelimit.rejections").tag("limit", "rpm").register(registry);
    this.tpmRejections = Counter.builder("tollgate.ratelimit.rejections").tag("limit", "tpm").register(registry);
  }

  /** Admits one call costing {@code estimatedTokens} or says how long to wait. Never blocks. */
  public RateDecision tryAcquire(String subscriptionId, RateLimits limits, long estimatedTokens) {
    if (limits.rpm() == 0 && limits.tpm() == 0) {
      return RateDecision.ALLOWED;
    }
    long now = clock.millis();
    Window w = windows.computeIfAbsent(subscriptionId, k -> new Window());
    synchronized (w) {
      w.roll(now);
      double overlap = 1.0 - (double) (now - w.minute) / MINUTE;
      long rpm = share(limits.rpm());
      long tpm = share(limits.tpm());
      if (rpm > 0 && w.prevRequests * overlap + w.requests + 1 > rpm) {
        rpmRejections.increment();
        return new RateDecision.Limited("rpm", retryAfter(now, w, w.prevRequests, w.requests, 1, rpm));
      }
      // A call bigger than the whole tpm passes an empty window; otherwise it could never run.
      if (tpm > 0 && w.prevTokens * overlap + w.tokens + estimatedTokens > tpm
          && w.tokens + w.prevTokens > 0) {
        tpmRejections.increment();
        return new RateDecision.Limited("tpm",
            retryAfter(now, w, w.prevTokens, w.tokens, Math.min(estimatedTokens, tpm), tpm));
      }
      w.requests++;
      w.tokens += estimatedTokens;
      return RateDecision.ALLOWED;
    }
  }

  /**
   * What the subscription's limits leave it now on this instance (its share of each limit), for
   * the rate-limit headers buyers read. Remaining is what admission would still take now (the
   * sliding-window count rounded as {@link #tryAcquire} compares it); the window is empty again,
   * with no further calls, at the end of the minute after the current one while the current
   * minute counts anything, else at the end of the current minute while the previous one still
   * weighs. Never blocks, and adds no window for a subscription that has none.
   */
  public RateStatus status(String subscriptionId, RateLimits limits) {
    long rpm = share(limits.rpm());
    long tpm = share(limits.tpm());
    long now = clock.millis();
    Window w = windows.get(subscriptionId);
    if (w == null) {
      return new RateStatus(rpm, rpm, now, tpm, tpm, now, now);
    }
    synchronized (w) {
      w.roll(now);
      double overlap = 1.0 - (double) (now - w.minute) / MINUTE;
      return new RateStatus(
          rpm, remaining(rpm, w.prevRequests * overlap + w.requests), emptyAt(now, w, w.prevRequests, w.requests),
          tpm, remaining(tpm, w.prevTokens * overlap + w.tokens), emptyAt(now, w, w.prevTokens, w.tokens), now);
    }
  }

  private static long remaining(long limit, double counted) {
    return limit == 0 ? 0 : Math.max(0, Math.min(limit, (long) Math.floor(limit - counted)));
  }

  /** When a window counting {@code prev} and {@code cur} has faded to nothing. */
  private static long emptyAt(long now, Window w, long prev, long cur) {
    if (cur > 0) {
      return w.minute + 2 * MINUTE; // cur becomes prev, which weighs until the next minute's end
    }
    return prev > 0 ? w.minute + MINUTE : now;
  }

  /** Adds tokens a call used beyond its admission estimate (negative to correct an overestimate). */
  public void addTokens(String subscriptionId, long tokens) {
    Window w = windows.get(subscriptionId);
    if (w == null) {
      return;
    }
    synchronized (w) {
      w.roll(clock.millis());
      w.tokens = Math.max(0, w.tokens + tokens);
    }
  }

  private long share(long limit) {
    return limit == 0 ? 0 : Math.max(1, (limit + instances - 1) / instances);
  }

  /**
   * Seconds until {@code prev * overlap(t) + cur + cost <= limit}: within this minute if the
   * previous minute's weight fading is enough, else after the minute rolls (then cur becomes prev).
   */
  private static long retryAfter(long now, Window w, long prev, long cur, long cost, long limit) {
    long intoMinute = now - w.minute;
    long waitMs;
    if (cur + cost <= limit && prev > 0) {
      // need overlap <= (limit - cur - cost) / prev
      double maxOverlap = (double) (limit - cur - cost) / prev;
      long until = (long) Math.ceil((1.0 - maxOverlap) * MINUTE);
      waitMs = Math.max(0, until - intoMinute);
    } else {
      long toNextMinute = MINUTE - intoMinute;
      // next minute: prev' = cur; need cur * (1 - x/60s) + cost <= limit
      double maxOverlap = cur == 0 ? 1.0 : Math.max(0, (double) (limit - cost) / cur);
      waitMs = toNextMinute + (long) Math.ceil((1.0 - Math.min(1.0, maxOverlap)) * MINUTE);
    }
    return Math.max(1, (waitMs + 999) / 1000);
  }
}
