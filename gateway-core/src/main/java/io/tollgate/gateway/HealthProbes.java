package io.tollgate.gateway;

import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.BuyerServer;
import io.tollgate.gateway.upstream.AkskJwt;
import io.tollgate.metering.health.TaskHealth;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.HttpClient;
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
  private final long timer;

  HealthProbes(Vertx vertx, CatalogRepository catalog, BuyerServer buyer, Duration interval, TaskHealth health) {
    this.vertx = vertx;
    this.catalog = catalog;
    this.buyer = buyer;
    this.interval = interval;
    this.task = health.task(TASK, interval.multipliedBy(3).plusSeconds(10));
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
        client.request(req)
            .compose(r -> r.send().compose(res -> res.body().map(b -> res.statusCode())))
            .onComplete(ar -> {
              boolean healthy = ar.succeeded() && ar.result() >= 200 && ar.result() < 300;
              if (!healthy) {
                log.info("endpoint {} of product {} failed its health check: {}", e.url(), p.id(),
                    ar.succeeded() ? "HTTP " + ar.result() : ar.cause().toString());
              }
              buyer.endpointProbed(e.url(), healthy, interval.multipliedBy(3));
            });
      }
    }
  }

  @Override
  public void close() {
    vertx.cancelTimer(timer);
    client.close();
  }
}
