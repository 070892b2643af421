package io.tollgate.gateway.admin;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Failed admin authentications per client address: after {@link #MAX_FAILURES} within one window,
 * every request from that address is refused until the window ends (as fail2ban and Kong's
 * brute-force protection do).
 *
 * <p>Why everything, the correct token too: if a right guess still passed while wrong ones got
 * 429, the answer would tell a right guess from a wrong one and the throttle would not slow
 * guessing at all. Why a success does not reset the count: a merchant holding its own valid token
 * could then interleave it with guesses at the operator token and never be throttled. A mistyped
 * token costs the operator nothing beyond the window.
 *
 * <p>A window is fixed: it starts at an address's first failure and lasts {@link #WINDOW}; refused
 * requests do not extend it, so an address gets at most {@link #MAX_FAILURES} guesses a window.
 *
 * <p>Memory is bounded under a flood from many addresses: at most {@link #MAX_ADDRESSES} entries
 * (Caffeine evicts by frequency, so a busy attacker's entry outlives one-off addresses), each
 * dropped when its window ends. Time is the injected clock, so tests move it instead of sleeping.
 * Thread-safe; the admin server calls it from its event loop.
 */
final class AuthenticationThrottle {

  static final int MAX_FAILURES = 10;
  static final Duration WINDOW = Duration.ofMinutes(1);
  static final int MAX_ADDRESSES = 65_536;

  /**
   * An address's current window: when it started, the failures counted in it, and whether its
   * closing has been logged.
   */
  record Window(Instant start, AtomicInteger failures, AtomicBoolean closingLogged) {

    /** True once, for the caller that should log that the address is now refused. */
    boolean closedJustNow() {
      return failures.get() >= MAX_FAILURES && closingLogged.compareAndSet(false, true);
    }
  }

  private final Clock clock;
  private final Cache<String, Window> windows;

  AuthenticationThrottle(Clock clock) {
    this.clock = clock;
    this.windows = Caffeine.newBuilder()
        .maximumSize(MAX_ADDRESSES)
        .expireAfter(new WindowEnd())
        .ticker(ticker(clock))
        .build();
  }

  /**
   * How long the address must wait, in whole seconds rounded up (at least 1), or 0 when its
   * requests may be authenticated.
   */
  long retryAfterSeconds(String address) {
    Window w = windows.getIfPresent(address);
    if (w == null || w.failures().get() < MAX_FAILURES) {
      return 0;
    }
    Duration left = Duration.between(clock.instant(), w.start().plus(WINDOW));
    if (left.isNegative() || left.isZero()) {
      return 0;
    }
    return Math.max(1, (left.toMillis() + 999) / 1000);
  }

  /**
   * Counts a failed authentication, or one still being checked: a token that needs a database
   * lookup is counted before it, so a burst of concurrent guesses cannot all pass the check while
   * their lookups are in flight. {@link #forgive} takes it back if it proves right.
   */
  Window countFailure(String address) {
    Instant now = clock.instant();
    Window w = windows.asMap().compute(address, (a, old) -> old == null || !now.isBefore(old.start().plus(WINDOW))
        ? new Window(now, new AtomicInteger(), new AtomicBoolean())
        : old);
    w.failures().incrementAndGet();
    return w;
  }

  /** Takes back a count of {@link #countFailure} whose token proved right (or was never checked). */
  void forgive(Window w) {
    w.failures().decrementAndGet();
  }

  /**
   * How many addresses are tracked now, after pending evictions and expiries; for tests. Caffeine
   * expires in bounded batches per maintenance run, so this runs them until nothing more goes.
   */
  long trackedAddresses() {
    long before;
    do {
      before = windows.estimatedSize();
      windows.cleanUp();
    } while (windows.estimatedSize() < before);
    return windows.estimatedSize();
  }

  /**
   * An entry lives until its window ends, however often it is counted into or read; a replaced
   * window starts its own minute. The ticker reads the same clock, in epoch nanoseconds.
   */
  private static final class WindowEnd implements Expiry<String, Window> {
    @Override
    public long expireAfterCreate(String address, Window w, long now) {
      return untilEnd(w, now);
    }

    @Override
    public long expireAfterUpdate(String address, Window w, long now, long currentDuration) {
      return untilEnd(w, now);
    }

    @Override
    public long expireAfterRead(String address, Window w, long now, long currentDuration) {
      return currentDuration;
    }

    private static long untilEnd(Window w, long now) {
      return Math.max(0, epochNanos(w.start().plus(WINDOW)) - now);
    }
  }

  /** The clock as a Caffeine ticker, so entries expire on the same time the windows are read in. */
  private static Ticker ticker(Clock clock) {
    return () -> epochNanos(clock.instant());
  }

  private static long epochNanos(Instant t) {
    return TimeUnit.SECONDS.toNanos(t.getEpochSecond()) + t.getNano();
  }
}
