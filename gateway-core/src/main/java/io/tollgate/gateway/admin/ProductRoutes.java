package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.ListingStatus;
import io.tollgate.gateway.catalog.PageQuery;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.ReservedNames;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.http.HttpMethod;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code /admin/v1/products}: a merchant's products (the operator's: everyone's). A product name
 * may not contain a reserved word ({@link ReservedNames}): 400 {@code reserved_name}. Its listing
 * review is {@link ListingRoutes}'.
 */
final class ProductRoutes {

  private static final String STATUSES =
      Arrays.stream(ListingStatus.values()).map(ListingStatus::wireName).collect(Collectors.joining(", "));

  private final CatalogRepository repo;
  private final Ownership own;
  private final AddressPolicy upstreamPolicy;
  private final ReservedNames reservedNames;

  ProductRoutes(CatalogRepository repo, Ownership own, AddressPolicy upstreamPolicy, ReservedNames reservedNames) {
    this.repo = repo;
    this.own = own;
    this.upstreamPolicy = upstreamPolicy;
    this.reservedNames = reservedNames;
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
    refuseReservedName(p.name());
    return Reply.created(ProductJson.render(repo.createProduct(p)));
  }

  private Reply list(Request r) {
    PageQuery page = Lists.pageOf(r, Set.of("merchantId", "status"));
    String merchantId = r.query().get("merchantId");
    String statusName = r.query().get("status");
    ListingStatus status = statusName == null ? null : ListingStatus.parse(statusName);
    if (statusName != null && status == null) {
      throw ApiError.invalid("status must be one of " + STATUSES + ": " + statusName);
    }
    if (!r.caller().isOperator()) {
      if (merchantId != null && !merchantId.equals(r.caller().merchantId())) {
        throw ApiError.forbidden("merchantId must be your own merchant id, or omitted");
      }
      merchantId = r.caller().merchantId();
    }
    return Reply.ok(Lists.render(repo.pageProducts(merchantId, status, page), ProductJson::render, Product::id));
  }

  private void refuseReservedName(String name) {
    reservedNames.findIn(name).ifPresent(word -> {
      throw new ApiError(400, "invalid_request_error", "reserved_name",
          "name contains the reserved word '" + word + "' (compared ignoring case, width and other Unicode"
              + " compatibility forms); a brand's name needs the marketplace's authorisation");
    });
  }

  private Reply update(Request r) {
    Product stored = own.product(r.caller(), r.param("id"));
    JsonInput in = JsonInput.parse(r.body());
    String given = in.optionalText("merchantId");
    if (given != null && !given.equals(stored.merchantId())) {
      throw ApiError.invalid("merchantId cannot change");
    }
    Product p = ProductJson.parse(in, stored.id(), stored.merchantId(), stored, stored.createdAt(), upstreamPolicy);
    if (!p.name().equals(stored.name())) {
      // A name stored before the word was reserved stays editable as long as it is kept.
      refuseReservedName(p.name());
    }
    return new Reply(200, ProductJson.render(repo.updateProduct(p)), CatalogChange.product(p.id()));
  }
}
