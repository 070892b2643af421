package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.ListingAction;
import io.tollgate.gateway.catalog.ListingPolicy;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.SupportFailure;
import io.tollgate.gateway.catalog.SupportFailureOutcome;
import io.vertx.core.http.HttpMethod;
import java.util.Set;

/**
 * A product's listing review ({@code POST /admin/v1/products/{id}/submit|approve|reject|delist})
 * and the support replies its merchant missed ({@code /admin/v1/products/{id}/support-failures}).
 * The rules are the catalog's ({@code ListingRules}); this class decides only who may ask:
 *
 * <ul>
 *   <li>{@code submit}: the product's merchant (or the operator for it); no body.
 *   <li>{@code approve}, {@code reject} {@code {"reason"}}, {@code delist} {@code {"reason"}}:
 *       the operator; merchants get 403.
 *   <li>{@code POST support-failures} {@code {"note"}}: the operator. {@code GET}: the operator,
 *       or the product's merchant.
 * </ul>
 *
 * <p>Every change of a listing is announced ({@link CatalogChange#product}), so cached
 * subscriptions show the product's new status.
 */
final class ListingRoutes {

  /** Longest review reason or support failure note accepted. */
  static final int MAX_NOTE = 1000;

  private static final Set<String> REASON_FIELDS = Set.of("reason");
  private static final Set<String> NOTE_FIELDS = Set.of("note");

  private final CatalogRepository repo;
  private final Ownership own;
  private final ListingPolicy policy;

  ListingRoutes(CatalogRepository repo, Ownership own, ListingPolicy policy) {
    this.repo = repo;
    this.own = own;
    this.policy = policy;
  }

  void mount(AdminHttp http) {
    for (ListingAction action : ListingAction.values()) {
      http.on(HttpMethod.POST, "/admin/v1/products/:id/" + action.wireName(), r -> change(r, action));
    }
    http.on(HttpMethod.POST, "/admin/v1/products/:id/support-failures", this::recordSupportFailure);
    http.on(HttpMethod.GET, "/admin/v1/products/:id/support-failures", this::listSupportFailures);
  }

  private Reply change(Request r, ListingAction action) {
    if (action != ListingAction.SUBMIT) {
      Ownership.requireOperator(r.caller(), action.wireName() + " (the listing review)");
    }
    Product product = own.product(r.caller(), r.param("id"));
    String reason = null;
    if (action == ListingAction.REJECT || action == ListingAction.DELIST) {
      reason = note(r, REASON_FIELDS, "reason");
    } else if (r.body().length > 0) {
      JsonInput.parse(r.body()).allowOnly(Set.of());
    }
    Product changed = repo.changeListing(product.id(), action, reason);
    return new Reply(200, ProductJson.render(changed), CatalogChange.product(changed.id()));
  }

  private Reply recordSupportFailure(Request r) {
    Ownership.requireOperator(r.caller(), "recording a missed support reply");
    Product product = own.product(r.caller(), r.param("id"));
    String note = note(r, NOTE_FIELDS, "note");
    SupportFailureOutcome outcome = repo.recordSupportFailure(product.id(), note, policy.supportFailuresToDelist());
    ObjectNode o = render(outcome.failure());
    o.put("failuresInWindow", outcome.failuresInWindow());
    o.put("productStatus", outcome.product().status().wireName());
    return new Reply(201, o, outcome.delisted() ? CatalogChange.product(product.id()) : CatalogChange.NONE);
  }

  private Reply listSupportFailures(Request r) {
    Product product = own.product(r.caller(), r.param("id"));
    return Reply.ok(Lists.render(repo.pageSupportFailures(product.id(), Lists.pageOf(r, Set.of())),
        ListingRoutes::render, SupportFailure::id));
  }

  private static String note(Request r, Set<String> fields, String field) {
    JsonInput in = JsonInput.parse(r.body());
    in.allowOnly(fields);
    String note = in.requiredText(field);
    if (note.length() > MAX_NOTE) {
      throw ApiError.invalid(field + " must be at most " + MAX_NOTE + " characters");
    }
    return note;
  }

  static ObjectNode render(SupportFailure f) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", f.id());
    o.put("object", "support_failure");
    o.put("productId", f.productId());
    o.put("note", f.note());
    o.put("createdAt", f.createdAt().toString());
    return o;
  }
}
