package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.account.Entitlements;
import io.tollgate.gateway.account.SubscriptionJson;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.IssuedKey;
import io.tollgate.gateway.catalog.PageQuery;
import io.tollgate.gateway.catalog.PurchaseChoices;
import io.tollgate.gateway.catalog.SubscriptionFilter;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.vertx.core.http.HttpMethod;
import java.time.Clock;
import java.util.Locale;
import java.util.Set;

/**
 * {@code /admin/v1/subscriptions}: purchases and their lifecycle. Merchants create only test
 * subscriptions, on their own SKUs, and manage (suspend, resume, cancel, renew, rotate-key) only
 * those; buyer subscriptions are the operator's. A merchant lists every subscription to its own
 * SKUs, buyers' included (never a key), and nothing of other merchants'. A purchase and a renewal
 * take an {@code Idempotency-Key} ({@link Idempotency}).
 */
final class SubscriptionRoutes {

  private final CatalogRepository repo;
  private final Ownership own;
  private final Entitlements entitlements;
  private final Clock clock;
  private final Idempotency idempotency;
  private final LicenceMachines licence;

  SubscriptionRoutes(CatalogRepository repo, Ownership own, Entitlements entitlements, Clock clock,
      Idempotency idempotency, LicenceMachines licence) {
    this.licence = licence;
    this.repo = repo;
    this.own = own;
    this.entitlements = entitlements;
    this.clock = clock;
    this.idempotency = idempotency;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.POST, "/admin/v1/subscriptions",
        idempotency.on("POST /admin/v1/subscriptions", this::create));
    http.on(HttpMethod.GET, "/admin/v1/subscriptions", this::list);
    http.on(HttpMethod.GET, "/admin/v1/subscriptions/:id",
        r -> Reply.ok(render(own.subscription(r.caller(), r.param("id")), null)));
    http.on(HttpMethod.POST, "/admin/v1/subscriptions/:id/suspend", r -> setStatus(r, SubscriptionStatus.SUSPENDED));
    http.on(HttpMethod.POST, "/admin/v1/subscriptions/:id/resume", r -> setStatus(r, SubscriptionStatus.ACTIVE));
    http.on(HttpMethod.POST, "/admin/v1/subscriptions/:id/cancel", r -> setStatus(r, SubscriptionStatus.CANCELLED));
    http.on(HttpMethod.POST, "/admin/v1/subscriptions/:id/renew",
        idempotency.on("POST /admin/v1/subscriptions/{id}/renew", this::renew));
    http.on(HttpMethod.POST, "/admin/v1/subscriptions/:id/rotate-key", this::rotateKey);
    http.on(HttpMethod.GET, "/admin/v1/subscriptions/:id/machines", this::machines);
  }

  /**
   * The machines of a licence subscription (the merchant's for its own products', test codes
   * included; the operator's for any), in the list shape, oldest activation first. Not paged: a
   * licence has as many machines as seats, and dead ones are tidied away.
   */
  private Reply machines(Request r) {
    SubscriptionSnapshot snap = own.subscription(r.caller(), r.param("id"));
    if (snap.product().protocol() != io.tollgate.gateway.catalog.Protocol.LICENCE) {
      throw ApiError.invalid("subscription " + snap.subscription().id() + " is not a licence: it has no machines");
    }
    ObjectNode list = JsonInput.JSON.createObjectNode();
    list.put("object", "list");
    var data = list.putArray("data");
    var machines = licence.of(snap);
    for (var m : machines) {
      ObjectNode o = data.addObject();
      o.put("object", "licence.machine");
      o.put("fingerprint", m.fingerprint());
      o.put("hostname", m.hostname());
      o.put("activatedAt", m.activatedAt().toString());
      o.put("lastHeartbeatAt", m.lastHeartbeatAt().toString());
      o.put("alive", m.alive());
    }
    list.put("has_more", false);
    list.put("first_id", machines.isEmpty() ? null : machines.get(0).fingerprint());
    list.put("last_id", machines.isEmpty() ? null : machines.get(machines.size() - 1).fingerprint());
    return Reply.ok(list);
  }

  private Reply create(Request r) {
    JsonInput in = JsonInput.parse(r.body());
    in.allowOnly(SubscriptionJson.CREATE_FIELDS);
    String skuId = in.requiredText("skuId");
    boolean test = Boolean.TRUE.equals(in.optionalBoolean("test"));
    String buyerId = in.optionalText("buyerId");
    String buyerName = in.optionalText("buyerName");
    PurchaseChoices choices = parseChoices(in);
    if (buyerName != null && buyerName.length() > 200) {
      throw ApiError.invalid("buyerName must be at most 200 characters");
    }
    if (r.caller().isOperator()) {
      if (buyerId == null || buyerId.isBlank()) {
        throw ApiError.invalid("buyerId is required");
      }
      if (repo.getSku(skuId).isEmpty()) {
        throw ApiError.notFound("sku not found: " + skuId);
      }
    } else {
      if (!test) {
        throw ApiError.forbidden("merchants create only test subscriptions: send \"test\": true");
      }
      own.sku(r.caller(), skuId);
      if (buyerId == null || buyerId.isBlank()) {
        buyerId = "test-" + r.caller().merchantId();
      }
    }
    if (buyerId.length() > 200) {
      throw ApiError.invalid("buyerId must be at most 200 characters");
    }
    IssuedKey issued = repo.createSubscription(skuId, buyerId, buyerName, test, choices);
    // A new key: no cache holds it, so nothing to invalidate.
    return Reply.created(renderIssued(issued));
  }

  private static final Set<String> LIST_FILTERS = Set.of("skuId", "productId", "buyerId", "status", "test");

  /**
   * {@code GET /admin/v1/subscriptions?skuId=&productId=&buyerId=&status=&test=}: the operator's
   * list of every subscription, a merchant's of those to its own SKUs; a filter naming another
   * merchant's SKU or product selects nothing.
   */
  private Reply list(Request r) {
    PageQuery page = Lists.pageOf(r, LIST_FILTERS);
    var q = r.query();
    var filter = new SubscriptionFilter(r.caller().isOperator() ? null : r.caller().merchantId(), q.get("skuId"),
        q.get("productId"), q.get("buyerId"), status(q.get("status")), test(q.get("test")));
    return Reply.ok(Lists.render(repo.pageSubscriptions(filter, page), snap -> render(snap, null),
        snap -> snap.subscription().id()));
  }

  private static SubscriptionStatus status(String s) {
    if (s == null) {
      return null;
    }
    for (SubscriptionStatus status : SubscriptionStatus.values()) {
      if (status.name().toLowerCase(Locale.ROOT).equals(s)) {
        return status;
      }
    }
    throw ApiError.invalid("status must be one of active, suspended, expired, cancelled");
  }

  private static Boolean test(String s) {
    if (s == null) {
      return null;
    }
    return switch (s) {
      case "true" -> Boolean.TRUE;
      case "false" -> Boolean.FALSE;
      default -> throw ApiError.invalid("test must be true or false");
    };
  }

  /** Merchants manage their own test subscriptions only; buyers' are the operator's. */
  private SubscriptionSnapshot manageable(Request r) {
    SubscriptionSnapshot snap = own.subscription(r.caller(), r.param("id"));
    if (!r.caller().isOperator() && !snap.subscription().test()) {
      throw ApiError.forbidden("only the operator manages buyer subscriptions; merchants manage their test subscriptions");
    }
    return snap;
  }

  private Reply setStatus(Request r, SubscriptionStatus status) {
    String id = manageable(r).subscription().id();
    repo.setStatus(id, status);
    return new Reply(200, render(reread(id), null), CatalogChange.subscription(id));
  }

  private Reply renew(Request r) {
    String id = manageable(r).subscription().id();
    repo.renew(id);
    return new Reply(200, render(reread(id), null), CatalogChange.subscription(id));
  }

  private Reply rotateKey(Request r) {
    String id = manageable(r).subscription().id();
    IssuedKey issued = repo.rotateKey(id);
    return new Reply(200, renderIssued(issued), CatalogChange.subscription(id));
  }

  private SubscriptionSnapshot reread(String id) {
    return repo.findSnapshotById(id).orElseThrow(() -> ApiError.notFound("subscription not found: " + id));
  }

  private ObjectNode renderIssued(IssuedKey issued) {
    return render(reread(issued.subscription().id()), issued.apiKey());
  }

  /** A subscription as {@code GET /admin/v1/subscriptions/{id}} shows it; the key only when just issued. */
  ObjectNode render(SubscriptionSnapshot snap, String apiKey) {
    ObjectNode o = SubscriptionJson.render(snap, entitlements.of(snap), clock.instant());
    if (snap.product().protocol() == io.tollgate.gateway.catalog.Protocol.LICENCE) {
      long active = 0;
      java.time.Instant last = null;
      for (var m : licence.of(snap)) {
        active += m.alive() ? 1 : 0;
        last = last == null || m.lastHeartbeatAt().isAfter(last) ? m.lastHeartbeatAt() : last;
      }
      o.putObject("licence").put("activeMachines", active).put("lastHeartbeatAt", last == null ? null : last.toString());
    }
    if (apiKey != null) {
      o.put("apiKey", apiKey);
    }
    return o;
  }

  /**
   * The choices of a purchase body: {@code attributes} an object of strings, {@code quantities} an
   * object of positive integers (each 400 naming the field otherwise). Whether they fit the SKU is
   * the catalog's rule ({@code ChoiceRules}).
   */
  static PurchaseChoices parseChoices(JsonInput in) {
    java.util.Map<String, String> attributes = in.optionalStringMap("attributes");
    var quantities = new java.util.LinkedHashMap<String, Long>();
    JsonInput qs = in.optionalObject("quantities");
    if (qs != null) {
      for (String name : qs.fieldNames()) {
        Long q = qs.optionalPositiveLong(name);
        if (q != null) {
          quantities.put(name, q);
        }
      }
    }
    return new PurchaseChoices(attributes, quantities);
  }
}
