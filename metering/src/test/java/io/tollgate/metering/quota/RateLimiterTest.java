package io.tollgate.metering.quota;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RateLimiterTest {

  final TestClock clock = new TestClock();
  final RateLimiter limiter = new RateLimiter(clock, 1, new SimpleMeterRegistry());

  @Test
  void rpm_admitsUpToTheLimit_thenRefusesWithRetryAfter() {
    RateLimits limits = new RateLimits(10, 0);
    for (int i = 0; i < 10; i++) {
      assertThat(limiter.tryAcquire("s1", limits, 0)).isEqualTo(RateDecision.ALLOWED);
    }
    RateDecision refused = limiter.tryAcquire("s1", limits, 0);

    assertThat(refused).isInstanceOf(RateDecision.Limited.class);
    RateDecision.Limited l = (RateDecision.Limited) refused;
    assertThat(l.limit()).isEqualTo("rpm");
    assertThat(l.retryAfterSeconds()).isBetween(1L, 120L);
    assertThat(limiter.tryAcquire("s2", limits, 0)).as("limits are per subscription")
        .isEqualTo(RateDecision.ALLOWED);
  }

  @Test
  void afterRetryAfterSeconds_theCallIsAdmitted() {
    RateLimits limits = new RateLimits(10, 0);
    for (int i = 0; i < 10; i++) {
      limiter.tryAcquire("s1", limits, 0);
      clock.advance(Duration.ofSeconds(3));
    }
    RateDecision.Limited l = (RateDecision.Limited) limiter.tryAcquire("s1", limits, 0);

    clock.advance(Duration.ofSeconds(l.retryAfterSeconds()));

    assertThat(limiter.tryAcquire("s1", limits, 0)).isEqualTo(RateDecision.ALLOWED);
  }

  @Test
  void slidingWindow_limitsABurstAcrossTheMinuteBoundary() {
    RateLimits limits = new RateLimits(10, 0);
    clock.advance(Duration.ofSeconds(50));
    for (int i = 0; i < 10; i++) {
      limiter.tryAcquire("s1", limits, 0);
    }
    clock.advance(Duration.ofSeconds(15)); // 5 s into the next minute: 10 * 55/60 still count

    assertThat(limiter.tryAcquire("s1", limits, 0)).isInstanceOf(RateDecision.Limited.class);
  }

  @Test
  void tpm_countsEstimatesAndLaterCorrections() {
    RateLimits limits = new RateLimits(0, 1000);
    assertThat(limiter.tryAcquire("s1", limits, 400)).isEqualTo(RateDecision.ALLOWED);
    limiter.addTokens("s1", 500); // the call's output

    RateDecision d = limiter.tryAcquire("s1", limits, 200);

    assertThat(d).isInstanceOf(RateDecision.Limited.class);
    assertThat(((RateDecision.Limited) d).limit()).isEqualTo("tpm");
  }

  @Test
  void eachInstanceEnforcesItsShareOfTheLimit() {
    RateLimiter oneOfThree = new RateLimiter(clock, 3, new SimpleMeterRegistry());
    RateLimits limits = new RateLimits(30, 0);
    int admitted = 0;
    for (int i = 0; i < 30; i++) {
      if (oneOfThree.tryAcquire("s1", limits, 0) == RateDecision.ALLOWED) {
        admitted++;
      }
    }
    assertThat(admitted).isEqualTo(10);
  }
}
