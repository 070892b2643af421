package io.tollgate.gateway;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.BuyerServer;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.tollgate.gateway.upstream.AkskJwt;
import io.tollgate.metering.health.TaskHealth;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.net.SocketAddress;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Active health checks: every {@code interval}, a GET of each endpoint's base URL + its product's
 * {@code healthCheck.path}, with the product's upstream credentials. A failed probe (no answer
 * within the product's connect timeout, or a status other than 2xx) takes the endpoint out of the
 * buyer port's weighted choice until a probe succeeds. Runs on Vert.x: the catalog read on a
 * worker, the probes on its event loop.
 *
 * <p>Each round reports to {@link TaskHealth} as task {@value #TASK}: a catalog that cannot be
 * read is a dependency failure, anything else that goes wrong while starting the probes a local
 * one; a round that has not reported for three intervals (plus 10 s) has stalled. An endpoint
 * that fails its probe is the probe's result, not a failure of the task.
 *
 * <p>A probe goes where a buyer's call would, so it passes the same {@link AddressPolicy}: the
 * host is resolved on a worker (system resolver), every address it has is checked, and the probe
 * connects to the checked address itself, so a DNS answer that changes in between cannot redirect
 * it. A refused endpoint is unhealthy, counted in {@code tollgate.upstream.denied} and logged.
 */
final class HealthProbes implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HealthProbes.class);
  static final String TASK = "health-probe";

  private final Vertx vertx;
  private final CatalogRepository catalog;
  private final BuyerServer buyer;
  private final Duration interval;
  private final HttpClient client;
  private final TaskHealth.Task task;
  private final AddressPolicy policy;
  private final MeterRegistry registry;
  private final long timer;

  HealthProbes(Vertx vertx, CatalogRepository catalog, BuyerServer buyer, Duration interval, TaskHealth health,
      AddressPolicy policy, MeterRegistry registry) {
    this.vertx = vertx;
    this.catalog = catalog;
    this.buyer = buyer;
    this.interval = interval;
    this.task = health.task(TASK, interval.multipliedBy(3).plusSeconds(10));
    this.policy = policy;
    this.registry = registry;
    this.client = vertx.createHttpClient();
    this.timer = vertx.setPeriodic(interval.toMillis(), id -> probeAll());
  }

  private void probeAll() {
    vertx.executeBlocking(catalog::listProducts, false).onComplete(ar -> {
      if (ar.failed()) {
        log.warn("health probes skipped: cannot read products: {}", ar.cause().toString());
        task.failed(ar.cause(), TaskHealth.Cause.DEPENDENCY);
        return;
      }
      try {
        probe(ar.result());
      } catch (RuntimeException e) {
        log.error("health probes could not be started", e);
        task.failed(e, TaskHealth.Cause.LOCAL);
        return;
      }
      task.succeeded();
    });
  }

  private void probe(List<Product> products) {
    for (Product p : products) {
      if (p.healthCheckPath() == null) {
        continue;
      }
      for (Endpoint e : p.endpoints()) {
        String base = e.url().endsWith("/") ? e.url().substring(0, e.url().length() - 1) : e.url();
        RequestOptions req = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(base + p.healthCheckPath())
            .setTimeout(p.connectTimeout().toMillis());
        for (Map.Entry<String, String> h : e.headers().entrySet()) {
          req.putHeader(h.getKey(), h.getValue());
        }
        if (p.auth().type() == UpstreamAuth.Type.AKSK) {
          req.putHeader("authorization",
              "Bearer " + AkskJwt.sign(p.auth().accessKey(), p.auth().secretKey(), System.currentTimeMillis()));
        }
        checkedServer(e.url())
            .compose(server -> client.request(server == null ? req : req.setServer(server)))
            .compose(r -> r.send().compose(res -> res.body().map(b -> res.statusCode())))
            .onComplete(ar -> {
              boolean healthy = ar.succeeded() && ar.result() >= 200 && ar.result() < 300;
              if (ar.failed() && ar.cause() instanceof Refused refused) {
                registry.counter("tollgate.upstream.denied", "reason",
                    refused.verdict.name().toLowerCase(java.util.Locale.ROOT)).increment();
                log.warn("health probe of endpoint {} of product {} not sent: its host resolves to {} ({})",
                    e.url(), p.id(), refused.address, refused.verdict);
              } else if (!healthy) {
                log.info("endpoint {} of product {} failed its health check: {}", e.url(), p.id(),
                    ar.succeeded() ? "HTTP " + ar.result() : ar.cause().toString());
              }
              buyer.endpointProbed(p.id(), e.url(), healthy, interval.multipliedBy(3));
            });
      }
    }
  }

  /**
   * The address to probe {@code url} at, resolved and checked on a worker; null to let the client
   * resolve (a policy that refuses nothing). Fails with {@link Refused}.
   */
  private Future<SocketAddress> checkedServer(String url) {
    if (policy.refusesNothing()) {
      return Future.succeededFuture(null);
    }
    return vertx.executeBlocking(() -> {
      URI uri = URI.create(url);
      int port = uri.getPort() > 0 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
      InetAddress[] all = InetAddress.getAllByName(uri.getHost());
      for (InetAddress a : all) {
        AddressPolicy.Verdict v = policy.check(new InetSocketAddress(a, port));
        if (!v.allowed()) {
          throw new Refused(v, new InetSocketAddress(a, port));
        }
      }
      return SocketAddress.inetSocketAddress(port, all[0].getHostAddress());
    }, false);
  }

  /** A probe not sent: the endpoint resolves to an address the policy refuses. */
  private static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    final AddressPolicy.Verdict verdict;
    final transient InetSocketAddress address;

    Refused(AddressPolicy.Verdict verdict, InetSocketAddress address) {
      super("refused: " + verdict, null, false, false);
      this.verdict = verdict;
      this.address = address;
    }
  }

  @Override
  public void close() {
    vertx.cancelTimer(timer);
    client.close();
  }
}
