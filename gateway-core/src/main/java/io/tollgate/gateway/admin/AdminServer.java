package io.tollgate.gateway.admin;

import io.tollgate.billing.BillingStoreException;
import io.tollgate.billing.Pricing;
import io.tollgate.billing.RecordJson;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RecordPage;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UnknownRecordException;
import io.tollgate.billing.UsageRecord;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.UsageCounts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogException;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.IssuedKey;
import io.tollgate.gateway.catalog.Merchant;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API (DESIGN.md "Admin port") on Vert.x: merchants, products, SKUs and their prices,
 * subscriptions.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Every {@code /admin/v1/*} and {@code /billing/v1/*} request carries {@code Authorization:
 *       Bearer} with the operator token (compared in constant time) or a merchant token (looked up
 *       by its SHA-256), else 401. A merchant sees only its own products, SKUs and subscriptions:
 *       another merchant's are 404, exactly as if they did not exist; operator-only endpoints are
 *       403.
 *   <li>{@code GET /billing/v1/records} (mounted when {@link Options#records} is set) pages the
 *       billing ledger: the operator reads every record, a merchant its own (see {@link
 *       #records}).
 *   <li>Merchants create only test subscriptions, on their own SKUs, and manage (suspend, resume,
 *       cancel, renew, rotate-key) only those; buyer subscriptions are the operator's.
 *   <li>Upstream secrets never appear in a response: see {@link ProductJson}. Nothing here logs a
 *       request body.
 *   <li>After {@value AuthenticationThrottle#MAX_FAILURES} wrong tokens from one client address
 *       within a minute, every request from it is 429 {@code too_many_failed_authentications} with
 *       {@code retry-after} until that minute ends: see {@link AuthenticationThrottle}.
 *   <li>Every error is {@code {"error":{"message","type","code"}}}; a 400 names the field.
 *   <li>JDBC runs on a worker pool, never on the event loop. {@code onCatalogChange} runs on the
 *       event loop after each committed write that buyers can observe (product and SKU updates,
 *       subscription creation and every lifecycle action), before the response is sent.
 * </ul>
 *
 * <p>Mount extra routes (metrics, health, usage) on {@link #router()} before {@link #listen}.
 * Routes under {@code /admin/v1/} added later still pass the authentication handler and can read
 * the caller with {@link #caller(RoutingContext)}.
 */
public final class AdminServer {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final String CALLER_KEY = "tollgate.admin.caller";
  private static final String JSON_TYPE = "application/json";
  private static final int WORKER_POOL_SIZE = 4;

  /**
   * How the admin server is set up.
   *
   * @param operatorToken the operator's bearer token ({@code admin.token}); required
   * @param onCatalogChange runs after each committed write buyers can observe; defaults to nothing
   * @param clock the time statuses are computed at; null means the repository's clock
   * @param usageView usage shown with subscriptions; defaults to {@link UsageView#NONE}
   * @param bodyLimitBytes larger request bodies get 413; defaults to 1 MiB
   * @param usageHistory answers {@code GET /admin/v1/usage} (the meter store's query, asked per
   *     minute by subscription and by SKU, so that usage can be priced); defaults to no usage
   * @param upstreamPolicy the addresses product endpoints may not resolve to; defaults to {@link
   *     AddressPolicy#ALLOW_ALL}
   * @param records answers {@code GET /billing/v1/records} (the pull API); defaults to none: the
   *     route is not mounted and answers 404
   */
  public record Options(
      String operatorToken,
      Consumer<CatalogChange> onCatalogChange,
      Clock clock,
      UsageView usageView,
      int bodyLimitBytes,
      UsageHistory usageHistory,
      AddressPolicy upstreamPolicy,
      RecordLedger records) {

    public static final int DEFAULT_BODY_LIMIT_BYTES = 1 << 20;

    public Options {
      if (operatorToken == null || operatorToken.isBlank()) {
        throw new IllegalArgumentException("admin.token (the operator token) must be set");
      }
      onCatalogChange = onCatalogChange == null ? change -> {} : onCatalogChange;
      usageView = usageView == null ? UsageView.NONE : usageView;
      bodyLimitBytes = bodyLimitBytes <= 0 ? DEFAULT_BODY_LIMIT_BYTES : bodyLimitBytes;
      usageHistory = usageHistory == null ? (selector, from, to, granularity) -> List.of() : usageHistory;
      upstreamPolicy = upstreamPolicy == null ? AddressPolicy.ALLOW_ALL : upstreamPolicy;
    }

    /** Options with every default and the given operator token. */
    public static Options of(String operatorToken) {
      return new Options(operatorToken, null, null, null, 0, null, null, null);
    }

    public Options withOnCatalogChange(Consumer<CatalogChange> r) {
      return new Options(operatorToken, r, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy, records);
    }

    public Options withClock(Clock c) {
      return new Options(operatorToken, onCatalogChange, c, usageView, bodyLimitBytes, usageHistory, upstreamPolicy, records);
    }

    public Options withUsageView(UsageView u) {
      return new Options(operatorToken, onCatalogChange, clock, u, bodyLimitBytes, usageHistory, upstreamPolicy, records);
    }

    public Options withUsageHistory(UsageHistory h) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, h, upstreamPolicy, records);
    }

    public Options withBodyLimitBytes(int limit) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, limit, usageHistory, upstreamPolicy, records);
    }

    public Options withUpstreamPolicy(AddressPolicy p) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, p, records);
    }

    public Options withRecords(RecordLedger ledger) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy,
          ledger);
    }

    /** Never prints the operator token. */
    @Override
    public String toString() {
      return "AdminServer.Options[operatorToken=****, clock=" + clock + ", bodyLimitBytes="
          + bodyLimitBytes + "]";
    }
  }

  /** Who made an admin request: the operator, or one merchant. */
  public record Caller(String merchantId) {
    public static final Caller OPERATOR = new Caller(null);

    public boolean isOperator() {
      return merchantId == null;
    }

    /** Whether this caller may see objects of {@code ownerMerchantId}. */
    public boolean owns(String ownerMerchantId) {
      return isOperator() || merchantId.equals(ownerMerchantId);
    }
  }

  private final Vertx vertx;
  private final CatalogRepository repo;
  private final Options opts;
  private final Clock clock;
  private final Router router;
  private final WorkerExecutor workers;
  private final AuthenticationThrottle throttle;
  private HttpServer server;

  public AdminServer(Vertx vertx, CatalogRepository repo, Options opts) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.repo = Objects.requireNonNull(repo, "repo");
    this.opts = Objects.requireNonNull(opts, "opts");
    this.clock = opts.clock() != null ? opts.clock() : repo.clock();
    this.workers = vertx.createSharedWorkerExecutor("tollgate-admin", WORKER_POOL_SIZE);
    this.throttle = new AuthenticationThrottle(clock);
    this.router = Router.router(vertx);
    installRoutes();
  }

  /** The router; add routes before {@link #listen}. */
  public Router router() {
    return router;
  }

  /**
   * The bearer-token check of {@code /admin/v1/*}, to put in front of other routes that need it
   * (e.g. {@code /billing/v1/*}): it answers 401 itself, or stores the {@link Caller} and calls
   * {@code next()}.
   */
  public Handler<RoutingContext> authenticationHandler() {
    return this::authenticate;
  }

  /** The caller authenticated for a request under {@code /admin/v1/}. */
  public static Caller caller(RoutingContext ctx) {
    Caller c = ctx.get(CALLER_KEY);
    if (c == null) {
      throw new IllegalStateException("no authenticated caller: the route is not under /admin/v1/");
    }
    return c;
  }

  /** Starts serving; port 0 binds a free port ({@link HttpServer#actualPort()}). */
  public Future<HttpServer> listen(String host, int port) {
    return vertx
        .createHttpServer()
        .requestHandler(router)
        .listen(port, host)
        .onSuccess(s -> server = s);
  }

  /** Stops serving and releases the worker pool. */
  public Future<Void> close() {
    Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
    return closed.eventually(workers::close);
  }

  // ---------------------------------------------------------------- routes

  private void installRoutes() {
    router
        .route("/admin/v1/*")
        .handler(BodyHandler.create(false).setBodyLimit(opts.bodyLimitBytes()))
        .handler(this::authenticate);

    on(HttpMethod.POST, "/admin/v1/merchants", this::createMerchant);

    on(HttpMethod.POST, "/admin/v1/products", this::createProduct);
    on(HttpMethod.GET, "/admin/v1/products", this::listProducts);
    on(HttpMethod.GET, "/admin/v1/products/:id", r -> Reply.ok(ProductJson.render(ownedProduct(r.caller, r.param("id")))));
    on(HttpMethod.PUT, "/admin/v1/products/:id", this::updateProduct);
    on(HttpMethod.POST, "/admin/v1/products/:id/skus", this::createSku);
    on(HttpMethod.GET, "/admin/v1/products/:id/skus", this::listSkus);

    on(HttpMethod.GET, "/admin/v1/skus/:id", r -> Reply.ok(SkuJson.render(ownedSku(r.caller, r.param("id")))));
    on(HttpMethod.PUT, "/admin/v1/skus/:id", this::updateSku);
    on(HttpMethod.GET, "/admin/v1/skus/:id/prices", this::skuPrices);

    on(HttpMethod.GET, "/admin/v1/usage", this::usage);

    on(HttpMethod.POST, "/admin/v1/subscriptions", this::createSubscription);
    on(HttpMethod.GET, "/admin/v1/subscriptions/:id", r -> Reply.ok(renderSubscription(ownedSubscription(r.caller, r.param("id")), null)));
    on(HttpMethod.POST, "/admin/v1/subscriptions/:id/suspend", r -> setStatus(r, SubscriptionStatus.SUSPENDED));
    on(HttpMethod.POST, "/admin/v1/subscriptions/:id/resume", r -> setStatus(r, SubscriptionStatus.ACTIVE));
    on(HttpMethod.POST, "/admin/v1/subscriptions/:id/cancel", r -> setStatus(r, SubscriptionStatus.CANCELLED));
    on(HttpMethod.POST, "/admin/v1/subscriptions/:id/renew", this::renew);
    on(HttpMethod.POST, "/admin/v1/subscriptions/:id/rotate-key", this::rotateKey);

    if (opts.records() != null) {
      router
          .route("/billing/v1/*")
          .handler(BodyHandler.create(false).setBodyLimit(opts.bodyLimitBytes()))
          .handler(this::authenticate);
      router.get(RECORDS_PATH).handler(ctx -> {
        String repeated = firstRepeated(ctx);
        if (repeated != null) {
          sendError(ctx, ApiError.invalid(repeated + " is given more than once"));
        } else {
          execute(ctx, this::records);
        }
      });
    }

    router.errorHandler(400, ctx -> sendError(ctx, ApiError.invalid("bad request")));
    router.errorHandler(404, ctx -> sendError(ctx, ApiError.notFound(
        "no such endpoint: " + ctx.request().method() + " " + ctx.request().path())));
    router.errorHandler(405, ctx -> sendError(ctx, new ApiError(405, "invalid_request_error",
        "method_not_allowed", ctx.request().method() + " is not allowed on " + ctx.request().path())));
    router.errorHandler(413, ctx -> sendError(ctx, new ApiError(413, "invalid_request_error",
        "payload_too_large", "the request body exceeds " + opts.bodyLimitBytes() + " bytes")));
    router.errorHandler(500, ctx -> sendError(ctx, ctx.failure() == null
        ? new ApiError(500, "server_error", "internal_error", "internal error")
        : ctx.failure()));
  }

  /** A request's inputs, copied off the routing context so a worker thread may read them. */
  private record Request(Caller caller, Map<String, String> params, Map<String, String> query, byte[] body) {
    String param(String name) {
      return params.get(name);
    }
  }

  /** A response, and whether buyers can observe the write behind it. */
  private record Reply(int status, JsonNode body, CatalogChange change) {
    static Reply ok(JsonNode body) {
      return new Reply(200, body, CatalogChange.NONE);
    }
  }

  private void on(HttpMethod method, String path, Function<Request, Reply> action) {
    router.route(method, path).handler(ctx -> execute(ctx, action));
  }

  private void execute(RoutingContext ctx, Function<Request, Reply> action) {
    var query = new HashMap<String, String>();
    ctx.queryParams().forEach(e -> query.putIfAbsent(e.getKey(), e.getValue()));
    Buffer body = ctx.body() == null ? null : ctx.body().buffer();
    var request =
        new Request(caller(ctx), Map.copyOf(ctx.pathParams()), Map.copyOf(query),
            body == null ? new byte[0] : body.getBytes());
    blocking(() -> action.apply(request))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                sendError(ctx, ar.cause());
                return;
              }
              Reply reply = ar.result();
              if (!reply.change().isEmpty()) {
                try {
                  opts.onCatalogChange().accept(reply.change());
                } catch (RuntimeException e) {
                  log.warn("onCatalogChange failed after a committed admin write", e);
                }
              }
              send(ctx, reply.status(), reply.body());
            });
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return workers.executeBlocking(work, /* ordered= */ false);
  }

  // ---------------------------------------------------------------- authentication

  private void authenticate(RoutingContext ctx) {
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
    if (ApiKeys.constantTimeEquals(opts.operatorToken(), token)) {
      ctx.put(CALLER_KEY, Caller.OPERATOR);
      ctx.next();
      return;
    }
    if (!token.startsWith(ApiKeys.MERCHANT_PREFIX)) {
      refuseToken(ctx, address, throttle.countFailure(address));
      return;
    }
    // Counted as a failure until the lookup proves it right (see AuthenticationThrottle).
    AuthenticationThrottle.Window guess = throttle.countFailure(address);
    String hash = ApiKeys.sha256Hex(token);
    blocking(() -> repo.findMerchantByTokenHash(hash))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                throttle.forgive(guess);
                sendError(ctx, ar.cause());
              } else if (ar.result().isEmpty()) {
                refuseToken(ctx, address, guess);
              } else {
                throttle.forgive(guess);
                ctx.put(CALLER_KEY, new Caller(ar.result().get().id()));
                ctx.next();
              }
            });
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

  private static void requireOperator(Caller caller, String what) {
    if (!caller.isOperator()) {
      throw ApiError.forbidden(what + " is for the operator only");
    }
  }

  // ---------------------------------------------------------------- ownership (404, never 403)

  private Product ownedProduct(Caller caller, String id) {
    return repo.getProduct(id)
        .filter(p -> caller.owns(p.merchantId()))
        .orElseThrow(() -> ApiError.notFound("product not found: " + id));
  }

  private Sku ownedSku(Caller caller, String id) {
    ApiError notFound = ApiError.notFound("sku not found: " + id);
    Sku sku = repo.getSku(id).orElseThrow(() -> notFound);
    if (!caller.isOperator()) {
      repo.getProduct(sku.productId()).filter(p -> caller.owns(p.merchantId())).orElseThrow(() -> notFound);
    }
    return sku;
  }

  private SubscriptionSnapshot ownedSubscription(Caller caller, String id) {
    return repo.findSnapshotById(id)
        .filter(s -> caller.owns(s.product().merchantId()))
        .orElseThrow(() -> ApiError.notFound("subscription not found: " + id));
  }

  // ---------------------------------------------------------------- merchants

  private static final Set<String> MERCHANT_FIELDS = Set.of("name");

  private Reply createMerchant(Request r) {
    requireOperator(r.caller, "creating merchants");
    JsonInput in = JsonInput.parse(r.body);
    in.allowOnly(MERCHANT_FIELDS);
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
    return new Reply(201, o, CatalogChange.NONE);
  }

  // ---------------------------------------------------------------- products

  private Reply createProduct(Request r) {
    JsonInput in = JsonInput.parse(r.body);
    String given = in.optionalText("merchantId");
    String merchantId;
    if (r.caller.isOperator()) {
      if (given == null || given.isBlank()) {
        throw ApiError.invalid("merchantId is required when the operator creates a product");
      }
      if (repo.getMerchant(given).isEmpty()) {
        throw ApiError.invalid("merchantId names no merchant: " + given);
      }
      merchantId = given;
    } else {
      if (given != null && !given.equals(r.caller.merchantId())) {
        throw ApiError.invalid("merchantId must be your own merchant id, or omitted");
      }
      merchantId = r.caller.merchantId();
    }
    Product p = ProductJson.parse(in, ApiKeys.newId("prod"), merchantId, null, null, opts.upstreamPolicy());
    return new Reply(201, ProductJson.render(repo.createProduct(p)), CatalogChange.NONE);
  }

  private Reply listProducts(Request r) {
    List<Product> products;
    if (r.caller.isOperator()) {
      String merchantId = r.query.get("merchantId");
      products = merchantId == null ? repo.listProducts() : repo.listProductsOf(merchantId);
    } else {
      products = repo.listProductsOf(r.caller.merchantId());
    }
    return Reply.ok(list(products.stream().map(ProductJson::render).toList()));
  }

  private Reply updateProduct(Request r) {
    Product stored = ownedProduct(r.caller, r.param("id"));
    JsonInput in = JsonInput.parse(r.body);
    String given = in.optionalText("merchantId");
    if (given != null && !given.equals(stored.merchantId())) {
      throw ApiError.invalid("merchantId cannot change");
    }
    Product p = ProductJson.parse(in, stored.id(), stored.merchantId(), stored, stored.createdAt(),
        opts.upstreamPolicy());
    return new Reply(200, ProductJson.render(repo.updateProduct(p)), CatalogChange.product(p.id()));
  }

  // ---------------------------------------------------------------- SKUs

  private Reply createSku(Request r) {
    Product product = ownedProduct(r.caller, r.param("id"));
    Sku sku = SkuJson.parse(JsonInput.parse(r.body), ApiKeys.newId("sku"), product.id(), null, now());
    return new Reply(201, SkuJson.render(repo.createSku(sku)), CatalogChange.NONE);
  }

  private Reply listSkus(Request r) {
    Product product = ownedProduct(r.caller, r.param("id"));
    return Reply.ok(list(repo.listSkus(product.id()).stream().map(SkuJson::render).toList()));
  }

  private Reply updateSku(Request r) {
    Sku stored = ownedSku(r.caller, r.param("id"));
    Sku sku = SkuJson.parse(JsonInput.parse(r.body), stored.id(), stored.productId(), stored.createdAt(), now());
    return new Reply(200, SkuJson.render(repo.updateSku(sku)), CatalogChange.product(stored.productId()));
  }

  private Reply skuPrices(Request r) {
    Sku sku = ownedSku(r.caller, r.param("id"));
    String at = r.query.get("at");
    if (at == null) {
      return Reply.ok(list(repo.priceHistory(sku.id()).stream().map(SkuJson::renderPrices).toList()));
    }
    Instant t;
    try {
      t = Instant.parse(at);
    } catch (DateTimeParseException e) {
      throw ApiError.invalid("at must be an ISO-8601 instant such as 2025-01-01T00:00:00Z");
    }
    Prices prices =
        repo.pricesAt(sku.id(), t)
            .orElseThrow(() -> ApiError.notFound("no price in force at " + at + ": the SKU did not exist yet"));
    return Reply.ok(SkuJson.renderPrices(prices));
  }

  // ---------------------------------------------------------------- usage

  private static final Duration DEFAULT_USAGE_RANGE = Duration.ofDays(1);
  private static final Duration MAX_MINUTE_RANGE = Duration.ofDays(7);

  /**
   * {@code GET /admin/v1/usage?subscriptionId=|skuId=|productId=|merchantId=&from=&to=&granularity=}:
   * exactly one selector; {@code to} defaults to now, {@code from} to a day before it;
   * granularity {@code minute}, {@code hour} (the default) or {@code day}. A merchant may ask only
   * about its own objects (another merchant's are 404). Every bucket and the total carry what the
   * usage costs (see {@link UsageAmounts}).
   */
  private Reply usage(Request r) {
    List<String> given = new ArrayList<>();
    for (String k : List.of("subscriptionId", "skuId", "productId", "merchantId")) {
      if (r.query.get(k) != null) {
        given.add(k);
      }
    }
    if (given.size() != 1) {
      throw ApiError.invalid("give exactly one of subscriptionId, skuId, productId, merchantId");
    }
    String key = given.get(0);
    String id = r.query.get(key);
    // What the query reads: one subscription, or the subscriptions of some SKUs.
    Subscription subscription = null;
    List<String> skuIds = null;
    switch (key) {
      case "subscriptionId" -> subscription = ownedSubscription(r.caller, id).subscription();
      case "skuId" -> skuIds = List.of(ownedSku(r.caller, id).id());
      case "productId" -> skuIds = repo.listSkus(ownedProduct(r.caller, id).id()).stream().map(Sku::id).toList();
      default -> {
        if (!r.caller.owns(id)) {
          throw ApiError.notFound("merchant not found: " + id);
        }
        skuIds = repo.listSkuIdsOfMerchant(id);
      }
    }
    Instant to = instantParam(r, "to", now());
    Instant from = instantParam(r, "from", to.minus(DEFAULT_USAGE_RANGE));
    if (!from.isBefore(to)) {
      throw ApiError.invalid("from must be before to");
    }
    String g = r.query.getOrDefault("granularity", "hour");
    Granularity granularity;
    try {
      granularity = Granularity.valueOf(g.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid("granularity must be minute, hour or day");
    }
    if (granularity == Granularity.MINUTE && Duration.between(from, to).compareTo(MAX_MINUTE_RANGE) > 0) {
      throw ApiError.invalid("granularity minute allows a range of at most 7 days");
    }
    var amounts = new UsageAmounts(repo, repo.priceBook(), opts.usageHistory());
    UsageAmounts.Result usage = subscription != null
        ? amounts.ofSubscription(subscription, from, to, granularity)
        : amounts.ofSkus(skuIds, from, to, granularity);
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    o.put(key, id);
    o.put("from", from.toString());
    o.put("to", to.toString());
    o.put("granularity", granularity.name().toLowerCase(Locale.ROOT));
    var data = o.putArray("data");
    for (UsageAmounts.Row b : usage.buckets()) {
      ObjectNode row = counts(data.addObject(), b.counts());
      money(row, b.amounts(), usage.currencies());
      row.put("start", b.start().toString());
    }
    money(counts(o.putObject("total"), usage.total().counts()), usage.total().amounts(), usage.currencies());
    return Reply.ok(o);
  }

  /**
   * {@code amount} (a decimal string) and {@code currency}; where the query's amounts are in
   * several currencies, both are null and {@code amountsByCurrency} holds one amount per currency.
   */
  private static void money(ObjectNode o, Map<String, BigDecimal> amounts, SortedSet<String> currencies) {
    if (currencies.size() <= 1) {
      String currency = currencies.isEmpty() ? null : currencies.first();
      o.put("amount", Pricing.plain(currency == null ? BigDecimal.ZERO : amounts.getOrDefault(currency, BigDecimal.ZERO)));
      o.put("currency", currency);
      return;
    }
    o.putNull("amount");
    o.putNull("currency");
    ObjectNode by = o.putObject("amountsByCurrency");
    for (String c : currencies) {
      by.put(c, Pricing.plain(amounts.getOrDefault(c, BigDecimal.ZERO)));
    }
  }

  private static ObjectNode counts(ObjectNode o, UsageCounts c) {
    o.put("calls", c.calls());
    o.put("inputTokens", c.inputTokens());
    o.put("cachedInputTokens", c.cachedInputTokens());
    o.put("outputTokens", c.outputTokens());
    o.put("totalTokens", c.totalTokens());
    o.put("estimatedTokens", c.estimatedTokens());
    return o;
  }

  private static Instant instantParam(Request r, String name, Instant dflt) {
    String v = r.query.get(name);
    if (v == null) {
      return dflt;
    }
    try {
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      throw ApiError.invalid(name + " must be an ISO-8601 instant such as 2025-01-01T00:00:00Z");
    }
  }

  // ---------------------------------------------------------------- billing records (the pull API)

  private static final String RECORDS_PATH = "/billing/v1/records";
  private static final List<String> RECORD_PARAMS =
      List.of("after", "limit", "merchantId", "subscriptionId", "productId", "from", "to", "kind");

  /**
   * {@code GET /billing/v1/records?after=&limit=&merchantId=&subscriptionId=&productId=&from=&to=&kind=}:
   * one page of the ledger in export order, in the OpenAI list shape. The ledger numbers records
   * in commit order, so a billing job that pages with {@code after=<last_id>} never misses a
   * record committed while it reads.
   *
   * <p>A merchant reads its own records only: its scope is part of the query, so another
   * merchant's {@code after} id is unknown (400, as for an id that does not exist), and a {@code
   * merchantId} naming any other merchant is 403, whether that merchant exists or not. Filters by
   * another merchant's subscription or product find nothing. Unknown, empty or repeated
   * parameters are 400 naming the parameter: a typo in a filter must not read as "every record".
   */
  private Reply records(Request r) {
    for (String name : r.query.keySet()) {
      if (!RECORD_PARAMS.contains(name)) {
        throw ApiError.invalid(name + " is not a parameter of " + RECORDS_PATH + "; use one of "
            + String.join(", ", RECORD_PARAMS));
      }
      if (r.query.get(name).isEmpty()) {
        throw ApiError.invalid(name + " must not be empty");
      }
    }
    String merchantId = r.query.get("merchantId");
    if (!r.caller.isOperator()) {
      if (merchantId != null && !merchantId.equals(r.caller.merchantId())) {
        throw ApiError.forbidden("merchantId must be your own merchant id, or omitted: a merchant reads its own"
            + " records only");
      }
      merchantId = r.caller.merchantId();
    }
    int limit = RecordQuery.DEFAULT_LIMIT;
    String l = r.query.get("limit");
    if (l != null) {
      try {
        limit = Integer.parseInt(l);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > RecordQuery.MAX_LIMIT) {
        throw ApiError.invalid("limit must be an integer from 1 to " + RecordQuery.MAX_LIMIT + ": " + l);
      }
    }
    Instant from = instantParam(r, "from", null);
    Instant to = instantParam(r, "to", null);
    if (from != null && to != null && !from.isBefore(to)) {
      throw ApiError.invalid("from must be before to (both compare the window start; from is inclusive, to"
          + " exclusive)");
    }
    RecordKind kind = null;
    String k = r.query.get("kind");
    if (k != null) {
      kind = RecordKind.parse(k);
      if (kind == null) {
        throw ApiError.invalid("kind must be usage, adjustment or purchase: " + k);
      }
    }
    String after = r.query.get("after");
    var query = new RecordQuery(merchantId, r.query.get("subscriptionId"), r.query.get("productId"), from, to, kind,
        after, limit);
    RecordPage page;
    try {
      page = opts.records().page(query);
    } catch (UnknownRecordException e) {
      throw ApiError.invalid("after names no record you can read: " + after);
    }
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    var data = o.putArray("data");
    for (UsageRecord rec : page.records()) {
      data.add(RecordJson.record(rec));
    }
    o.put("has_more", page.hasMore());
    o.put("first_id", page.firstId());
    o.put("last_id", page.lastId());
    return Reply.ok(o);
  }

  /** The first query parameter given more than once; null if none is. */
  private static String firstRepeated(RoutingContext ctx) {
    for (String name : ctx.queryParams().names()) {
      if (ctx.queryParams().getAll(name).size() > 1) {
        return name;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- subscriptions

  private Reply createSubscription(Request r) {
    JsonInput in = JsonInput.parse(r.body);
    in.allowOnly(SubscriptionJson.CREATE_FIELDS);
    String skuId = in.requiredText("skuId");
    boolean test = Boolean.TRUE.equals(in.optionalBoolean("test"));
    String buyerId = in.optionalText("buyerId");
    String buyerName = in.optionalText("buyerName");
    if (buyerName != null && buyerName.length() > 200) {
      throw ApiError.invalid("buyerName must be at most 200 characters");
    }
    if (r.caller.isOperator()) {
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
      ownedSku(r.caller, skuId);
      if (buyerId == null || buyerId.isBlank()) {
        buyerId = "test-" + r.caller.merchantId();
      }
    }
    if (buyerId.length() > 200) {
      throw ApiError.invalid("buyerId must be at most 200 characters");
    }
    IssuedKey issued = repo.createSubscription(skuId, buyerId, buyerName, test);
    return new Reply(201, renderIssued(issued), CatalogChange.NONE);
  }

  /** Merchants manage their own test subscriptions only; buyers' are the operator's. */
  private SubscriptionSnapshot manageable(Request r) {
    SubscriptionSnapshot snap = ownedSubscription(r.caller, r.param("id"));
    if (!r.caller.isOperator() && !snap.subscription().test()) {
      throw ApiError.forbidden("only the operator manages buyer subscriptions; merchants manage their test subscriptions");
    }
    return snap;
  }

  private Reply setStatus(Request r, SubscriptionStatus status) {
    SubscriptionSnapshot snap = manageable(r);
    repo.setStatus(snap.subscription().id(), status);
    return new Reply(200, renderSubscription(reread(snap), null), CatalogChange.subscription(snap.subscription().id()));
  }

  private Reply renew(Request r) {
    SubscriptionSnapshot snap = manageable(r);
    repo.renew(snap.subscription().id());
    return new Reply(200, renderSubscription(reread(snap), null), CatalogChange.subscription(snap.subscription().id()));
  }

  private Reply rotateKey(Request r) {
    SubscriptionSnapshot snap = manageable(r);
    IssuedKey issued = repo.rotateKey(snap.subscription().id());
    return new Reply(200, renderIssued(issued), CatalogChange.subscription(snap.subscription().id()));
  }

  private SubscriptionSnapshot reread(SubscriptionSnapshot snap) {
    String id = snap.subscription().id();
    return repo.findSnapshotById(id).orElseThrow(() -> ApiError.notFound("subscription not found: " + id));
  }

  private ObjectNode renderIssued(IssuedKey issued) {
    String id = issued.subscription().id();
    SubscriptionSnapshot snap =
        repo.findSnapshotById(id).orElseThrow(() -> ApiError.notFound("subscription not found: " + id));
    return renderSubscription(snap, issued.apiKey());
  }

  /**
   * The JSON of a subscription as {@code GET /admin/v1/subscriptions/{id}} shows it, for the buyer
   * port's {@code GET /v1/subscription}. Calls the usage view: run it on a worker thread.
   */
  public byte[] subscriptionJson(SubscriptionSnapshot snap) {
    try {
      return JsonInput.JSON.writeValueAsBytes(renderSubscription(snap, null));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private ObjectNode renderSubscription(SubscriptionSnapshot snap, String apiKey) {
    ObjectNode o = SubscriptionJson.render(snap, opts.usageView().usageOf(snap.subscription()), now());
    if (apiKey != null) {
      o.put("apiKey", apiKey);
    }
    return o;
  }

  // ---------------------------------------------------------------- responses

  private Instant now() {
    return clock.instant();
  }

  private static ObjectNode list(List<ObjectNode> items) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    o.putArray("data").addAll(items);
    return o;
  }

  private static void send(RoutingContext ctx, int status, JsonNode body) {
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

  private static void sendError(RoutingContext ctx, Throwable failure) {
    ApiError e = toApiError(failure);
    ObjectNode body = JsonInput.JSON.createObjectNode();
    ObjectNode err = body.putObject("error");
    err.put("message", e.getMessage());
    err.put("type", e.type);
    err.put("code", e.code);
    if (e.status == 401) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer");
    }
    send(ctx, e.status, body);
  }

  private static ApiError toApiError(Throwable failure) {
    if (failure instanceof ApiError e) {
      return e;
    }
    if (failure instanceof CatalogException e) {
      return switch (e.kind()) {
        case NOT_FOUND -> ApiError.notFound(e.getMessage());
        case CONFLICT -> ApiError.conflict(e.getMessage());
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
