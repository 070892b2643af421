package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The buyer port's request meters. Meters are resolved once per product (and lazily once per
 * status code of that product) and held, so recording a request is two array reads and two adds,
 * not a registry lookup by name and tags.
 */
final class ProxyMetrics {

  static final String NO_PRODUCT = "none";

  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, ProductMeters> byProduct = new ConcurrentHashMap<>();
  private final UpstreamRefusals upstreamRefusals;

  ProxyMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.upstreamRefusals = new UpstreamRefusals(registry);
    // Registered at start-up, so a scrape (and the dashboard) has both names before any call: the
    // series of calls refused before a product is known (a missing or unknown key).
    product(NO_PRODUCT).counter(401);
  }

  UpstreamRefusals upstreamRefusals() {
    return upstreamRefusals;
  }

  ProductMeters product(String productId) {
    ProductMeters m = byProduct.get(productId);
    return m != null ? m : byProduct.computeIfAbsent(productId, id -> new ProductMeters(registry, id));
  }

  /** Meters of one product: requests by status, and latency. */
  static final class ProductMeters {
    private final MeterRegistry registry;
    private final String product;
    private final Timer latency;
    private final AtomicReferenceArray<Counter> byStatus = new AtomicReferenceArray<>(600);

    ProductMeters(MeterRegistry registry, String product) {
      this.registry = registry;
      this.product = product;
      this.latency = Timer.builder("tollgate.request.duration")
          .description("Time from a buyer's request to the end of the answer")
          .tag("product", product)
          .publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1))
          .maximumExpectedValue(Duration.ofMinutes(5))
          .register(registry);
    }

    void record(int status, long nanos) {
      counter(status).increment();
      latency.record(nanos, TimeUnit.NANOSECONDS);
    }

    private Counter counter(int status) {
      int s = status < 100 || status > 599 ? 599 : status;
      Counter c = byStatus.get(s);
      if (c == null) {
        c = Counter.builder("tollgate.requests")
            .description("Buyer requests by product and response status")
            .tag("product", product)
            .tag("status", Integer.toString(s))
            .register(registry);
        byStatus.set(s, c);
      }
      return c;
    }
  }
}
