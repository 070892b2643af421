package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.upstream.AddressPolicy;
import java.net.URI;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Upstream connections the address policy refused: counted in {@code tollgate.upstream.denied}
 * (tag {@code reason}) every time, logged at WARN at most once a minute per endpoint, since
 * buyers decide how often a misconfigured product is called and must not decide how much the
 * gateway logs.
 */
final class UpstreamRefusals {

  private static final Logger log = LoggerFactory.getLogger(UpstreamRefusals.class);
  static final String METRIC = "tollgate.upstream.denied";
  private static final long LOG_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final Map<AddressPolicy.Verdict, Counter> counters = new EnumMap<>(AddressPolicy.Verdict.class);
  /** Per endpoint URL: when it was last logged, and refusals since. */
  private final ConcurrentHashMap<String, long[]> lastLogged = new ConcurrentHashMap<>();

  UpstreamRefusals(MeterRegistry registry) {
    for (AddressPolicy.Verdict v : AddressPolicy.Verdict.values()) {
      if (!v.allowed()) {
        counters.put(v, Counter.builder(METRIC)
            .description("Upstream connections not made: the endpoint resolved to an address tollgate does not call")
            .tag("reason", v.name().toLowerCase(java.util.Locale.ROOT))
            .register(registry));
      }
    }
  }

  void record(String productId, String endpointUrl, UpstreamRefusedException e) {
    counters.get(e.verdict).increment();
    long now = System.nanoTime();
    long[] state = lastLogged.computeIfAbsent(endpointUrl, u -> new long[] {now - LOG_EVERY_NANOS, 0});
    long suppressed;
    synchronized (state) {
      if (now - state[0] < LOG_EVERY_NANOS) {
        state[1]++;
        return;
      }
      suppressed = state[1];
      state[0] = now;
      state[1] = 0;
    }
    log.warn("upstream call refused: endpoint {} of product {} resolved to {} ({}); not connecting{}",
        redacted(endpointUrl), productId, e.address, e.verdict,
        suppressed > 0 ? " (" + suppressed + " more refusals of this endpoint in the last minute)" : "");
  }

  /** The URL without user info: an endpoint stored before user info was refused may carry a password. */
  static String redacted(String url) {
    try {
      URI u = URI.create(url);
      if (u.getRawUserInfo() == null) {
        return url;
      }
      return new URI(u.getScheme(), null, u.getHost(), u.getPort(), u.getPath(), null, null).toString();
    } catch (IllegalArgumentException | java.net.URISyntaxException e) {
      return "(unparseable URL)";
    }
  }
}
