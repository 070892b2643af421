package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Merchant;
import io.vertx.core.http.HttpMethod;
import java.util.Set;

/** {@code /admin/v1/merchants}: the operator creates merchants and hands out their tokens. */
final class MerchantRoutes {

  private static final Set<String> FIELDS = Set.of("name");

  private final CatalogRepository repo;

  MerchantRoutes(CatalogRepository repo) {
    this.repo = repo;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.POST, "/admin/v1/merchants", this::create);
  }

  private Reply create(Request r) {
    Ownership.requireOperator(r.caller(), "creating merchants");
    JsonInput in = JsonInput.parse(r.body());
    in.allowOnly(FIELDS);
    String name = in.requiredText("name");
    if (name.length() > 200) {
      throw ApiError.invalid("name must be at most 200 characters");
    }
    var created = repo.createMerchant(name);
    Merchant m = created.merchant();
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", m.id());
    o.put("object", "merchant");
    o.put("name", m.name());
    o.put("token", created.token());
    o.put("createdAt", m.createdAt().toString());
    return Reply.created(o);
  }
}
