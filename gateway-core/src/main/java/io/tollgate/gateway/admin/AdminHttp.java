package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.billing.BillingStoreException;
import io.tollgate.gateway.admin.AdminServer.Caller;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogException;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin port's HTTP core, shared by every route class: authentication (and its throttle),
 * body limits, running each action on a worker thread, announcing catalog changes, and mapping
 * every failure to the one error shape. Route classes only parse, decide and render.
 */
final class AdminHttp {

  private static final Logger log = LoggerFactory.getLogger(AdminHttp.class);
  private static final String CALLER_KEY = "tollgate.admin.caller";
  private static final String JSON_TYPE = "application/json";
  private static final int WORKER_POOL_SIZE = 4;

  /** A request's inputs, copied off the routing context so a worker thread may read them. */
  record Request(Caller caller, Map<String, String> params, Map<String, String> query, byte[] body,
      Map<String, String> headers) {

    String param(String name) {
      return params.get(name);
    }

    /** A request header by its lower-case name; null if absent. */
    String header(String lowerCaseName) {
      return headers.get(lowerCaseName);
    }

    /** The query parameter {@code name} as an ISO-8601 instant, or {@code dflt} if absent. */
    Instant instant(String name, Instant dflt) {
      String v = query.get(name);
      if (v == null) {
        return dflt;
      }
      try {
        return Instant.parse(v);
      } catch (DateTimeParseException e) {
        throw ApiError.invalid(name + " must be an ISO-8601 instant such as 2025-01-01T00:00:00Z");
      }
    }
  }

  /** A response (with extra {@code headers}), and what buyers can observe of the write behind it. */
  record Reply(int status, JsonNode body, CatalogChange change, Map<String, String> headers) {
    Reply {
      headers = Map.copyOf(headers);
    }

    Reply(int status, JsonNode body, CatalogChange change) {
      this(status, body, change, Map.of());
    }

    static Reply ok(JsonNode body) {
      return new Reply(200, body, CatalogChange.NONE);
    }

    static Reply created(JsonNode body) {
      return new Reply(201, body, CatalogChange.NONE);
    }
  }

  private final Vertx vertx;
  private final Router router;
  private final CatalogRepository repo;
  private final String operatorToken;
  private final int bodyLimitBytes;
  private final Consumer<CatalogChange> onCatalogChange;
  private final WorkerExecutor workers;
  private final AuthenticationThrottle throttle;
  private AuditRoutes audit;

  AdminHttp(Vertx vertx, CatalogRepository repo, AdminServer.Options opts, java.time.Clock clock) {
    this.vertx = vertx;
    this.repo = repo;
    this.operatorToken = opts.operatorToken();
    this.bodyLimitBytes = opts.bodyLimitBytes();
    this.onCatalogChange = opts.onCatalogChange();
    this.workers = vertx.createSharedWorkerExecutor("tollgate-admin", WORKER_POOL_SIZE);
    this.throttle = new AuthenticationThrottle(clock);
    this.router = Router.router(vertx);
  }

  Router router() {
    return router;
  }

  /** Keeps every successful write from now on in {@code audit}'s trail. */
  void auditWith(AuditRoutes audit) {
    this.audit = audit;
  }

  Future<Void> close() {
    return workers.close();
  }

  /** Puts the body limit and authentication in front of every route under {@code prefix}. */
  void guard(String prefix) {
    router.route(prefix).handler(BodyHandler.create(false).setBodyLimit(bodyLimitBytes)).handler(this::authenticate);
  }

  /** Routes {@code method path} to {@code action}, run on a worker thread. */
  void on(HttpMethod method, String path, Function<Request, Reply> action) {
    router.route(method, path).handler(ctx -> execute(ctx, action));
  }

  /** The answers of the router's own refusals (no route, wrong method, body too large). */
  void installErrorHandlers() {
    router.errorHandler(400, ctx -> sendError(ctx, ApiError.invalid("bad request")));
    router.errorHandler(404, ctx -> sendError(ctx, ApiError.notFound(
        "no such endpoint: " + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> sendError(ctx, new ApiError(405, "invalid_request_error",
        "method_not_allowed", ctx.request().method() + " is not allowed on " + ctx.request().path())));
    router.errorHandler(413, ctx -> sendError(ctx, new ApiError(413, "invalid_request_error",
        "payload_too_large", "the request body exceeds " + bodyLimitBytes + " bytes")));
    router.errorHandler(500, ctx -> sendError(ctx, ctx.failure() == null
        ? new ApiError(500, "server_error", "internal_error", "internal error")
        : ctx.failure()));
  }

  void execute(RoutingContext ctx, Function<Request, Reply> work) {
    var query = new HashMap<String, String>();
    ctx.queryParams().forEach(e -> query.putIfAbsent(e.getKey(), e.getValue()));
    var headers = new HashMap<String, String>();
    ctx.request().headers().forEach(e -> headers.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
    Buffer body = ctx.body() == null ? null : ctx.body().buffer();
    var request = new Request(caller(ctx), Map.copyOf(ctx.pathParams()), Map.copyOf(query),
        body == null ? new byte[0] : body.getBytes(), Map.copyOf(headers));
    String action = ctx.request().method().name() + " " + ctx.currentRoute().getPath();
    boolean write = ctx.request().method() != HttpMethod.GET && ctx.request().method() != HttpMethod.HEAD;
    blocking(() -> {
      Reply reply = work.apply(request);
      if (write && audit != null && reply.status() < 300) {
        try {
          audit.record(request, action, reply);
        } catch (RuntimeException e) {
          // The write committed: answer it, and say loudly that its audit entry is missing.
          log.error("admin write {} committed but its audit entry could not be kept", action, e);
        }
      }
      return reply;
    }).onComplete(ar -> {
      if (ar.failed()) {
        sendError(ctx, ar.cause());
        return;
      }
      Reply reply = ar.result();
      if (!reply.change().isEmpty()) {
        try {
          onCatalogChange.accept(reply.change());
        } catch (RuntimeException e) {
          log.warn("onCatalogChange failed after a committed admin write", e);
        }
      }
      if (!ctx.response().ended()) {
        reply.headers().forEach(ctx.response()::putHeader);
      }
      send(ctx, reply.status(), reply.body());
    });
  }

  <T> Future<T> blocking(Callable<T> work) {
    return workers.executeBlocking(work, /* ordered= */ false);
  }

  // ---------------------------------------------------------------- authentication

  static Caller caller(RoutingContext ctx) {
    Caller c = ctx.get(CALLER_KEY);
    if (c == null) {
      throw new IllegalStateException("no authenticated caller: the route is not under /admin/v1/");
    }
    return c;
  }

  void authenticate(RoutingContext ctx) {
    // Keyed by the TCP peer, never a forwarded-for header a client could write.
    String address = clientAddress(ctx);
    long retryAfter = throttle.retryAfterSeconds(address);
    if (retryAfter > 0) {
      ctx.response().putHeader(HttpHeaders.RETRY_AFTER, Long.toString(retryAfter));
      sendError(ctx, new ApiError(429, "rate_limit_exceeded", "too_many_failed_authentications",
          "too many failed authentications from this address; try again in " + retryAfter + "s"));
      return;
    }
    String token = bearerToken(ctx.request().getHeader(HttpHeaders.AUTHORIZATION));
    if (token == null) {
      // Not counted: a request without a token guesses nothing.
      sendError(ctx, ApiError.unauthorized("missing token: send Authorization: Bearer <token>"));
      return;
    }
    if (ApiKeys.constantTimeEquals(operatorToken, token)) {
      ctx.put(CALLER_KEY, Caller.OPERATOR);
      ctx.next();
      return;
    }
    boolean merchant = token.startsWith(ApiKeys.MERCHANT_PREFIX);
    if (!merchant && !token.startsWith(ApiKeys.BUYER_PREFIX)) {
      refuseToken(ctx, address, throttle.countFailure(address));
      return;
    }
    // Counted as a failure until the lookup proves it right (see AuthenticationThrottle).
    AuthenticationThrottle.Window guess = throttle.countFailure(address);
    String hash = ApiKeys.sha256Hex(token);
    blocking(() -> merchant
        ? repo.findMerchantByTokenHash(hash).map(m -> new Caller(m.id()))
        : repo.findSnapshotByKeyHash(hash).map(s -> Caller.buyer(s.subscription().id())))
        .onComplete(ar -> {
          if (ar.failed()) {
            throttle.forgive(guess);
            sendError(ctx, ar.cause());
          } else if (ar.result().isEmpty()) {
            refuseToken(ctx, address, guess);
          } else {
            throttle.forgive(guess);
            Caller caller = ar.result().get();
            if (caller.isBuyer() && !buyerMayCall(ctx)) {
              sendError(ctx, ApiError.forbidden("a buyer's API key reads only GET /admin/v1/me and GET"
                  + " /admin/v1/usage on the admin port"));
              return;
            }
            ctx.put(CALLER_KEY, caller);
            ctx.next();
          }
        });
  }

  /** The admin routes a buyer's API key may call: its own identity and usage, read-only. */
  private static boolean buyerMayCall(RoutingContext ctx) {
    String path = ctx.normalizedPath();
    return ctx.request().method() == HttpMethod.GET
        && (path.equals("/admin/v1/me") || path.equals("/admin/v1/usage"));
  }

  private static String clientAddress(RoutingContext ctx) {
    var peer = ctx.request().remoteAddress();
    String host = peer == null ? null : peer.hostAddress();
    return host == null ? "" : host;
  }

  private void refuseToken(RoutingContext ctx, String address, AuthenticationThrottle.Window counted) {
    if (counted.closedJustNow()) {
      log.warn("admin: {} failed authentications from {} within {}; refusing its requests until the window ends",
          AuthenticationThrottle.MAX_FAILURES, address, AuthenticationThrottle.WINDOW);
    }
    sendError(ctx, ApiError.unauthorized("invalid admin token"));
  }

  private static String bearerToken(String header) {
    if (header == null || header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = header.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  // ---------------------------------------------------------------- responses

  static ObjectNode list(List<? extends JsonNode> items) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    o.putArray("data").addAll(items);
    return o;
  }

  static void send(RoutingContext ctx, int status, JsonNode body) {
    if (ctx.response().ended()) {
      return;
    }
    String json;
    try {
      json = JsonInput.JSON.writeValueAsString(body);
    } catch (JsonProcessingException e) {
      sendError(ctx, e);
      return;
    }
    ctx.response()
        .setStatusCode(status)
        .putHeader(HttpHeaders.CONTENT_TYPE, JSON_TYPE)
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        .end(json);
  }

  static void sendError(RoutingContext ctx, Throwable failure) {
    ApiError e = toApiError(failure);
    ObjectNode body = JsonInput.JSON.createObjectNode();
    ObjectNode err = body.putObject("error");
    err.put("message", e.getMessage());
    err.put("type", e.type());
    err.put("code", e.code());
    if (e.status() == 401) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
    }
    send(ctx, e.status(), body);
  }

  static ApiError toApiError(Throwable failure) {
    if (failure instanceof ApiError e) {
      return e;
    }
    if (failure instanceof CatalogException e) {
      return switch (e.kind()) {
        case NOT_FOUND -> ApiError.notFound(e.getMessage());
        case CONFLICT -> e.code() == null ? ApiError.conflict(e.getMessage())
            : new ApiError(409, "invalid_request_error", e.code(), e.getMessage());
        case UNAVAILABLE -> {
          log.error("catalog database unavailable", e);
          yield new ApiError(503, "server_error", "catalog_unavailable", "the catalog database is unavailable");
        }
      };
    }
    if (failure instanceof BillingStoreException e) {
      log.error("billing database unavailable", e);
      return new ApiError(503, "server_error", "store_unavailable", "the billing database is unavailable");
    }
    if (failure instanceof IllegalArgumentException e) {
      return ApiError.invalid(e.getMessage());
    }
    log.error("admin request failed", failure);
    return new ApiError(500, "server_error", "internal_error", "internal error");
  }
}
