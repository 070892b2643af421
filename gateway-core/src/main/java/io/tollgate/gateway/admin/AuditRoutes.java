package io.tollgate.gateway.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.catalog.AuditEvent;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.PageQuery;
import io.vertx.core.http.HttpMethod;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The audit trail: {@link AdminHttp} records every successful admin write through {@link
 * #record}; {@code GET /admin/v1/audit?objectId=} reads it (the operator every event, a merchant
 * the events of its own objects).
 */
final class AuditRoutes {

  /** Request fields whose values are never kept: credentials, and endpoint headers that carry them. */
  private static final Set<String> SECRET_FIELDS =
      Set.of("secretkey", "token", "apikey", "password", "headers", "authorization");
  static final String MASK = "****";

  private final CatalogRepository repo;

  AuditRoutes(CatalogRepository repo) {
    this.repo = repo;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.GET, "/admin/v1/audit", this::list);
  }

  private Reply list(Request r) {
    PageQuery page = Lists.pageOf(r, Set.of("objectId"));
    String merchantId = r.caller().isOperator() ? null : r.caller().merchantId();
    return Reply.ok(Lists.render(repo.pageAudit(r.query().get("objectId"), merchantId, page), AuditRoutes::render,
        AuditEvent::id));
  }

  private static ObjectNode render(AuditEvent e) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", e.id());
    o.put("object", "audit_event");
    o.put("createdAt", e.createdAt().toString());
    o.put("actor", e.actor());
    o.put("action", e.action());
    o.put("objectId", e.objectId());
    try {
      o.set("changes", JsonInput.JSON.readTree(e.changes()));
    } catch (IOException ex) {
      o.put("changes", e.changes());
    }
    return o;
  }

  /**
   * Keeps one successful write: the action ({@code METHOD /route/:template}), the object (the
   * answer's {@code id}, else the route's {@code :id}) and the request body with every secret
   * masked. Called on the worker thread after the write committed.
   */
  void record(Request r, String action, Reply reply) {
    String objectId = reply.body() != null && reply.body().path("id").isTextual()
        ? reply.body().get("id").asText()
        : r.param("id");
    repo.audit(r.caller().actor(), action, objectId, masked(r.body()));
  }

  /** The body as JSON text with every secret field's value masked; {@code {}} when there is none. */
  static String masked(byte[] body) {
    if (body.length == 0) {
      return "{}";
    }
    JsonNode tree;
    try {
      tree = JsonInput.JSON.readTree(body);
    } catch (IOException e) {
      return "{}";
    }
    if (tree == null || tree.isMissingNode()) {
      return "{}";
    }
    mask(tree);
    return tree.toString();
  }

  private static void mask(JsonNode node) {
    if (node instanceof ObjectNode o) {
      for (Map.Entry<String, JsonNode> e : o.properties()) {
        if (SECRET_FIELDS.contains(e.getKey().toLowerCase(Locale.ROOT))) {
          e.setValue(maskedValue(e.getValue()));
        } else {
          mask(e.getValue());
        }
      }
    } else if (node.isArray()) {
      node.forEach(AuditRoutes::mask);
    }
  }

  /** A secret's mask: objects keep their keys (header names are not secret), values do not. */
  private static JsonNode maskedValue(JsonNode v) {
    if (v instanceof ObjectNode o) {
      ObjectNode m = JsonInput.JSON.createObjectNode();
      o.properties().forEach(e -> m.put(e.getKey(), MASK));
      return m;
    }
    return v.isNull() ? v : JsonInput.JSON.getNodeFactory().textNode(MASK);
  }
}
