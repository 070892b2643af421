package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import io.tollgate.gateway.admin.AdminServer.Caller;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Merchant;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;

/**
 * Who may see what on the admin port, in one place: the operator sees everything; a merchant its
 * own products, SKUs and subscriptions to them, and another merchant's are 404, exactly as if they
 * did not exist; operator-only actions are 403.
 */
final class Ownership {

  private final CatalogRepository repo;

  Ownership(CatalogRepository repo) {
    this.repo = repo;
  }

  static void requireOperator(Caller caller, String what) {
    if (!caller.isOperator()) {
      throw ApiError.forbidden(what + " is for the operator only");
    }
  }

  /** A merchant: the operator reads any, a merchant only itself. */
  Merchant merchant(Caller caller, String id) {
    return repo.getMerchant(id)
        .filter(m -> caller.owns(m.id()))
        .orElseThrow(() -> ApiError.notFound("merchant not found: " + id));
  }

  Product product(Caller caller, String id) {
    return repo.getProduct(id)
        .filter(p -> caller.owns(p.merchantId()))
        .orElseThrow(() -> ApiError.notFound("product not found: " + id));
  }

  Sku sku(Caller caller, String id) {
    ApiError notFound = ApiError.notFound("sku not found: " + id);
    Sku sku = repo.getSku(id).orElseThrow(() -> notFound);
    if (!caller.isOperator()) {
      repo.getProduct(sku.productId()).filter(p -> caller.owns(p.merchantId())).orElseThrow(() -> notFound);
    }
    return sku;
  }

  SubscriptionSnapshot subscription(Caller caller, String id) {
    return repo.findSnapshotById(id)
        .filter(s -> caller.owns(s.product().merchantId()))
        .orElseThrow(() -> ApiError.notFound("subscription not found: " + id));
  }
}
