package io.tollgate.gateway.observe;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The registry's clock follows the system's wall time within a tick, and is the system's when not ticking. */
class MeterClockTest {

  /** A tick late, and the ticker's thread scheduled late on a busy machine. */
  static final long SLACK_MILLIS = MeterClock.TICK_MILLIS + 200;

  @Test
  void tickingWallTimeFollowsTheSystemsWithinATick() throws Exception {
    try (MeterClock clock = new MeterClock().start()) {
      long first = clock.wallTime();
      long deadline = System.currentTimeMillis() + 5_000;
      long seen = first;
      while (seen < first + 5 * MeterClock.TICK_MILLIS && System.currentTimeMillis() < deadline) {
        Thread.sleep(1);
        long before = System.currentTimeMillis();
        seen = clock.wallTime();
        assertThat(seen).isLessThanOrEqualTo(System.currentTimeMillis()).isGreaterThan(before - SLACK_MILLIS);
      }
      assertThat(seen).as("the wall time moves on").isGreaterThanOrEqualTo(first + 5 * MeterClock.TICK_MILLIS);
    }
  }

  @Test
  void notTickingItIsTheSystemClock() throws Exception {
    MeterClock clock = new MeterClock();
    long before = System.currentTimeMillis();
    assertThat(clock.wallTime()).isBetween(before, System.currentTimeMillis());
    clock.start().close();
    Thread.sleep(3 * MeterClock.TICK_MILLIS);
    before = System.currentTimeMillis();
    assertThat(clock.wallTime()).isBetween(before, System.currentTimeMillis());
    long nanos = System.nanoTime();
    assertThat(clock.monotonicTime()).isBetween(nanos, System.nanoTime());
  }
}
