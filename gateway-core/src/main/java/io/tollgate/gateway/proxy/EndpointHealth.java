package io.tollgate.gateway.proxy;

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
 */
final class EndpointHealth {

  static final int FAILURES_TO_OPEN = 3;
  static final long OPEN_NANOS = 10_000_000_000L;

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

  void failed(Endpoint e) {
    State s = byUrl.computeIfAbsent(e.url(), k -> new State());
    if (s.failures.incrementAndGet() >= FAILURES_TO_OPEN) {
      s.openUntil = System.nanoTime() + OPEN_NANOS;
      s.failures.set(0);
    }
  }

  /** A probe's verdict on the endpoint at {@code url}. */
  void probed(String url, boolean healthy, long downForNanos) {
    State s = byUrl.computeIfAbsent(url, k -> new State());
    s.failures.set(0);
    s.openUntil = healthy ? 0 : System.nanoTime() + downForNanos;
  }

  void answered(Endpoint e) {
    State s = byUrl.get(e.url());
    if (s != null) {
      s.failures.set(0);
      s.openUntil = 0;
    }
  }
}
