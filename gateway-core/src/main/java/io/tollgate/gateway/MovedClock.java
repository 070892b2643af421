package io.tollgate.gateway;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The system clock, moved ahead by what it is told (the demo's export; the console's tests): the
 * mock upstream checks AK/SK tokens against real time, so a clock that starts at a fixed instant
 * would not do.
 */
public final class MovedClock extends Clock {
  private final AtomicLong aheadMillis = new AtomicLong();

  /** Moves the clock {@code d} further ahead of the system's. */
  public void advance(Duration d) {
    aheadMillis.addAndGet(d.toMillis());
  }

  @Override
  public Instant instant() {
    return Instant.ofEpochMilli(millis());
  }

  @Override
  public long millis() {
    return System.currentTimeMillis() + aheadMillis.get();
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("this clock is UTC");
  }
}
