package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tollgate.billing.RecordLedger;
import io.tollgate.gateway.admin.AdminServer;
import io.tollgate.gateway.admin.OpenApiDocument;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.console.Console;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The admin port's router against its OpenAPI document: every route is documented, and every
 * documented operation is routed. The router is built as {@link Gateway} builds it: the admin
 * server with the billing pull API, the operator's probes ({@link OpsRoutes}) and the web console
 * ({@link Console}), whose pages under {@code /console} are HTML for people, not operations of the
 * API, and so are left out of the comparison.
 *
 * <p>Routes and operations are compared as {@code METHOD /path/{}}: parameter names do not matter
 * on the wire. Prefix routes ({@code /admin/v1/*}) and routes without a path are handlers in front
 * of the endpoints (authentication, body limits), not endpoints; a route for every method or a
 * pure regex route is an endpoint no operation matches, so it fails the walk.
 */
class AdminPortRoutesTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String PENDING = "x-tollgate-pending";

  Vertx vertx;
  TestDatabases.Db db;
  CatalogRepository repo;
  AdminServer admin;

  @BeforeEach
  void buildTheAdminRouter() {
    vertx = Vertx.vertx();
    db = TestDatabases.h2();
    var clock = new TestClock(Instant.parse("2025-03-01T00:00:00Z"));
    repo = CatalogRepository.open(db.url(), db.user(), "", clock);
    var ledger = new RecordLedger(repo.dataSource(), clock, new SimpleMeterRegistry());
    admin = new AdminServer(vertx, repo, AdminServer.Options.of("operator-token-for-route-tests-0123").withRecords(ledger));
    OpsRoutes.mount(admin.router(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
        () -> Future.succeededFuture(new JsonObject().put("status", "UP")));
    Console.mount(admin.router());
  }

  @AfterEach
  void stop() throws Exception {
    admin.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** {@code GET /admin/v1/products/{}} from {@code /admin/v1/products/:id} or {@code .../{id}}. */
  static String key(String method, String path) {
    return method.toUpperCase(Locale.ROOT) + " " + path.replaceAll(":[^/]+", "{}").replaceAll("\\{[^}/]+}", "{}");
  }

  /** The endpoints of the router, as keys. */
  Set<String> routed() {
    var keys = new TreeSet<String>();
    for (Route r : admin.router().getRoutes()) {
      // A pure regex route has no path to compare: it shows as one no document can hold.
      String path = r.getPath() == null && r.isRegexPath() ? "<regex route>" : r.getPath();
      if (path == null || !r.isExactPath()) {
        continue; // a handler for every path, or for a prefix
      }
      if (path.equals("/console") || path.startsWith("/console/")) {
        continue; // the web console's pages
      }
      if (r.methods() == null || r.methods().isEmpty()) {
        keys.add(key("ANY", path));
        continue;
      }
      for (HttpMethod m : r.methods()) {
        keys.add(key(m.name(), path));
      }
    }
    return keys;
  }

  /** The document's operations, as keys: all of them, or only those no longer pending. */
  static Set<String> documented(boolean includePending) throws Exception {
    JsonNode doc = JSON.readTree(OpenApiDocument.get().bytes());
    var keys = new TreeSet<String>();
    for (OpenApiDocument.Operation op : OpenApiDocument.get().operations()) {
      JsonNode node = doc.path("paths").path(op.pathTemplate()).path(op.method().toLowerCase(Locale.ROOT));
      if (includePending || !node.has(PENDING)) {
        keys.add(key(op.method(), op.pathTemplate()));
      }
    }
    return keys;
  }

  @Test
  void everyRoutedPath_isDocumented() throws Exception {
    Set<String> routed = routed();

    assertThat(routed).as("the walk finds the admin API, the pull API and the probes")
        .contains("GET /admin/v1/products/{}", "POST /admin/v1/subscriptions/{}/rotate-key",
            "GET /billing/v1/records", "GET /health/ready", "GET /metrics");
    assertThat(documented(/* includePending= */ true))
        .as("every route of the admin port is in admin.json")
        .containsAll(routed);
  }

  @Test
  void everyDocumentedPath_isRouted() throws Exception {
    assertThat(routed()).as("every operation of admin.json is served").containsAll(documented(/* includePending= */ true));
  }
}
