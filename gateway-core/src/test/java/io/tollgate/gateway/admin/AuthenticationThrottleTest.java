package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.TestClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The failure counts behind the admin port's 429s; the HTTP behaviour is in AdminServerTest. */
class AuthenticationThrottleTest {

  final TestClock clock = new TestClock(Instant.parse("2025-03-01T00:00:00Z"));
  final AuthenticationThrottle throttle = new AuthenticationThrottle(clock);

  @Test
  void aFloodFromManyAddresses_keepsMemoryBounded_andWindowsExpire() {
    int addresses = AuthenticationThrottle.MAX_ADDRESSES * 3;
    for (int i = 0; i < addresses; i++) {
      throttle.countFailure("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
    }

    assertThat(throttle.trackedAddresses())
        .as("a flood from many addresses must not grow the table without bound")
        .isLessThanOrEqualTo(AuthenticationThrottle.MAX_ADDRESSES);
    // Caffeine's timer wheel drops expired entries in buckets of about 1 s.
    clock.advance(AuthenticationThrottle.WINDOW.plusSeconds(2));
    assertThat(throttle.trackedAddresses()).as("every window has ended, and its entry is gone").isZero();
  }

  @Test
  void aBusyAttacker_isStillCounted_amidAFloodOfOneOffAddresses() {
    for (int i = 0; i < AuthenticationThrottle.MAX_ADDRESSES * 2; i++) {
      if (i % 1_000 == 0 && i / 1_000 < AuthenticationThrottle.MAX_FAILURES) {
        throttle.countFailure("192.0.2.1");
      }
      throttle.countFailure("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
    }
    throttle.trackedAddresses();

    assertThat(throttle.retryAfterSeconds("192.0.2.1"))
        .as("one-off addresses must not evict the count of an address that keeps guessing")
        .isEqualTo(60);
  }

  @Test
  void retryAfter_roundsUp_andEndsWithTheWindow() {
    for (int i = 0; i < AuthenticationThrottle.MAX_FAILURES; i++) {
      throttle.countFailure("192.0.2.1");
    }
    clock.advance(Duration.ofMillis(59_001));
    long atTheEnd = throttle.retryAfterSeconds("192.0.2.1");
    clock.advance(Duration.ofMillis(999));

    assertThat(atTheEnd).as("never 0 while refused: 0 would invite an immediate retry").isEqualTo(1);
    assertThat(throttle.retryAfterSeconds("192.0.2.1")).isZero();
  }
}
