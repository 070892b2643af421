package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Sku;
import io.vertx.core.http.HttpMethod;
import java.time.Clock;
import io.tollgate.gateway.catalog.PageQuery;
import java.time.Instant;
import java.util.Set;

/** A product's SKUs ({@code /admin/v1/products/{id}/skus}, {@code /admin/v1/skus/{id}}) and their prices. */
final class SkuRoutes {

  private final CatalogRepository repo;
  private final Ownership own;
  private final Clock clock;

  SkuRoutes(CatalogRepository repo, Ownership own, Clock clock) {
    this.repo = repo;
    this.own = own;
    this.clock = clock;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.POST, "/admin/v1/products/:id/skus", this::create);
    http.on(HttpMethod.GET, "/admin/v1/products/:id/skus", this::list);
    http.on(HttpMethod.GET, "/admin/v1/skus/:id", r -> Reply.ok(SkuJson.render(own.sku(r.caller(), r.param("id")))));
    http.on(HttpMethod.PUT, "/admin/v1/skus/:id", this::update);
    http.on(HttpMethod.GET, "/admin/v1/skus/:id/prices", this::prices);
  }

  private Reply create(Request r) {
    Product product = own.product(r.caller(), r.param("id"));
    Sku sku = SkuJson.parse(JsonInput.parse(r.body()), ApiKeys.newId("sku"), product.id(), null, clock.instant());
    return Reply.created(SkuJson.render(repo.createSku(sku)));
  }

  private Reply list(Request r) {
    PageQuery page = Lists.pageOf(r, Set.of());
    Product product = own.product(r.caller(), r.param("id"));
    return Reply.ok(Lists.render(repo.pageSkus(product.id(), page), SkuJson::render, Sku::id));
  }

  private Reply update(Request r) {
    Sku stored = own.sku(r.caller(), r.param("id"));
    Sku sku = SkuJson.parse(JsonInput.parse(r.body()), stored.id(), stored.productId(), stored.createdAt(),
        clock.instant());
    return new Reply(200, SkuJson.render(repo.updateSku(sku)), CatalogChange.product(stored.productId()));
  }

  private Reply prices(Request r) {
    Sku sku = own.sku(r.caller(), r.param("id"));
    if (r.query().get("at") == null) {
      return Reply.ok(AdminHttp.list(repo.priceHistory(sku.id()).stream().map(SkuJson::renderPrices).toList()));
    }
    String at = r.query().get("at");
    Instant t = r.instant("at", null);
    Prices prices = repo.pricesAt(sku.id(), t)
        .orElseThrow(() -> ApiError.notFound("no price in force at " + at + ": the SKU did not exist yet"));
    return Reply.ok(SkuJson.renderPrices(prices));
  }
}
