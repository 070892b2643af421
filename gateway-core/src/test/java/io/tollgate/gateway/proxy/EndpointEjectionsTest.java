package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.gateway.catalog.Endpoint;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code tollgate.endpoint.ejections} counts each time an endpoint is taken out of the choice, once per ejection. */
class EndpointEjectionsTest {

  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final EndpointHealth health = new EndpointHealth(registry);

  double ejections(String product, String endpoint) {
    Counter c = registry.find(EndpointHealth.EJECTIONS).tag("product", product).tag("endpoint", endpoint).counter();
    return c == null ? -1 : c.count();
  }

  @Test
  void registeredAtOnce_thenCountedPerEjection_byProductAndHostPort() {
    assertThat(ejections("none", "none")).as("a zero series from the start").isZero();
    Endpoint e = new Endpoint("http://user:pw@10.0.0.7:8001/v1?secret=x", 1, Map.of());

    for (int i = 0; i < EndpointHealth.FAILURES_TO_OPEN - 1; i++) {
      health.failed("p-1", e);
    }
    assertThat(ejections("p-1", "10.0.0.7:8001")).as("not yet ejected").isEqualTo(-1);
    health.failed("p-1", e);
    assertThat(ejections("p-1", "10.0.0.7:8001")).isEqualTo(1);

    for (int i = 0; i < EndpointHealth.FAILURES_TO_OPEN; i++) {
      health.failed("p-1", e); // still open: not a new ejection
    }
    health.probed("p-1", e.url(), false, 1_000_000_000L);
    assertThat(ejections("p-1", "10.0.0.7:8001")).as("ejected once while it stays out").isEqualTo(1);

    health.probed("p-1", e.url(), true, 1_000_000_000L);
    health.probed("p-1", e.url(), false, 1_000_000_000L);
    assertThat(ejections("p-1", "10.0.0.7:8001")).as("back in, then out again").isEqualTo(2);
    assertThat(registry.getMeters()).as("no URL path, query or user info in a tag").allSatisfy(m ->
        assertThat(m.getId().getTags().toString()).doesNotContain("secret").doesNotContain("pw"));
  }
}
