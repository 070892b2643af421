package io.tollgate.gateway.admin;

import io.tollgate.billing.RecordLedger;
import io.tollgate.gateway.account.Entitlements;
import io.tollgate.gateway.account.UsageView;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.IdempotencyKeys;
import io.tollgate.gateway.catalog.ListingPolicy;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

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
 *       cancel, renew, rotate-key) only those; buyer subscriptions are the operator's. A merchant
 *       lists every subscription to its own SKUs, never a key.
 *   <li>A purchase or renewal sent with an {@code Idempotency-Key} is done once per key: retries
 *       get the first answer (see {@link Idempotency}).
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
   * @param entitlements usage and remaining quota shown with subscriptions; defaults to those of
   *     {@code usageView}, remaining counted from usage
   * @param records answers {@code GET /billing/v1/records} (the pull API); defaults to none: the
   *     route is not mounted and answers 404
   * @param licence the machines of a licence subscription, for {@code GET
   *     /admin/v1/subscriptions/{id}/machines} and the subscription's {@code licence}; defaults to
   *     none
   * @param listing reserved product names and the missed support replies that delist a product
   *     ({@code catalog.*}); defaults to {@link ListingPolicy#DEFAULT}
   */
  public record Options(
      String operatorToken,
      Consumer<CatalogChange> onCatalogChange,
      Clock clock,
      UsageView usageView,
      int bodyLimitBytes,
      UsageHistory usageHistory,
      AddressPolicy upstreamPolicy,
      RecordLedger records,
      Entitlements entitlements,
      ListingPolicy listing,
      LicenceMachines licence) {

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
      listing = listing == null ? ListingPolicy.DEFAULT : listing;
      licence = licence == null ? snap -> List.of() : licence;
    }

    /** Options with every default and the given operator token. */
    public static Options of(String operatorToken) {
      return new Options(operatorToken, null, null, null, 0, null, null, null, null, null, null);
    }

    public Options withOnCatalogChange(Consumer<CatalogChange> r) {
      return new Options(operatorToken, r, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy, records, entitlements, listing, licence);
    }

    public Options withClock(Clock c) {
      return new Options(operatorToken, onCatalogChange, c, usageView, bodyLimitBytes, usageHistory, upstreamPolicy, records, entitlements, listing, licence);
    }

    public Options withUsageView(UsageView u) {
      return new Options(operatorToken, onCatalogChange, clock, u, bodyLimitBytes, usageHistory, upstreamPolicy, records, entitlements, listing, licence);
    }

    public Options withUsageHistory(UsageHistory h) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, h, upstreamPolicy, records, entitlements, listing, licence);
    }

    public Options withBodyLimitBytes(int limit) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, limit, usageHistory, upstreamPolicy, records, entitlements, listing, licence);
    }

    public Options withUpstreamPolicy(AddressPolicy p) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, p, records, entitlements, listing, licence);
    }

    public Options withRecords(RecordLedger ledger) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy,
          ledger, entitlements, listing, licence);
    }

    /** Usage and remaining quota as admission sees them; defaults to the usage view's. */
    public Options withEntitlements(Entitlements e) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy,
          records, e, listing, licence);
    }

    /** Options showing licence subscriptions' machines with {@code m}. */
    public Options withLicence(LicenceMachines m) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy,
          records, entitlements, listing, m);
    }

    public Options withListingPolicy(ListingPolicy l) {
      return new Options(operatorToken, onCatalogChange, clock, usageView, bodyLimitBytes, usageHistory, upstreamPolicy,
          records, entitlements, l, licence);
    }

    /** Never prints the operator token. */
    @Override
    public String toString() {
      return "AdminServer.Options[operatorToken=****, clock=" + clock + ", bodyLimitBytes="
          + bodyLimitBytes + "]";
    }
  }

  /**
   * Who made an admin request: the operator, one merchant, or a buyer (by its subscription's API
   * key, read-only: {@code GET /admin/v1/me} and {@code GET /admin/v1/usage} of its own
   * subscription).
   *
   * @param merchantId the merchant's id; null for the operator and buyers
   * @param subscriptionId the buyer's subscription; null for the operator and merchants
   */
  public record Caller(String merchantId, String subscriptionId) {
    public static final Caller OPERATOR = new Caller(null, null);

    /** A merchant. */
    public Caller(String merchantId) {
      this(Objects.requireNonNull(merchantId, "merchantId"), null);
    }

    /** The buyer holding the key of {@code subscriptionId}. */
    public static Caller buyer(String subscriptionId) {
      return new Caller(null, Objects.requireNonNull(subscriptionId, "subscriptionId"));
    }

    public boolean isOperator() {
      return merchantId == null && subscriptionId == null;
    }

    public boolean isBuyer() {
      return subscriptionId != null;
    }

    /** {@code operator}, {@code merchant} or {@code buyer}. */
    public String role() {
      return isOperator() ? "operator" : isBuyer() ? "buyer" : "merchant";
    }

    /** How the audit trail names this caller: {@code operator}, {@code merchant:<id>} or {@code buyer:<subscription>}. */
    public String actor() {
      return isOperator() ? "operator" : isBuyer() ? "buyer:" + subscriptionId : "merchant:" + merchantId;
    }

    /** Whether this caller may see objects of {@code ownerMerchantId}; a buyer owns none. */
    public boolean owns(String ownerMerchantId) {
      return isOperator() || merchantId != null && merchantId.equals(ownerMerchantId);
    }
  }

  private final Vertx vertx;
  private final AdminHttp http;
  private final SubscriptionRoutes subscriptions;
  private HttpServer server;

  public AdminServer(Vertx vertx, CatalogRepository repo, Options opts) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    Objects.requireNonNull(repo, "repo");
    Objects.requireNonNull(opts, "opts");
    Clock clock = opts.clock() != null ? opts.clock() : repo.clock();
    this.http = new AdminHttp(vertx, repo, opts, clock);
    var own = new Ownership(repo);
    Entitlements entitlements = opts.entitlements() != null ? opts.entitlements()
        : new Entitlements(opts.usageView(), null, clock);
    var idempotency = new Idempotency(new IdempotencyKeys(repo.dataSource(), clock));
    this.subscriptions = new SubscriptionRoutes(repo, own, entitlements, clock, idempotency, opts.licence());
    OpenApiDocument.get().mount(http.router());
    http.guard("/admin/v1/*");
    var audit = new AuditRoutes(repo);
    http.auditWith(audit);
    audit.mount(http);
    new MeRoutes(repo, subscriptions).mount(http);
    new MerchantRoutes(repo, own).mount(http);
    new ProductRoutes(repo, own, opts.upstreamPolicy(), opts.listing().reservedNames()).mount(http);
    new ListingRoutes(repo, own, opts.listing()).mount(http);
    new SkuRoutes(repo, own, clock).mount(http);
    new UsageRoutes(repo, own, opts.usageHistory(), clock).mount(http);
    subscriptions.mount(http);
    if (opts.records() != null) {
      new RecordRoutes(opts.records()).mount(http);
    }
    http.installErrorHandlers();
  }

  /** The router; add routes before {@link #listen}. */
  public Router router() {
    return http.router();
  }

  /**
   * The bearer-token check of {@code /admin/v1/*}, to put in front of other routes that need it
   * (e.g. {@code /billing/v1/*}): it answers 401 itself, or stores the {@link Caller} and calls
   * {@code next()}.
   */
  public Handler<RoutingContext> authenticationHandler() {
    return http::authenticate;
  }

  /** The caller authenticated for a request under {@code /admin/v1/}. */
  public static Caller caller(RoutingContext ctx) {
    return AdminHttp.caller(ctx);
  }

  /**
   * Starts serving; port 0 binds a free port ({@link HttpServer#actualPort()}). HTTP/1.1 only: a
   * client's {@code Upgrade: h2c} is ignored and answered in HTTP/1.1. With Vert.x's default (the
   * upgrade accepted), the JDK {@code HttpClient}, which offers it on every first request, got
   * about one large answer in 75 out of frame (the 124 KB OpenAPI document: "Frame type(32)
   * length(7103603) exceeds MAX_FRAME_SIZE", 4 of 300 fresh clients); curl and the SDKs speak
   * HTTP/1.1 here anyway.
   */
  public Future<HttpServer> listen(String host, int port) {
    return vertx
        .createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(false))
        .requestHandler(http.router())
        .listen(port, host)
        .onSuccess(s -> server = s);
  }

  /** Stops serving and releases the worker pool. */
  public Future<Void> close() {
    Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
    return closed.eventually(http::close);
  }

}
