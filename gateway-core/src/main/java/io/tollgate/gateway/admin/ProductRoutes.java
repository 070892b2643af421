package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.http.HttpMethod;
import io.tollgate.gateway.catalog.PageQuery;
import java.util.Set;

/** {@code /admin/v1/products}: a merchant's products (the operator's: everyone's). */
final class ProductRoutes {

  private final CatalogRepository repo;
  private final Ownership own;
  private final AddressPolicy upstreamPolicy;

  ProductRoutes(CatalogRepository repo, Ownership own, AddressPolicy upstreamPolicy) {
    this.repo = repo;
    this.own = own;
    this.upstreamPolicy = upstreamPolicy;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.POST, "/admin/v1/products", this::create);
    http.on(HttpMethod.GET, "/admin/v1/products", this::list);
    http.on(HttpMethod.GET, "/admin/v1/products/:id",
        r -> Reply.ok(ProductJson.render(own.product(r.caller(), r.param("id")))));
    http.on(HttpMethod.PUT, "/admin/v1/products/:id", this::update);
  }

  private Reply create(Request r) {
    JsonInput in = JsonInput.parse(r.body());
    String given = in.optionalText("merchantId");
    String merchantId;
    if (r.caller().isOperator()) {
      if (given == null || given.isBlank()) {
        throw ApiError.invalid("merchantId is required when the operator creates a product");
      }
      if (repo.getMerchant(given).isEmpty()) {
        throw ApiError.invalid("merchantId names no merchant: " + given);
      }
      merchantId = given;
    } else {
      if (given != null && !given.equals(r.caller().merchantId())) {
        throw ApiError.invalid("merchantId must be your own merchant id, or omitted");
      }
      merchantId = r.caller().merchantId();
    }
    Product p = ProductJson.parse(in, ApiKeys.newId("prod"), merchantId, null, null, upstreamPolicy);
    return Reply.created(ProductJson.render(repo.createProduct(p)));
  }

  private Reply list(Request r) {
    PageQuery page = Lists.pageOf(r, Set.of("merchantId"));
    String merchantId = r.query().get("merchantId");
    if (!r.caller().isOperator()) {
      if (merchantId != null && !merchantId.equals(r.caller().merchantId())) {
        throw ApiError.forbidden("merchantId must be your own merchant id, or omitted");
      }
      merchantId = r.caller().merchantId();
    }
    return Reply.ok(Lists.render(repo.pageProducts(merchantId, page), ProductJson::render, Product::id));
  }

  private Reply update(Request r) {
    Product stored = own.product(r.caller(), r.param("id"));
    JsonInput in = JsonInput.parse(r.body());
    String given = in.optionalText("merchantId");
    if (given != null && !given.equals(stored.merchantId())) {
      throw ApiError.invalid("merchantId cannot change");
    }
    Product p = ProductJson.parse(in, stored.id(), stored.merchantId(), stored, stored.createdAt(), upstreamPolicy);
    return new Reply(200, ProductJson.render(repo.updateProduct(p)), CatalogChange.product(p.id()));
  }
}
