package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.gateway.observe.CallObserver;
import io.tollgate.gateway.observe.CallSummary;
import io.tollgate.gateway.observe.GenAiMetrics;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.tollgate.metering.usage.UsageRecorder;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the buyer port calls out to.
 *
 * @param subscriptions key hash to subscription snapshot
 * @param recorder receives each finished call's usage event, on the call's event loop (or, for a
 *     call its buyer aborted whose tokens had to be estimated, on the estimate worker)
 * @param extractors makes each response's usage extractor
 * @param subscriptionView renders {@code GET /v1/subscription}
 * @param metering rate limits, quota leases and usage accounting; defaults to none of the first two
 * @param instanceId this gateway's name in {@code Via} headers, to recognise a request that comes
 *     back to it; defaults to a new {@code tollgate-<8 hex>}, one per start
 * @param upstreamPolicy the addresses an upstream connection may not go to, checked on each
 *     resolved address; defaults to {@link AddressPolicy#ALLOW_ALL}
 * @param observer told of every buyer call once it has ended, exactly once per call, with one
 *     {@link CallSummary} (see {@link #ended}); defaults to {@link GenAiMetrics} on {@code
 *     registry}, to which {@link #withObserver} adds others (the access log)
 * @param licence answers the licence API ({@code /licence/v1/*}); defaults to {@link
 *     LicenceApi#NONE}
 */
public record ProxyServices(
    SubscriptionCache subscriptions,
    UsageRecorder recorder,
    ExtractorFactory extractors,
    SubscriptionView subscriptionView,
    MeterRegistry registry,
    Clock clock,
    CallMetering metering,
    ProxyMetrics metrics,
    String instanceId,
    AddressPolicy upstreamPolicy,
    CallObserver observer,
    LicenceApi licence) {

  private static final Logger log = LoggerFactory.getLogger(ProxyServices.class);
  private static final java.util.concurrent.atomic.AtomicLong OBSERVER_FAILURE_LOGGED =
      new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - 120_000_000_000L);

  public ProxyServices {
    Objects.requireNonNull(subscriptions, "subscriptions");
    Objects.requireNonNull(recorder, "recorder");
    Objects.requireNonNull(extractors, "extractors");
    Objects.requireNonNull(subscriptionView, "subscriptionView");
    Objects.requireNonNull(registry, "registry");
    clock = clock == null ? Clock.systemUTC() : clock;
    metering = metering == null ? new CallMetering(null, null, null, registry) : metering;
    metrics = metrics == null ? new ProxyMetrics(registry) : metrics;
    instanceId = instanceId == null ? newInstanceId() : instanceId;
    if (!instanceId.matches("[A-Za-z0-9._-]+")) {
      // it goes into a header as a token, and is matched as one
      throw new IllegalArgumentException("instanceId must be a token of letters, digits, '.', '_', '-': " + instanceId);
    }
    upstreamPolicy = upstreamPolicy == null ? AddressPolicy.ALLOW_ALL : upstreamPolicy;
    observer = observer == null ? new GenAiMetrics(registry) : observer;
    licence = licence == null ? LicenceApi.NONE : licence;
  }

  public ProxyServices(SubscriptionCache subscriptions, UsageRecorder recorder, ExtractorFactory extractors,
      SubscriptionView subscriptionView, MeterRegistry registry, Clock clock, CallMetering metering,
      ProxyMetrics metrics, String instanceId, AddressPolicy upstreamPolicy, CallObserver observer) {
    this(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering, metrics, instanceId,
        upstreamPolicy, observer, null);
  }

  /** These services answering the licence API with {@code api}. */
  public ProxyServices withLicence(LicenceApi api) {
    return new ProxyServices(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering,
        metrics, instanceId, upstreamPolicy, observer, api);
  }

  public ProxyServices(SubscriptionCache subscriptions, UsageRecorder recorder, ExtractorFactory extractors,
      SubscriptionView subscriptionView, MeterRegistry registry, Clock clock, CallMetering metering,
      ProxyMetrics metrics, String instanceId, AddressPolicy upstreamPolicy) {
    this(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering, metrics, instanceId,
        upstreamPolicy, null);
  }

  public ProxyServices(SubscriptionCache subscriptions, UsageRecorder recorder, ExtractorFactory extractors,
      SubscriptionView subscriptionView, MeterRegistry registry, Clock clock, CallMetering metering,
      ProxyMetrics metrics) {
    this(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering, metrics, null, null);
  }

  public ProxyServices(SubscriptionCache subscriptions, UsageRecorder recorder, ExtractorFactory extractors,
      SubscriptionView subscriptionView, MeterRegistry registry, Clock clock, CallMetering metering) {
    this(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering, null, null, null);
  }

  /** These services with another upstream address policy. */
  public ProxyServices withUpstreamPolicy(AddressPolicy policy) {
    return new ProxyServices(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering,
        metrics, instanceId, policy, observer, licence);
  }

  /** These services telling {@code another} of each ended call too, after the observers they have. */
  public ProxyServices withObserver(CallObserver another) {
    return new ProxyServices(subscriptions, recorder, extractors, subscriptionView, registry, clock, metering,
        metrics, instanceId, upstreamPolicy, CallObserver.both(observer, another), licence);
  }

  /**
   * Tells the observer of an ended call. Never throws: an observer's failure is logged, and the
   * call (already answered and accounted) is not affected.
   *
   * @param modelListed whether the call's SKU lists {@code call.model()} by name
   */
  void ended(CallSummary call, boolean modelListed) {
    try {
      observer.ended(call, modelListed);
    } catch (RuntimeException e) {
      long now = System.nanoTime();
      long last = OBSERVER_FAILURE_LOGGED.get();
      // at most one line a minute: buyers decide how often calls end, not how much the gateway logs
      if (now - last > 60_000_000_000L && OBSERVER_FAILURE_LOGGED.compareAndSet(last, now)) {
        log.error("an observer of ended calls failed on call {} (logged at most once a minute): {}",
            call.requestId(), e.toString());
      }
    }
  }

  /** {@code tollgate-} and 8 random hex digits: tells this start of a gateway from any other. */
  public static String newInstanceId() {
    return "tollgate-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  }
}
