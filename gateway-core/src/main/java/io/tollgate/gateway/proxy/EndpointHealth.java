package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.catalog.Endpoint;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Health of upstream endpoints, shared by all event loops. Passive: an endpoint whose connections
 * fail {@value #FAILURES_TO_OPEN} times in a row is left out of the weighted choice for {@link
 * #OPEN_NANOS} (a circuit breaker's open state), then gets calls again; one answer closes it.
 * Active: a failed probe of the product's health check path opens it until a probe succeeds (or
 * for {@code downFor}, should probes stop). When every endpoint of a product is open, the choice
 * ignores health rather than refuse the call.
 *
 * <p>Each ejection (an endpoint going from closed to open, passively or by a probe) is counted in
 * {@value #EJECTIONS} (tags {@code product}, {@code endpoint} = {@code host:port}), registered at
 * construction with a zero series ({@code none}, {@code none}) so the name is in a scrape at once.
 */
final class EndpointHealth {

  static final int FAILURES_TO_OPEN = 3;
  static final long OPEN_NANOS = 10_000_000_000L;
  static final String EJECTIONS = "tollgate.endpoint.ejections";

  private final MeterRegistry registry;
  /** product id + ' ' + endpoint URL to its counter: ejections are rare, so the key is made per ejection. */
  private final ConcurrentHashMap<String, Counter> ejections = new ConcurrentHashMap<>();

  /** @param registry where ejections are counted; null: nowhere */
  EndpointHealth(MeterRegistry registry) {
    this.registry = registry;
    if (registry != null) {
      ejectionCounter("none", "none");
    }
  }

  private Counter ejectionCounter(String product, String endpoint) {
    return Counter.builder(EJECTIONS)
        .description("Upstream endpoints taken out of the choice: failed connections in a row, or a failed health probe")
        .tag("product", product).tag("endpoint", endpoint).register(registry);
  }

  private void ejected(String productId, String url) {
    if (registry == null) {
      return;
    }
    String product = productId == null ? "none" : productId;
    ejections.computeIfAbsent(product + ' ' + url, k -> ejectionCounter(product, Origin.of(url).authority()))
        .increment();
  }

  private static final class State {
    final AtomicInteger failures = new AtomicInteger();
    volatile long openUntil;
  }

  private final ConcurrentHashMap<String, State> byUrl = new ConcurrentHashMap<>();

  /** Weighted random choice among the endpoints that are not open, else among all. */
  Endpoint pick(List<Endpoint> endpoints) {
    if (endpoints.size() == 1) {
      return endpoints.get(0);
    }
    long now = System.nanoTime();
    int total = 0;
    for (Endpoint e : endpoints) {
      if (!isOpen(e, now)) {
        total += e.weight();
      }
    }
    boolean ignoreHealth = total == 0;
    if (ignoreHealth) {
      for (Endpoint e : endpoints) {
        total += e.weight();
      }
    }
    int r = ThreadLocalRandom.current().nextInt(total);
    for (Endpoint e : endpoints) {
      if (ignoreHealth || !isOpen(e, now)) {
        r -= e.weight();
        if (r < 0) {
          return e;
        }
      }
    }
    return endpoints.get(endpoints.size() - 1);
  }

  private boolean isOpen(Endpoint e, long now) {
    State s = byUrl.get(e.url());
    return s != null && s.openUntil - now > 0;
  }

  /** A connection to {@code e}, an endpoint of product {@code productId}, failed. */
  void failed(String productId, Endpoint e) {
    State s = byUrl.computeIfAbsent(e.url(), k -> new State());
    if (s.failures.incrementAndGet() >= FAILURES_TO_OPEN) {
      long now = System.nanoTime();
      boolean wasOpen = s.openUntil - now > 0;
      s.openUntil = now + OPEN_NANOS;
      s.failures.set(0);
      if (!wasOpen) {
        ejected(productId, e.url());
      }
    }
  }

  /** A probe's verdict on the endpoint at {@code url}, of product {@code productId}. */
  void probed(String productId, String url, boolean healthy, long downForNanos) {
    State s = byUrl.computeIfAbsent(url, k -> new State());
    s.failures.set(0);
    long now = System.nanoTime();
    boolean wasOpen = s.openUntil - now > 0;
    s.openUntil = healthy ? 0 : now + downForNanos;
    if (!healthy && !wasOpen) {
      ejected(productId, url);
    }
  }

  void answered(Endpoint e) {
    State s = byUrl.get(e.url());
    if (s != null) {
      s.failures.set(0);
      s.openUntil = 0;
    }
  }
}
