package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.metering.usage.UsageRecorder;
import java.time.Clock;
import java.util.Objects;

/**
 * What the buyer port calls out to.
 *
 * @param subscriptions key hash to subscription snapshot
 * @param recorder receives each finished call's usage event, on the call's event loop (or, for a
 *     call its buyer aborted whose tokens had to be estimated, on the estimate worker)
 * @param extractors makes each response's usage extractor
 * @param subscriptionView renders {@code GET /v1/subscription}
 * @param metering rate limits, quota leases and usage accounting; defaults to none of the first two
 */
public record ProxyServices(
    SubscriptionCache subscriptions,
    UsageRecorder recorder,
    ExtractorFactory extractors,
    SubscriptionView subscriptionView,
    MeterRegistry registry,
    Clock clock,
    CallMetering metering,
    ProxyMetrics metrics) {

  public ProxyServices {
    Objects.requireNonNull(subscriptions, "subscriptions");
    Objects.requireNonNull(recorder, "recorder");
    Objects.requireNonNull(extractors, "extractors");
    Objects.requireNonNull(subscriptionView, "subscriptionView");
    Objects.requireNonNull(registry, "registry");
    clock = clock == null ? Clock.systemUTC() : clock;
    metering = metering == null ? new CallMetering(null, null, null, registry) : metering;
    metrics = metrics == null ? new ProxyMetrics(registry) : metrics;
  }

  public ProxyServices(SubscriptionCache subscriptions, UsageRecorder recorder, ExtractorFactory extractors,
      SubscriptionView subscriptionView, MeterRegistry registry, Clock clock, CallMetering metering) {
    this(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering, null);
  }
}
