package io.tollgate.gateway;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.util.function.Supplier;

/**
 * The operator's probes on the admin port: {@code /metrics} (Prometheus text), {@code
 * /health/live} (the process answers) and {@code /health/ready} (the buyer port is bound and usage
 * is not piling up unrecorded: 200, else 503 with the reason; the catalog database's state is
 * reported in the body, see {@link Gateway}).
 */
final class OpsRoutes {

  private OpsRoutes() {}

  static void mount(Router router, PrometheusMeterRegistry registry, Supplier<Future<JsonObject>> readiness) {
    router.get("/metrics").handler(ctx -> ctx.vertx()
        .executeBlocking(registry::scrape, false)
        .onSuccess(text -> ctx.response()
            .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .end(text))
        .onFailure(ctx::fail));
    router.get("/health/live").handler(ctx -> ctx.response()
        .putHeader("content-type", "application/json")
        .end(new JsonObject().put("status", "UP").encode()));
    router.get("/health/ready").handler(ctx -> readiness.get().onComplete(ar -> {
      JsonObject body = ar.succeeded() ? ar.result()
          : new JsonObject().put("status", "DOWN").put("error", String.valueOf(ar.cause().getMessage()));
      boolean up = "UP".equals(body.getString("status"));
      ctx.response().setStatusCode(up ? 200 : 503).putHeader("content-type", "application/json").end(body.encode());
    }));
  }
}
