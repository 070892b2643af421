package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.metering.quota.JdbcQuotaPool;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.quota.RateLimits;
import io.tollgate.metering.testing.Services;
import io.tollgate.metering.usage.TokenUsage;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Admission against rate limits and package quotas together, on real quota leases over an H2
 * pool, with the clock held still so the rate window does not move under the test.
 */
class CallMeteringTest {

  static final Instant NOW = Instant.parse("2025-03-10T12:00:30Z");

  final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final ExecutorService refills = Executors.newSingleThreadExecutor();
  final JdbcQuotaPool pool = new JdbcQuotaPool(Services.h2(), "tg_").migrate();
  final QuotaLeases callQuota = new QuotaLeases(pool, refills, 10, Duration.ofSeconds(5), clock, registry);
  final RateLimiter limiter = new RateLimiter(clock, 1, registry);
  final CallMetering metering = new CallMetering(null, callQuota, limiter, registry);

  @AfterEach
  void stop() {
    refills.shutdownNow();
  }

  static SubscriptionSnapshot callPackage(long quota, int rpm, Instant periodStart) {
    Product product = new Product("p-1", "m-1", "Test", Protocol.OPENAI,
        List.of(new Endpoint("http://127.0.0.1:1", 1, Map.of())), UpstreamAuth.NONE, Duration.ofSeconds(1),
        Duration.ofSeconds(1), null, null, null, null, NOW);
    Sku sku = new Sku("sku-1", product.id(), "pack", Map.of(), List.of(), BillingMode.CALL_PACKAGE,
        new Prices(NOW, "USD", null, null, null, BigDecimal.TEN), quota, Period.MONTH, rpm, null, Map.of(), NOW);
    Subscription sub = new Subscription("sub-1", sku.id(), "b1", "Buyer", SubscriptionStatus.ACTIVE, false,
        NOW, periodStart, null, quota);
    return new SubscriptionSnapshot(sub, sku, product);
  }

  /** Admission's answer, once a lease refill it waits for has run. */
  CallMetering.Decision admit(SubscriptionSnapshot snap) throws Exception {
    CallMetering.Decision d = metering.admit(snap, 10);
    if (d instanceof CallMetering.Pending pending) {
      return pending.decision().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
    return d;
  }

  static String refusal(CallMetering.Decision d) {
    return d instanceof CallMetering.Refused r ? r.error().code() : d.getClass().getSimpleName();
  }

  @Test
  void callsRefusedForQuota_useNoRateLimitBudget() throws Exception {
    int rpm = 5;
    SubscriptionSnapshot period1 = callPackage(2, rpm, NOW.minusSeconds(3600));
    for (int i = 0; i < 2; i++) {
      CallMetering.Decision d = admit(period1);
      assertThat(d).isInstanceOf(CallMetering.Admitted.class);
      ((CallMetering.Admitted) d).settle(/* billable= */ true, new TokenUsage(10, 0, 5, false));
    }
    for (int i = 0; i < rpm + 5; i++) {
      assertThat(refusal(admit(period1))).as("call %d of a used-up package", i).isEqualTo("insufficient_quota");
    }

    // Renewal: a new period with a fresh quota, in the same minute.
    SubscriptionSnapshot period2 = callPackage(2, rpm, NOW);
    assertThat(admit(period2)).as("only the 2 served calls count against rpm %d", rpm)
        .isInstanceOf(CallMetering.Admitted.class);
  }

  @Test
  void aCallRefusedByTheRateLimit_givesItsQuotaReservationBack() throws Exception {
    SubscriptionSnapshot snap = callPackage(100, 1, NOW.minusSeconds(3600));
    assertThat(admit(snap)).isInstanceOf(CallMetering.Admitted.class);
    String period = CallMetering.periodKey(snap);
    long balance = callQuota.localBalance("sub-1", period);

    for (int i = 0; i < 3; i++) {
      assertThat(refusal(admit(snap))).isEqualTo("rate_limit_exceeded");
    }

    assertThat(callQuota.localBalance("sub-1", period)).as("refused calls reserve nothing").isEqualTo(balance);
  }

  @Test
  void aCallWaitingForALeaseRefill_thenRefusedByTheRateLimit_givesItsReservationBack() throws Exception {
    SubscriptionSnapshot snap = callPackage(100, 1, NOW.minusSeconds(3600));
    String period = CallMetering.periodKey(snap);
    callQuota.restore("sub-1", period, 100);
    limiter.tryAcquire("sub-1", new RateLimits(1, 0), 1); // this minute's one call is taken

    CallMetering.Decision d = metering.admit(snap, 10);
    assertThat(d).as("the lease is empty: admission waits for a refill").isInstanceOf(CallMetering.Pending.class);
    CallMetering.Decision last = ((CallMetering.Pending) d).decision().toCompletableFuture().get(5, TimeUnit.SECONDS);

    assertThat(refusal(last)).isEqualTo("rate_limit_exceeded");
    assertThat(callQuota.localBalance("sub-1", period) + pool.remaining("sub-1", period))
        .as("the refill may move quota from the pool to the lease, but the refused call keeps none")
        .isEqualTo(100);
  }
}
