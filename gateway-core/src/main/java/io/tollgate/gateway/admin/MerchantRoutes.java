package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Merchant;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.SupportContact;
import io.vertx.core.http.HttpMethod;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code /admin/v1/merchants}: the operator creates and lists merchants and hands out their
 * tokens; a merchant reads and changes its own support contact ({@code supportPhone}, {@code
 * supportEmail}), which buyers see with their subscriptions. A token is shown once, at creation.
 */
final class MerchantRoutes {

  private static final Set<String> CREATE_FIELDS = Set.of("name", "supportPhone", "supportEmail");
  private static final Set<String> PATCH_FIELDS = Set.of("supportPhone", "supportEmail");

  private final CatalogRepository repo;
  private final Ownership own;

  MerchantRoutes(CatalogRepository repo, Ownership own) {
    this.repo = repo;
    this.own = own;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.POST, "/admin/v1/merchants", this::create);
    http.on(HttpMethod.GET, "/admin/v1/merchants", this::list);
    http.on(HttpMethod.GET, "/admin/v1/merchants/:id", r -> Reply.ok(render(own.merchant(r.caller(), r.param("id")))));
    http.on(HttpMethod.PATCH, "/admin/v1/merchants/:id", this::patch);
  }

  private Reply create(Request r) {
    Ownership.requireOperator(r.caller(), "creating merchants");
    JsonInput in = JsonInput.parse(r.body());
    in.allowOnly(CREATE_FIELDS);
    String name = in.requiredText("name");
    if (name.length() > 200) {
      throw ApiError.invalid("name must be at most 200 characters");
    }
    var support = new SupportContact(in.optionalText("supportPhone"), in.optionalText("supportEmail"));
    var created = repo.createMerchant(name, support);
    ObjectNode o = render(created.merchant());
    o.put("token", created.token());
    return Reply.created(o);
  }

  private Reply list(Request r) {
    Ownership.requireOperator(r.caller(), "listing merchants");
    return Reply.ok(Lists.render(repo.pageMerchants(Lists.pageOf(r, Set.of())), MerchantRoutes::render,
        Merchant::id));
  }

  /**
   * Changes the support contact: a field sent replaces the stored one, a field left out stays.
   * Buyers' cached subscriptions show the contact, so every product of the merchant is announced.
   */
  private Reply patch(Request r) {
    Merchant m = own.merchant(r.caller(), r.param("id"));
    JsonInput in = JsonInput.parse(r.body());
    in.allowOnly(PATCH_FIELDS);
    for (String field : PATCH_FIELDS) {
      if (in.fieldNames().contains(field) && !in.has(field)) {
        throw ApiError.invalid(field + " cannot be removed, only replaced");
      }
    }
    String phone = in.optionalText("supportPhone");
    String email = in.optionalText("supportEmail");
    if (phone == null && email == null) {
      throw ApiError.invalid("send supportPhone, supportEmail or both");
    }
    Merchant updated = repo.updateSupportContact(m.id(), phone, email);
    Set<String> products = repo.listProductsOf(m.id()).stream().map(Product::id).collect(Collectors.toSet());
    return new Reply(200, render(updated), new CatalogChange(Set.of(), products));
  }

  /** A merchant as the admin API shows it; never its token. */
  static ObjectNode render(Merchant m) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", m.id());
    o.put("object", "merchant");
    o.put("name", m.name());
    o.put("supportPhone", m.support().phone());
    o.put("supportEmail", m.support().email());
    o.put("createdAt", m.createdAt() == null ? null : m.createdAt().toString());
    return o;
  }
}
