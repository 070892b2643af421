package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.admin.AdminServer.Caller;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.vertx.core.http.HttpMethod;

/**
 * {@code GET /admin/v1/me}: who the token is, so that a client (the console) knows what to show:
 * {@code {"object":"caller","role","merchantId","name"}}, and for a buyer's API key its
 * subscription as {@code GET /v1/subscription} shows it.
 */
final class MeRoutes {

  private final CatalogRepository repo;
  private final SubscriptionRoutes subscriptions;

  MeRoutes(CatalogRepository repo, SubscriptionRoutes subscriptions) {
    this.repo = repo;
    this.subscriptions = subscriptions;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.GET, "/admin/v1/me", this::me);
  }

  private Reply me(Request r) {
    Caller caller = r.caller();
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "caller");
    o.put("role", caller.role());
    o.put("merchantId", caller.merchantId());
    if (caller.isOperator()) {
      o.put("name", "operator");
    } else if (caller.isBuyer()) {
      SubscriptionSnapshot snap = repo.findSnapshotById(caller.subscriptionId())
          .orElseThrow(() -> ApiError.unauthorized("the API key's subscription no longer exists"));
      String buyerName = snap.subscription().buyerName();
      o.put("name", buyerName == null || buyerName.isEmpty() ? snap.subscription().buyerId() : buyerName);
      o.put("buyerId", snap.subscription().buyerId());
      o.set("subscription", subscriptions.render(snap, null));
    } else {
      o.put("name", repo.getMerchant(caller.merchantId()).map(m -> m.name()).orElse(null));
    }
    return Reply.ok(o);
  }
}
