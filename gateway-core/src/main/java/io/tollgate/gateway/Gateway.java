package io.tollgate.gateway;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import io.tollgate.billing.Exporter;
import io.tollgate.billing.RecordLedger;
import io.tollgate.gateway.account.Entitlements;
import io.tollgate.gateway.account.UsageView;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.registry.otlp.OtlpConfig;
import io.micrometer.registry.otlp.OtlpMeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.tollgate.gateway.auth.CatalogChanges;
import io.tollgate.gateway.auth.RedisCatalogChanges;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogException;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.licence.LicenceService;
import io.tollgate.gateway.console.Console;
import io.tollgate.gateway.observe.AccessLog;
import io.tollgate.gateway.observe.MeterClock;
import io.tollgate.gateway.proxy.BuyerServer;
import io.tollgate.gateway.proxy.EndpointLimits;
import io.tollgate.gateway.proxy.ExtractorFactory;
import io.tollgate.gateway.proxy.ProxyServices;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.tollgate.gateway.admin.AdminServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running gateway instance: the buyer port (Netty), the admin port (Vert.x), the catalog and
 * the metering behind them, wired from a {@link GatewayConfig}.
 *
 * <p>Start-up fails fast with a {@link ConfigException} naming the key at fault (a port in use, an
 * unwritable data dir, an unreachable database), and closes whatever it had already opened.
 *
 * <p>Lifecycle, as {@code /health/ready} shows it: 503 from the moment the admin port listens
 * until everything has started, the buyer port last but for its health probes and the exporter;
 * 200 while serving (unless the journal is over its cap or a task fails locally); 503 again from
 * the first moment of {@link #close()}, which drains the buyer port ({@code server.drainTimeout})
 * before the metering behind it flushes and closes.
 */
public final class Gateway implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Gateway.class);

  static {
    BuyerServer.setNettyDefaults(); // before Vert.x probes the native transports
  }
  static final String CATALOG_CHANNEL = "tollgate:catalog-changes";
  /** How long readiness waits for the catalog database before reporting it DOWN. */
  private static final Duration CATALOG_CHECK_TIMEOUT = Duration.ofSeconds(1);

  private final GatewayConfig config;
  private final Clock clock;
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final String operatorToken;
  private final String catalogChannel;
  private CatalogRepository catalog;
  private SubscriptionCache subscriptions;
  private CatalogChanges changes;
  private volatile BuyerServer buyer; // set once the buyer port listens
  private volatile boolean started; // everything started: may be ready
  private volatile boolean stopping; // close() has begun: never ready again
  private MeteringPipeline metering;
  private HttpServer admin;
  private Vertx vertx;
  private PrometheusMeterRegistry registry;
  /** Where meters are registered: {@code registry}, or a composite of it and {@code otlp}. */
  private MeterRegistry meters;
  private OtlpMeterRegistry otlp; // null unless metrics.otlp.endpoint is set
  private TaskHealth tasks;
  private RecordLedger ledger;
  private Exporter exporter;
  private LicenceService licence;

  private Gateway(GatewayConfig config, Clock clock, String catalogChannel) {
    this.config = config;
    this.clock = clock;
    this.catalogChannel = catalogChannel;
    this.operatorToken = config.admin().token() != null ? config.admin().token() : ApiKeys.newMerchantToken();
  }

  /** Starts a gateway; on failure everything it opened is closed again. */
  public static Gateway start(GatewayConfig config) {
    return start(config, Clock.systemUTC());
  }

  /**
   * Starts a gateway on the given clock (tests move it to close export windows without waiting);
   * on failure everything it opened is closed again.
   */
  public static Gateway start(GatewayConfig config, Clock clock) {
    return start(config, clock, CATALOG_CHANNEL);
  }

  /**
   * Starts a gateway whose catalog change notices use {@code catalogChannel}, so tests sharing a
   * Redis do not see each other's.
   */
  static Gateway start(GatewayConfig config, Clock clock, String catalogChannel) {
    return start(config, clock, catalogChannel, g -> { });
  }

  /**
   * As {@link #start(GatewayConfig, Clock, String)}, running {@code beforeBuyerPort} on this
   * thread once the admin port listens and before the buyer port binds, so a test can see what
   * start-up looks like from outside.
   */
  static Gateway start(GatewayConfig config, Clock clock, String catalogChannel,
      java.util.function.Consumer<Gateway> beforeBuyerPort) {
    Gateway g = new Gateway(config, clock, catalogChannel);
    try {
      g.startAll(beforeBuyerPort);
      return g;
    } catch (RuntimeException e) {
      g.close();
      throw e;
    }
  }

  private void startAll(java.util.function.Consumer<Gateway> beforeBuyerPort) {
    Path dataDir = prepareDataDir(config.store().dataDir());

    // Micrometer reads the registry's wall clock twice per timer sample: a ticking field instead of
    // clock_gettime each time (see MeterClock). Pushed first, closed after the registry.
    MeterClock meterClock = new MeterClock().start();
    resources.push(meterClock::close);
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), meterClock);
    resources.push(registry::close);
    meters = registry;
    GatewayConfig.Metrics.Otlp otlpConfig = config.metrics().otlp();
    if (otlpConfig.enabled()) {
      otlp = otlpRegistry(otlpConfig);
      resources.push(otlp::close); // closed before the Prometheus registry: a last push on the way out
      CompositeMeterRegistry composite = new CompositeMeterRegistry();
      composite.add(registry);
      composite.add(otlp);
      meters = composite;
      log.info("metrics pushed over OTLP to {} every {} (metrics.otlp.endpoint, metrics.otlp.step)",
          redactedUrl(otlpConfig.endpoint()), otlpConfig.step());
    }
    new JvmMemoryMetrics().bindTo(meters);
    new JvmThreadMetrics().bindTo(meters);
    new ProcessorMetrics().bindTo(meters);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(meters);
    resources.push(gc);
    tasks = new TaskHealth(clock, meters);

    vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    resources.push(() -> vertx.close().await());

    try {
      catalog = openCatalog(config, dataDir, clock);
    } catch (CatalogException e) {
      throw new ConfigException(config.store().jdbcUrl() != null ? "store.jdbcUrl" : "store.dataDir", e.getMessage());
    }
    resources.push(catalog);

    ExecutorService catalogLoads = Executors.newFixedThreadPool(4, daemonThreads("tollgate-catalog"));
    resources.push(catalogLoads::shutdownNow);
    subscriptions = new SubscriptionCache(catalog::findSnapshotByKeyHash, catalogLoads, Duration.ofSeconds(60), null,
        tasks, config.server().subscriptionCacheSize());
    FunctionCounter.builder("tollgate.subscription.cache.loads", subscriptions, SubscriptionCache::loads)
        .description("catalog reads of the subscription cache: loads and background refreshes").register(meters);

    RedisClient redis = null;
    StatefulRedisConnection<String, String> meterConnection = null;
    if (config.store().redisUri() != null) {
      redis = redisClient(config.store().redisUri(), resources);
      try {
        meterConnection = redis.connect();
        resources.push(meterConnection::close);
        RedisCatalogChanges notices = new RedisCatalogChanges(redis, catalogChannel, subscriptions);
        changes = notices;
        FunctionCounter.builder("tollgate.catalog.change.notices.rejected", notices,
            RedisCatalogChanges::rejectedNotices)
            .description("malformed catalog change notices from Redis, each taken as: every snapshot changed")
            .register(meters);
      } catch (RuntimeException e) {
        throw redisUnreachable(config, e);
      }
    } else {
      changes = CatalogChanges.local(subscriptions);
    }
    resources.push(changes);

    metering = new MeteringPipeline(config, dataDir, catalog.dataSource(), meterConnection, clock, meters, tasks);
    resources.push(metering);
    UsageView usage = metering.usageView(clock, catalog.priceBook());
    // One answer to "usage and remaining" for both ports: remaining from where admission takes quota.
    Entitlements entitlements = new Entitlements(usage, metering.callMetering::remaining, clock);
    ledger = new RecordLedger(catalog.dataSource(), clock, meters);

    // Endpoints may not point back at this gateway. The buyer port binds after the admin port:
    // configured ports are refused from the start, bound ones (port 0) as soon as they are bound.
    AddressPolicy upstreams = AddressPolicy.create(config.upstream().deniedNetworks());
    upstreams.addListener(new InetSocketAddress(config.admin().host(), config.admin().port()));
    upstreams.addListener(new InetSocketAddress(config.server().host(), config.server().port()));
    // Licence codes: last-seen times in Redis when configured (shared by the instances), else here.
    licence = LicenceService.start(subscriptions, catalog,
        redis == null ? null : licenceConnection(redis), catalogChannel + ":licence:seen:",
        config.licence().flushInterval(), config.licence().requestsPerMinute(), clock, meters, tasks);
    resources.push(licence);
    AdminServer adminApi = new AdminServer(vertx, catalog, AdminServer.Options.of(operatorToken)
        .withOnCatalogChange(changes::publish).withUsageView(usage).withEntitlements(entitlements).withClock(clock)
        .withUsageHistory(metering.store::usage).withUpstreamPolicy(upstreams).withRecords(ledger)
        .withListingPolicy(config.catalog().listingPolicy()).withLicence(licence::machines));
    OpsRoutes.mount(adminApi.router(), registry, this::readiness);
    Console.mount(adminApi.router());
    try {
      admin = adminApi.listen(config.admin().host(), config.admin().port()).await();
    } catch (Exception e) {
      throw new ConfigException("admin.port",
          "cannot listen on " + config.admin().host() + ":" + config.admin().port() + ": " + e.getMessage());
    }
    resources.push(() -> admin.close().await());
    upstreams.addListener(new InetSocketAddress(config.admin().host(), admin.actualPort()));
    beforeBuyerPort.accept(this);

    GatewayConfig.Server s = config.server();
    long descriptors = BuyerServer.descriptorLimit();
    int maxConnections = s.maxConnections() > 0 ? s.maxConnections()
        : descriptors > 0 ? BuyerServer.derivedMaxConnections(descriptors) : 10_000;
    if (descriptors > 0 && s.maxConnections() > BuyerServer.derivedMaxConnections(descriptors)) {
      log.warn("server.maxConnections {} exceeds what the descriptor limit {} leaves for buyer connections ({});"
          + " idle connections could exhaust the process's descriptors", s.maxConnections(), descriptors,
          BuyerServer.derivedMaxConnections(descriptors));
    }
    BuyerServer.Settings settings = new BuyerServer.Settings(s.host(), s.port(), s.effectiveEventLoops(),
        s.maxBodyBytes(), s.idleTimeout(), s.requestHeaderTimeout(), maxConnections, s.transport(),
        new EndpointLimits(config.upstream().maxConnectionsPerEndpoint(), config.upstream().maxPendingPerEndpoint()));
    ProxyServices proxied = new ProxyServices(subscriptions, metering.aggregator, ExtractorFactory.REUSING,
        snap -> vertx.executeBlocking(() -> entitlements.subscriptionJson(snap), false).toCompletionStage(),
        meters, clock, metering.callMetering).withUpstreamPolicy(upstreams).withLicence(licence);
    // The access log (logging.access): an observer of ended calls; with "off" there is none.
    AccessLog accessLog = AccessLog.open(config.logging(), meters, tasks);
    if (accessLog != null) {
      resources.push(accessLog); // closed after the buyer port has drained: the last calls' lines are written
      proxied = proxied.withObserver(accessLog);
    }
    BuyerServer server;
    try {
      server = new BuyerServer(settings, proxied);
    } catch (IllegalArgumentException e) {
      throw new ConfigException("server.transport", e.getMessage());
    }
    try {
      server.start();
    } catch (BindException e) {
      throw new ConfigException("server.port", e.getMessage());
    }
    resources.push(server);
    buyer = server;
    upstreams.addListener(new InetSocketAddress(s.host(), server.port()));
    resources.push(new HealthProbes(vertx, catalog, server, s.healthCheckInterval(), tasks, upstreams, meters));
    // Closed first: a run in progress finishes before the meter store it reads goes away.
    exporter = BillingExport.exporter(config, dataDir, ledger, catalog.priceBook(), (ExportSource) metering.store,
        BillingExport.lease(config, catalog.dataSource(), meterConnection != null ? meterConnection.sync() : null,
            clock), clock, meters, tasks).start();
    resources.push(exporter);
    log.info("tollgate up: buyer port {} ({} transport (server.transport {}), {} event loops, at most {} connections;"
        + " descriptor limit {}), admin port {}, store {}{}",
        buyer.port(), buyer.transportName(), s.transport(), s.effectiveEventLoops(), maxConnections, descriptors,
        admin.actualPort(), config.store().jdbcUrl() != null ? "jdbc" : "embedded H2 in " + dataDir,
        redis != null ? " + redis" : "");
    started = true;
  }

  private io.lettuce.core.api.sync.RedisCommands<String, String> licenceConnection(RedisClient redis) {
    try {
      StatefulRedisConnection<String, String> c = redis.connect();
      resources.push(c::close);
      c.setTimeout(Duration.ofSeconds(2));
      return c.sync();
    } catch (RuntimeException e) {
      throw redisUnreachable(config, e);
    }
  }

  /**
   * An OTLP registry pushing to {@code otlp.endpoint} every {@code otlp.step}, started: times in
   * seconds (as the OpenTelemetry conventions have them), cumulative, resource {@code
   * service.name=tollgate} unless {@code OTEL_SERVICE_NAME} or {@code OTEL_RESOURCE_ATTRIBUTES}
   * name it otherwise.
   */
  static OtlpMeterRegistry otlpRegistry(GatewayConfig.Metrics.Otlp otlp) {
    OtlpConfig cfg = new OtlpConfig() {
      @Override
      public String get(String key) {
        return null; // every setting below, the rest Micrometer's defaults
      }

      @Override
      public String url() {
        return otlp.endpoint();
      }

      @Override
      public Duration step() {
        return otlp.step();
      }

      @Override
      public TimeUnit baseTimeUnit() {
        return TimeUnit.SECONDS;
      }

      @Override
      public java.util.Map<String, String> resourceAttributes() {
        java.util.Map<String, String> attributes = new java.util.HashMap<>(OtlpConfig.super.resourceAttributes());
        attributes.putIfAbsent("service.name", "tollgate");
        return attributes;
      }
    };
    return new OtlpMeterRegistry(cfg, io.micrometer.core.instrument.Clock.SYSTEM);
  }

  /** A URL for a log line: without user info, query or fragment. */
  private static String redactedUrl(String url) {
    java.net.URI u = java.net.URI.create(url);
    return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getRawPath();
  }

  /**
   * Ready while this instance can serve buyers without losing usage. The catalog database being
   * down does not make it unready: keys in use are served from the subscription cache, and taking
   * every instance out of rotation during a database outage would turn it into a total one. The
   * catalog's state is reported, checked with a short deadline so the probe stays fast.
   *
   * <p>Every background task's state is reported under {@code tasks}; a task that fails for a
   * reason local to this instance, or has stalled, makes it unready (see {@link TaskHealth}).
   */
  private Future<JsonObject> readiness() {
    Future<String> catalogState = vertx.executeBlocking(() -> {
      catalog.ping();
      return "UP";
    }, false).timeout(CATALOG_CHECK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).otherwise("DOWN");
    return catalogState.map(catalogUp -> {
      BuyerServer serving = buyer;
      JsonObject ready = new JsonObject().put("status", "UP").put("buyerPort", serving != null ? serving.port() : null)
          .put("catalog", catalogUp).put("pendingUsageBatches", metering.aggregator.pendingBatches());
      JsonObject taskStates = new JsonObject();
      StringBuilder blocking = new StringBuilder();
      for (TaskHealth.Status t : tasks.statuses()) {
        JsonObject o = new JsonObject().put("status", t.state().name())
            .put("consecutiveFailures", t.consecutiveFailures()).put("failures", t.failures())
            .put("lastSuccess", t.lastSuccess() == null ? null : t.lastSuccess().toString());
        if (t.state() != TaskHealth.State.OK) {
          o.put("cause", t.cause() == null ? null : t.cause().name().toLowerCase(java.util.Locale.ROOT))
              .put("lastFailure", t.lastFailure() == null ? null : t.lastFailure().toString())
              .put("lastError", t.lastError());
        }
        taskStates.put(t.name(), o);
        if (t.blocksReadiness()) {
          blocking.append(blocking.length() == 0 ? "" : ", ").append(t.name()).append(' ')
              .append(t.state().name().toLowerCase(java.util.Locale.ROOT));
        }
      }
      ready.put("tasks", taskStates);
      if (stopping) {
        ready.put("status", "DOWN").put("error", "stopping: the buyer port is draining or closed");
      } else if (serving == null || !started) {
        ready.put("status", "DOWN").put("error", "starting: the buyer port is not serving yet");
      } else if (metering.journal.overCap()) {
        // The meter store has been unreachable for long: take this instance out of rotation.
        ready.put("status", "DOWN").put("error", "usage journal over its cap: the meter store is unreachable");
      } else if (blocking.length() > 0) {
        ready.put("status", "DOWN").put("error", "background tasks failing on this instance: " + blocking);
      }
      return ready;
    });
  }

  /**
   * What {@code tollgate check} checks: everything {@link #start} would refuse short of binding
   * the ports (which a running instance may hold). The config itself is checked when it is
   * loaded; here the data dir must be a writable directory, the buyer port's transport available,
   * the PostgreSQL database ({@code store.jdbcUrl}) must accept a connection, and Redis ({@code
   * store.redisUri}) answer a PING. The embedded H2 file is not opened: a running {@code serve}
   * holds it. Nothing is migrated; the only write is the data dir's probe file (and the directory
   * itself where it is missing, as {@code serve} would create it).
   *
   * @return one line per store checked, for the operator
   * @throws ConfigException with the message {@code serve} would stop with
   */
  static java.util.List<String> check(GatewayConfig config) {
    java.util.List<String> checked = new java.util.ArrayList<>();
    Path dataDir = prepareDataDir(config.store().dataDir());
    checked.add("store.dataDir: " + dataDir + " is a writable directory");
    try {
      checked.add("server.transport: " + BuyerServer.transportFor(config.server().transport()));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("server.transport", e.getMessage());
    }
    GatewayConfig.Store st = config.store();
    if (st.jdbcUrl() != null) {
      try {
        io.tollgate.gateway.catalog.CatalogDatabase.reach(st.jdbcUrl(), st.jdbcUser(), st.jdbcPassword());
      } catch (CatalogException e) {
        throw new ConfigException("store.jdbcUrl", e.getMessage());
      }
      checked.add("store.jdbcUrl: connected");
    } else {
      checked.add("store.jdbcUrl: unset, the embedded H2 database in store.dataDir (not opened)");
    }
    if (st.redisUri() != null) {
      Deque<AutoCloseable> opened = new ArrayDeque<>();
      try {
        RedisClient redis = redisClient(st.redisUri(), opened);
        try (StatefulRedisConnection<String, String> c = redis.connect()) {
          c.sync().ping();
        }
      } catch (RuntimeException e) {
        throw redisUnreachable(config, e);
      } finally {
        while (!opened.isEmpty()) {
          try {
            opened.pop().close();
          } catch (Exception e) {
            log.debug("while closing the Redis client: {}", e.toString());
          }
        }
      }
      checked.add("store.redisUri: PING answered");
    } else {
      checked.add("store.redisUri: unset, no Redis");
    }
    return checked;
  }

  /** The line start-up and {@code check} stop with; a password in the URI is not shown. */
  private static ConfigException redisUnreachable(GatewayConfig config, RuntimeException e) {
    String uri = config.store().redisUri().replaceFirst("(://)[^@/]*@", "$1***@");
    return new ConfigException("store.redisUri", "cannot connect to Redis at " + uri + ": " + e.getMessage());
  }

  /**
   * The catalog database the config names ({@code store.jdbcUrl}, else the embedded H2 file in
   * {@code dataDir}), opened and migrated, the billing ledger's tables with it.
   *
   * @throws CatalogException of kind UNAVAILABLE when it cannot be reached or migrated
   */
  static CatalogRepository openCatalog(GatewayConfig config, Path dataDir, Clock clock) {
    GatewayConfig.Store s = config.store();
    String jdbcUrl = s.jdbcUrl() != null ? s.jdbcUrl() : CatalogRepository.h2FileUrl(dataDir.toString());
    // The meter tables live here only where usage is not kept in Redis.
    return CatalogRepository.open(jdbcUrl, s.jdbcUser(), s.jdbcPassword(), clock, s.redisUri() == null);
  }

  /**
   * A client for {@code uri} that reconnects every 200 ms and rejects commands while disconnected
   * instead of buffering them (the usage journal is the buffer); pushed onto {@code resources}
   * for closing. Connects nothing yet.
   */
  static RedisClient redisClient(String uri, Deque<AutoCloseable> resources) {
    ClientResources redisResources = DefaultClientResources.builder()
        .reconnectDelay(Delay.constant(Duration.ofMillis(200))).build();
    resources.push(redisResources::shutdown);
    RedisClient redis = RedisClient.create(redisResources, uri);
    redis.setOptions(ClientOptions.builder().autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
    resources.push(redis::shutdown);
    return redis;
  }

  static Path prepareDataDir(String dir) {
    Path p = Path.of(dir).toAbsolutePath().normalize();
    try {
      Files.createDirectories(p);
      Path probe = Files.createTempFile(p, ".probe", ".tmp");
      Files.delete(probe);
    } catch (IOException | SecurityException e) {
      throw new ConfigException("store.dataDir", p + " is not a writable directory (" + e + ")");
    }
    return p;
  }

  private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  public int buyerPort() {
    return buyer.port();
  }

  public int adminPort() {
    return admin.actualPort();
  }

  public String operatorToken() {
    return operatorToken;
  }

  public CatalogRepository catalog() {
    return catalog;
  }

  /** The billing records this instance's exporter writes and the pull API reads. */
  public RecordLedger ledger() {
    return ledger;
  }

  /** The licence API of this instance's buyer port. */
  public LicenceService licence() {
    return licence;
  }

  /** The billing exporter running in this instance. */
  public Exporter exporter() {
    return exporter;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** The OTLP registry pushing this instance's meters; null unless {@code metrics.otlp.endpoint} is set. */
  OtlpMeterRegistry otlpRegistry() {
    return otlp;
  }

  /** Where this instance's meters are registered: the Prometheus registry, with the OTLP one when it pushes. */
  MeterRegistry meters() {
    return meters;
  }

  public Vertx vertx() {
    return vertx;
  }

  /**
   * Stops this instance: readiness turns 503 at once; the buyer port stops accepting and drains
   * for up to {@code server.drainTimeout} (calls and streams in flight run to their end; those
   * still running at the deadline are cut and metered for what was delivered); then everything
   * else closes in reverse order of start, the metering last: pending estimates, the aggregator's
   * final flush to the meter store, the journal. Blocks until done; calling it again does nothing.
   */
  @Override
  public synchronized void close() {
    stopping = true;
    BuyerServer serving = buyer;
    if (serving != null && !resources.isEmpty()) {
      Duration timeout = config.server().drainTimeout();
      long t0 = System.nanoTime();
      log.info("tollgate stopping: not ready; the buyer port {} takes no new connections, calls in flight have up"
          + " to {} (server.drainTimeout) to end", serving.port(), timeout);
      int cut = serving.drain(timeout);
      long ms = Duration.ofNanos(System.nanoTime() - t0).toMillis();
      if (cut > 0) {
        log.warn("tollgate stopping: server.drainTimeout ({}) passed; cutting {} buyer connections still in flight",
            timeout, cut);
      } else {
        log.info("tollgate stopping: buyer port drained in {} ms", ms);
      }
    }
    while (!resources.isEmpty()) {
      AutoCloseable r = resources.pop();
      try {
        r.close();
      } catch (Exception e) {
        log.warn("while closing: {}", e.toString());
      }
    }
  }
}
