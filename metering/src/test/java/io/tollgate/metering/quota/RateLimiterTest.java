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

  @Test
  void status_ofAnUnusedSubscription_isTheWholeLimit_resetNow() {
    RateStatus s = limiter.status("s1", new RateLimits(10, 1000));

    assertThat(s).isEqualTo(new RateStatus(10, 10, clock.millis(), 1000, 1000, clock.millis(), clock.millis()));
    assertThat(limiter.status("s1", RateLimits.UNLIMITED).requestLimit()).as("0: no limit, no header").isZero();
  }

  @Test
  void status_countsDownAsAdmissionDoes_andResetsWhenTheWindowHasFaded() {
    RateLimits limits = new RateLimits(10, 1000);
    clock.advance(Duration.ofSeconds(15)); // 10:00:15
    for (int i = 0; i < 4; i++) {
      limiter.tryAcquire("s1", limits, 100);
    }
    RateStatus s = limiter.status("s1", limits);

    assertThat(s.requestsRemaining()).isEqualTo(6);
    assertThat(s.tokensRemaining()).isEqualTo(600);
    long minuteAfterNext = clock.millis() - 15_000 + 120_000;
    assertThat(s.requestsResetAtMillis()).as("this minute's calls weigh until the next minute's end")
        .isEqualTo(minuteAfterNext);
    assertThat(s.tokensResetAtMillis()).isEqualTo(minuteAfterNext);

    clock.advance(Duration.ofSeconds(75)); // 10:01:30: the 4 calls weigh half
    RateStatus later = limiter.status("s1", limits);
    assertThat(later.requestsRemaining()).isEqualTo(8);
    assertThat(later.requestsResetAtMillis()).isEqualTo(minuteAfterNext);

    clock.advance(Duration.ofSeconds(30)); // 10:02:00
    assertThat(limiter.status("s1", limits)).isEqualTo(new RateStatus(10, 10, clock.millis(), 1000, 1000, clock.millis(), clock.millis()));
  }

  @Test
  void status_remaining_matchesWhatAdmissionStillTakes() {
    RateLimits limits = new RateLimits(7, 0);
    clock.advance(Duration.ofSeconds(50));
    for (int i = 0; i < 7; i++) {
      limiter.tryAcquire("s1", limits, 0);
    }
    clock.advance(Duration.ofSeconds(20)); // 10 s into the next minute: 7 * 50/60 still count
    long remaining = limiter.status("s1", limits).requestsRemaining();

    long admitted = 0;
    while (limiter.tryAcquire("s1", limits, 0) == RateDecision.ALLOWED) {
      admitted++;
    }
    assertThat(remaining).isEqualTo(admitted).isEqualTo(1);
    assertThat(limiter.status("s1", limits).requestsRemaining()).isZero();
  }

  @Test
  void status_showsThisInstancesShare() {
    RateLimiter oneOfThree = new RateLimiter(clock, 3, new SimpleMeterRegistry());
    oneOfThree.tryAcquire("s1", new RateLimits(30, 3000), 100);

    RateStatus s = oneOfThree.status("s1", new RateLimits(30, 3000));

    assertThat(s.requestLimit()).isEqualTo(10);
    assertThat(s.requestsRemaining()).isEqualTo(9);
    assertThat(s.tokenLimit()).isEqualTo(1000);
    assertThat(s.tokensRemaining()).isEqualTo(900);
  }
}
