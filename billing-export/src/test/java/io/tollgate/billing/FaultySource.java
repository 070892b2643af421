package io.tollgate.billing;

import io.tollgate.metering.store.ExportSource;
import io.tollgate.metering.store.MeterStoreException;
import io.tollgate.metering.store.MinuteUsage;
import io.tollgate.metering.store.TouchedKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real meter store's export side that fails on demand the way a store does (a {@link
 * MeterStoreException}): every call while {@link #down}; or one clear of marks ({@link
 * #failClear}), after the ledger committed what the marks led to: the crash point between the
 * commit and the clear, without killing the JVM.
 */
final class FaultySource implements ExportSource {

  volatile boolean down;
  /** Runs before every read of minutes: a test's view into a run in progress. */
  volatile Runnable beforeMinutes = () -> {};
  /** Clears asked, failed or not. */
  final AtomicInteger clears = new AtomicInteger();
  private volatile int failingClear = -1;
  private final ExportSource store;

  FaultySource(ExportSource store) {
    this.store = store;
  }

  @Override
  public Duration exportWindow() {
    return store.exportWindow();
  }

  @Override
  public List<Instant> touchedWindows(Instant from, Instant to) {
    failIfDown();
    return store.touchedWindows(from, to);
  }

  @Override
  public List<TouchedKey> touched(Instant windowStart) {
    failIfDown();
    return store.touched(windowStart);
  }

  @Override
  public Map<String, List<MinuteUsage>> minutes(Collection<String> subscriptionIds, Instant from, Instant to) {
    beforeMinutes.run();
    failIfDown();
    return store.minutes(subscriptionIds, from, to);
  }

  @Override
  public void clearTouched(Instant windowStart, List<TouchedKey> seen) {
    int n = clears.incrementAndGet();
    failIfDown();
    if (n == failingClear) {
      throw new MeterStoreException("test: the meter store went away before the marks were cleared", null);
    }
    store.clearTouched(windowStart, seen);
  }

  /** Makes the {@code n}-th clear from now (1: the next) fail, once. */
  void failClear(int n) {
    failingClear = clears.get() + n;
  }

  private void failIfDown() {
    if (down) {
      throw new MeterStoreException("test: the meter store is down", null);
    }
  }
}
