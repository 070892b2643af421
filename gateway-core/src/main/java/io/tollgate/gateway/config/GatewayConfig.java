package io.tollgate.gateway.config;

import io.tollgate.gateway.catalog.ListingPolicy;
import io.tollgate.gateway.catalog.ReservedNames;
import io.tollgate.gateway.upstream.AddressPolicy;
import java.time.Duration;

/**
 * The whole configuration, read from {@code config/tollgate.yaml} and overridden by environment
 * variables ({@code TOLLGATE_} + the key's path in upper snake case: {@code server.port} is {@code
 * TOLLGATE_SERVER_PORT}). Every section and key is optional; each record documents its defaults.
 * Built by {@link ConfigLoader}, which names the key of any bad or unknown value.
 */
public record GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export,
    Upstream upstream, Catalog catalog, Metrics metrics, Logging logging, Licence licence) {

  public GatewayConfig {
    licence = licence == null ? new Licence(null, null) : licence;
    metrics = metrics == null ? new Metrics(null) : metrics;
    logging = logging == null ? new Logging(null, null) : logging;
    catalog = catalog == null ? new Catalog(null, null) : catalog;
    server = server == null ? new Server(null, null, null, null, null, null) : server;
    upstream = upstream == null ? new Upstream(null) : upstream;
    admin = admin == null ? new Admin(null, null, null) : admin;
    store = store == null ? new Store(null, null, null, null, null) : store;
    metering = metering == null ? new Metering(null, null, null, null, null) : metering;
    export = export == null ? new Export(null, null, null, null) : export;
  }

  /** A config with the default {@code licence} section. */
  public GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export,
      Upstream upstream, Catalog catalog, Metrics metrics, Logging logging) {
    this(server, admin, store, metering, export, upstream, catalog, metrics, logging, null);
  }

  /** This config with another {@code licence} section. */
  public GatewayConfig withLicence(Licence l) {
    return new GatewayConfig(server, admin, store, metering, export, upstream, catalog, metrics, logging, l);
  }

  /**
   * The licence API on the buyer port ({@code /licence/v1/*}).
   *
   * @param requestsPerMinute requests a licence code may make a minute on each instance (429 with
   *     {@code retry-after} beyond); 1 to 100,000, defaults to 60
   * @param flushInterval how often heartbeats' last-seen times are written to the database, in one
   *     batch (a heartbeat itself writes nothing there); 1 s to 1 h, defaults to 30 s
   */
  public record Licence(Integer requestsPerMinute, Duration flushInterval) {
    public Licence {
      requestsPerMinute = requestsPerMinute == null ? 60 : requestsPerMinute;
      if (requestsPerMinute < 1 || requestsPerMinute > 100_000) {
        throw new ConfigException("licence.requestsPerMinute", "must be from 1 to 100000, got " + requestsPerMinute);
      }
      flushInterval = flushInterval == null ? Duration.ofSeconds(30) : flushInterval;
      if (flushInterval.compareTo(Duration.ofSeconds(1)) < 0 || flushInterval.compareTo(Duration.ofHours(1)) > 0) {
        throw new ConfigException("licence.flushInterval", "must be from PT1S to PT1H, got " + flushInterval);
      }
    }
  }

  /** A config with the default {@code metrics} and {@code logging} sections. */
  public GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export,
      Upstream upstream, Catalog catalog) {
    this(server, admin, store, metering, export, upstream, catalog, null, null);
  }

  /** A config with the default {@code logging} section. */
  public GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export,
      Upstream upstream, Catalog catalog, Metrics metrics) {
    this(server, admin, store, metering, export, upstream, catalog, metrics, null);
  }

  /** A config with the default {@code upstream} and {@code catalog} sections. */
  public GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export) {
    this(server, admin, store, metering, export, null, null, null, null);
  }

  /** A config with the default {@code catalog} section. */
  public GatewayConfig(Server server, Admin admin, Store store, Metering metering, Export export,
      Upstream upstream) {
    this(server, admin, store, metering, export, upstream, null, null, null);
  }

  /** This config with another {@code logging} section. */
  public GatewayConfig withLogging(Logging logging) {
    return new GatewayConfig(server, admin, store, metering, export, upstream, catalog, metrics, logging, licence);
  }

  /** All defaults: the embedded setup. */
  public static GatewayConfig defaults() {
    return new GatewayConfig(null, null, null, null, null, null, null, null, null, null);
  }

  /**
   * The buyer port.
   *
   * @param host bind address; defaults to {@code 0.0.0.0}
   * @param port defaults to 8080; 0 picks a free port
   * @param eventLoops Netty event loops; defaults to 0, one per core
   * @param maxBodyBytes largest request body accepted (413 beyond); defaults to 8 MiB
   * @param idleTimeout a buyer connection idle this long is closed; defaults to 5 minutes
   * @param healthCheckInterval how often endpoints of products with a health check path are
   *     probed; defaults to 10 s
   * @param maxConnections buyer connections open at once; more are closed as soon as they are
   *     accepted. Defaults to 0: derived at start-up from the process's descriptor limit
   *     (RLIMIT_NOFILE) minus a reserve for its own files and upstream connections
   * @param requestHeaderTimeout the whole request head must arrive within this time of its first
   *     byte, else the connection is closed; defaults to 10 s
   * @param transport the buyer port's I/O: {@code io_uring}, {@code epoll} or {@code nio}, each of
   *     which stops start-up where it is not available, or {@code auto}, the default: io_uring
   *     where available (and its ring can be entered early), then epoll, then NIO
   * @param subscriptionCacheSize API keys whose subscription is kept in memory at most; a call
   *     with a key beyond them waits for a catalog read. Defaults to 200,000
   * @param drainTimeout on shutdown (SIGTERM, {@code Gateway.close()}), how long calls and streams
   *     in flight may run to their end after the buyer port stops accepting; those still running
   *     then are cut (and metered for what was delivered). Defaults to 30 s
   */
  public record Server(String host, Integer port, Integer eventLoops, Long maxBodyBytes, Duration idleTimeout,
      Duration healthCheckInterval, Integer maxConnections, Duration requestHeaderTimeout, String transport,
      Long subscriptionCacheSize, Duration drainTimeout) {

    /** What {@code transport} accepts. */
    public static final java.util.List<String> TRANSPORTS = java.util.List.of("auto", "io_uring", "epoll", "nio");

    /** A server section with the derived connection cap, the default head timeout and transport. */
    public Server(String host, Integer port, Integer eventLoops, Long maxBodyBytes, Duration idleTimeout,
        Duration healthCheckInterval) {
      this(host, port, eventLoops, maxBodyBytes, idleTimeout, healthCheckInterval, null, null, null, null, null);
    }

    public Server {
      host = host == null ? "0.0.0.0" : host;
      port = port == null ? 8080 : port;
      eventLoops = eventLoops == null ? 0 : eventLoops;
      maxBodyBytes = maxBodyBytes == null ? 8L << 20 : maxBodyBytes;
      idleTimeout = idleTimeout == null ? Duration.ofMinutes(5) : idleTimeout;
      healthCheckInterval = healthCheckInterval == null ? Duration.ofSeconds(10) : healthCheckInterval;
      checkPositive("server.healthCheckInterval", healthCheckInterval);
      checkPort("server.port", port);
      if (eventLoops < 0 || eventLoops > 1024) {
        throw new ConfigException("server.eventLoops", "must be between 0 (one per core) and 1024, got " + eventLoops);
      }
      if (maxBodyBytes < 1024 || maxBodyBytes > Integer.MAX_VALUE) {
        throw new ConfigException("server.maxBodyBytes", "must be between 1024 and 2147483647, got " + maxBodyBytes);
      }
      checkPositive("server.idleTimeout", idleTimeout);
      maxConnections = maxConnections == null ? 0 : maxConnections;
      if (maxConnections < 0) {
        throw new ConfigException("server.maxConnections",
            "must be 0 (derived from the descriptor limit) or positive, got " + maxConnections);
      }
      requestHeaderTimeout = requestHeaderTimeout == null ? Duration.ofSeconds(10) : requestHeaderTimeout;
      checkPositive("server.requestHeaderTimeout", requestHeaderTimeout);
      transport = transport == null ? "auto" : transport;
      if (!TRANSPORTS.contains(transport)) {
        throw new ConfigException("server.transport", "must be one of " + String.join(", ", TRANSPORTS)
            + ", got " + transport);
      }
      subscriptionCacheSize = subscriptionCacheSize == null ? 200_000L : subscriptionCacheSize;
      if (subscriptionCacheSize < 1) {
        throw new ConfigException("server.subscriptionCacheSize", "must be positive, got " + subscriptionCacheSize);
      }
      drainTimeout = drainTimeout == null ? Duration.ofSeconds(30) : drainTimeout;
      if (drainTimeout.isNegative()) {
        throw new ConfigException("server.drainTimeout", "must not be negative, got " + drainTimeout);
      }
    }


    public int effectiveEventLoops() {
      return eventLoops == 0 ? Runtime.getRuntime().availableProcessors() : eventLoops;
    }
  }

  /**
   * The admin port: admin API, billing pull API, metrics and health.
   *
   * @param host bind address; defaults to {@code 127.0.0.1}
   * @param port defaults to 9090; 0 picks a free port
   * @param token the operator token; at least 16 characters. Unset: a random one per run. The
   *     shipped example token is refused unless the admin port is bound to a loopback address
   */
  public record Admin(String host, Integer port, String token) {

    /** The example token of the shipped {@code config/tollgate.yaml}. */
    public static final String EXAMPLE_TOKEN = "change-me-operator-token";

    public Admin {
      host = host == null ? "127.0.0.1" : host;
      port = port == null ? 9090 : port;
      checkPort("admin.port", port);
      if (token != null && token.length() < 16) {
        throw new ConfigException("admin.token", "must be at least 16 characters");
      }
      if (EXAMPLE_TOKEN.equals(token) && !isLoopback(host)) {
        throw new ConfigException("admin.token", "the example token '" + EXAMPLE_TOKEN
            + "' is refused while admin.host (" + host + ") is not a loopback address;"
            + " set a strong secret of 16+ characters (TOLLGATE_ADMIN_TOKEN)");
      }
    }

    /**
     * Whether {@code host} binds only loopback. A literal address is checked without a lookup;
     * a name is resolved, and counts as loopback only if every address it has is.
     */
    private static boolean isLoopback(String host) {
      try {
        java.net.InetAddress[] all = java.net.InetAddress.getAllByName(host);
        for (java.net.InetAddress a : all) {
          if (!a.isLoopbackAddress()) {
            return false;
          }
        }
        return all.length > 0;
      } catch (java.net.UnknownHostException e) {
        return false;
      }
    }

    /** Never prints the operator token. */
    @Override
    public String toString() {
      return "Admin[host=" + host + ", port=" + port + ", token=" + (token == null ? "unset" : "***") + "]";
    }
  }

  /**
   * Where state lives. With neither {@code jdbcUrl} nor {@code redisUri} everything is embedded
   * under {@code dataDir}: an H2 file database and the usage journal.
   *
   * @param dataDir defaults to {@code ./data}
   * @param jdbcUrl defaults to an H2 file database in {@code dataDir}
   * @param redisUri e.g. {@code redis://127.0.0.1:6379}; unset means no Redis (counters in the
   *     JDBC store, cache invalidation local)
   */
  public record Store(String dataDir, String jdbcUrl, String jdbcUser, String jdbcPassword, String redisUri) {
    public Store {
      dataDir = dataDir == null || dataDir.isBlank() ? "./data" : dataDir;
      jdbcUrl = jdbcUrl == null || jdbcUrl.isBlank() ? null : jdbcUrl;
      redisUri = redisUri == null || redisUri.isBlank() ? null : redisUri;
      if (jdbcUrl != null && !jdbcUrl.startsWith("jdbc:")) {
        throw new ConfigException("store.jdbcUrl", "must start with jdbc:, got " + jdbcUrl);
      }
      if (redisUri != null && !redisUri.startsWith("redis://") && !redisUri.startsWith("rediss://")
          && !redisUri.startsWith("redis-socket://")) {
        throw new ConfigException("store.redisUri", "must start with redis:// or rediss://");
      }
    }

    /** Never prints the password. */
    @Override
    public String toString() {
      return "Store[dataDir=" + dataDir + ", jdbcUrl=" + jdbcUrl + ", jdbcUser=" + jdbcUser
          + ", jdbcPassword=" + (jdbcPassword == null ? "unset" : "***") + ", redisUri=" + redisUri + "]";
    }
  }

  /**
   * Usage metering.
   *
   * @param flushInterval how often aggregated usage goes to the meter store; defaults to 200 ms
   * @param journalMaxBytes journal size cap; defaults to 1 GiB
   * @param quotaLeaseTokens TOKEN_PACKAGE quota an instance leases at a time; defaults to 20000
   * @param quotaLeaseCalls CALL_PACKAGE quota an instance leases at a time; defaults to 20
   * @param instances gateway instances sharing rpm/tpm limits (each enforces its share); defaults
   *     to 1
   */
  public record Metering(Duration flushInterval, Long journalMaxBytes, Long quotaLeaseTokens, Long quotaLeaseCalls,
      Integer instances) {
    public Metering {
      flushInterval = flushInterval == null ? Duration.ofMillis(200) : flushInterval;
      journalMaxBytes = journalMaxBytes == null ? 1L << 30 : journalMaxBytes;
      quotaLeaseTokens = quotaLeaseTokens == null ? 20_000L : quotaLeaseTokens;
      quotaLeaseCalls = quotaLeaseCalls == null ? 20L : quotaLeaseCalls;
      instances = instances == null ? 1 : instances;
      if (quotaLeaseTokens < 1 || quotaLeaseCalls < 1) {
        throw new ConfigException(quotaLeaseTokens < 1 ? "metering.quotaLeaseTokens" : "metering.quotaLeaseCalls",
            "must be at least 1");
      }
      if (instances < 1) {
        throw new ConfigException("metering.instances", "must be at least 1, got " + instances);
      }
      checkPositive("metering.flushInterval", flushInterval);
      if (journalMaxBytes < 1 << 20) {
        throw new ConfigException("metering.journalMaxBytes", "must be at least 1048576, got " + journalMaxBytes);
      }
    }
  }

  /**
   * Billing export.
   *
   * @param window length of a usage window, whole minutes from 1 minute to 7 days, windows aligned
   *     to the epoch; defaults to {@code PT1H}
   * @param grace how long after a window ends it is closed; defaults to {@code PT2M}
   * @param interval how often the exporter looks for windows to close and late usage; defaults to
   *     {@code PT10S}
   * @param jsonl the JSONL file sink under {@code <store.dataDir>/billing/}
   */
  public record Export(Duration window, Duration grace, Duration interval, Jsonl jsonl) {
    public Export {
      window = window == null ? Duration.ofHours(1) : window;
      grace = grace == null ? Duration.ofMinutes(2) : grace;
      interval = interval == null ? Duration.ofSeconds(10) : interval;
      jsonl = jsonl == null ? new Jsonl(null, null) : jsonl;
      checkPositive("export.window", window);
      if (window.toMillis() % 60_000 != 0 || window.compareTo(Duration.ofDays(7)) > 0) {
        throw new ConfigException("export.window", "must be whole minutes from PT1M to P7D, got " + window);
      }
      if (grace.isNegative()) {
        throw new ConfigException("export.grace", "must not be negative, got " + grace);
      }
      checkPositive("export.interval", interval);
    }

    /** An export section with the default interval and JSONL sink. */
    public Export(Duration window, Duration grace) {
      this(window, grace, null, null);
    }

    /**
     * @param enabled write the files; defaults to true
     * @param format {@code record} (one usage record per line) or {@code cloudevents} (each record
     *     in a CloudEvents 1.0 envelope); defaults to {@code record}
     */
    public record Jsonl(Boolean enabled, String format) {
      public Jsonl {
        enabled = enabled == null ? Boolean.TRUE : enabled;
        format = format == null ? "record" : format;
        if (!format.equals("record") && !format.equals("cloudevents")) {
          throw new ConfigException("export.jsonl.format", "must be record or cloudevents, got " + format);
        }
      }
    }
  }

  /**
   * Upstream connections.
   *
   * @param deniedNetworks CIDRs (e.g. {@code 10.0.0.0/8}) no endpoint may resolve to, on top of
   *     what is always refused (tollgate's own listeners, link-local and metadata addresses).
   *     Empty by default, so an endpoint on another local port keeps working; production denies
   *     the private ranges. In the environment: a comma-separated list. Each is parsed exactly
   *     (four decimal numbers for IPv4, a prefix length that fits, no bits set beyond it)
   * @param maxConnectionsPerEndpoint connections open at once to one endpoint (idle, in use or
   *     connecting), for the whole buyer port: each of its event loops keeps an equal share, rounded
   *     up. At the cap a call waits for a connection. Defaults to 4096
   * @param maxPendingPerEndpoint calls waiting at once for a connection to one endpoint (shared
   *     out over the event loops the same way); a call beyond it, or that waits longer than the
   *     product's connect timeout, gets 503 {@code upstream_overloaded} with {@code Retry-After: 1}.
   *     0 means no waiting. Defaults to 1024
   */
  public record Upstream(java.util.List<String> deniedNetworks, Integer maxConnectionsPerEndpoint,
      Integer maxPendingPerEndpoint) {

    /** An upstream section with the default caps. */
    public Upstream(java.util.List<String> deniedNetworks) {
      this(deniedNetworks, null, null);
    }

    public Upstream {
      maxConnectionsPerEndpoint = maxConnectionsPerEndpoint == null ? 4096 : maxConnectionsPerEndpoint;
      maxPendingPerEndpoint = maxPendingPerEndpoint == null ? 1024 : maxPendingPerEndpoint;
      if (maxConnectionsPerEndpoint < 1) {
        throw new ConfigException("upstream.maxConnectionsPerEndpoint",
            "must be at least 1, got " + maxConnectionsPerEndpoint);
      }
      if (maxPendingPerEndpoint < 0) {
        throw new ConfigException("upstream.maxPendingPerEndpoint",
            "must be 0 (no waiting) or more, got " + maxPendingPerEndpoint);
      }
      java.util.List<String> out = new java.util.ArrayList<>();
      if (deniedNetworks != null) {
        for (int i = 0; i < deniedNetworks.size(); i++) {
          String item = deniedNetworks.get(i);
          if (item == null) {
            throw new ConfigException("upstream.deniedNetworks[" + i + "]", "must be a CIDR such as 10.0.0.0/8");
          }
          for (String part : item.split(",")) {
            String cidr = part.trim();
            if (cidr.isEmpty()) {
              continue;
            }
            try {
              AddressPolicy.checkNetwork(cidr);
            } catch (IllegalArgumentException e) {
              throw new ConfigException("upstream.deniedNetworks[" + i + "]", e.getMessage());
            }
            out.add(cidr);
          }
        }
      }
      deniedNetworks = java.util.List.copyOf(out);
    }
  }

  /**
   * The marketplace's listing rules.
   *
   * @param reservedNames words no product name may contain, compared after Unicode NFKC
   *     normalisation and case folding (so full-width letters match too); defaults to {@code
   *     [huawei, 华为]}, {@code []} reserves none. In the environment: a comma-separated list
   * @param supportFailuresToDelist missed support replies within 90 days that delist a listed
   *     product; 1 to 100, defaults to 3
   */
  public record Catalog(java.util.List<String> reservedNames, Integer supportFailuresToDelist) {
    public Catalog {
      if (reservedNames == null) {
        reservedNames = ReservedNames.DEFAULT_WORDS;
      } else {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < reservedNames.size(); i++) {
          String item = reservedNames.get(i);
          if (item == null) {
            throw new ConfigException("catalog.reservedNames[" + i + "]", "must be a word");
          }
          for (String part : item.split(",")) {
            if (!part.isBlank()) {
              out.add(part.strip());
            }
          }
        }
        try {
          new ReservedNames(out);
        } catch (IllegalArgumentException e) {
          throw new ConfigException("catalog.reservedNames", e.getMessage());
        }
        reservedNames = java.util.List.copyOf(out);
      }
      supportFailuresToDelist = supportFailuresToDelist == null
          ? ListingPolicy.DEFAULT_SUPPORT_FAILURES_TO_DELIST : supportFailuresToDelist;
      if (supportFailuresToDelist < 1 || supportFailuresToDelist > 100) {
        throw new ConfigException("catalog.supportFailuresToDelist", "must be from 1 to 100, got "
            + supportFailuresToDelist);
      }
    }

    /** These settings as the admin API takes them. */
    public ListingPolicy listingPolicy() {
      return new ListingPolicy(new ReservedNames(reservedNames), supportFailuresToDelist);
    }
  }

  /**
   * Metrics beyond the admin port's Prometheus {@code /metrics}.
   *
   * @param otlp push to an OpenTelemetry collector; off by default
   */
  public record Metrics(Otlp otlp) {
    public Metrics {
      otlp = otlp == null ? new Otlp(null, null) : otlp;
    }

    /**
     * OTLP export of every meter (HTTP, protobuf), alongside {@code /metrics}.
     *
     * @param endpoint the collector's OTLP/HTTP metrics URL, such as {@code
     *     http://localhost:4318/v1/metrics} ({@code http} or {@code https}); unset or empty: no
     *     export (the default)
     * @param step how often meters are pushed (each push carries that step's deltas or values);
     *     defaults to 60 s
     */
    public record Otlp(String endpoint, Duration step) {
      public Otlp {
        endpoint = endpoint == null || endpoint.isBlank() ? null : endpoint.strip();
        step = step == null ? Duration.ofSeconds(60) : step;
        checkPositive("metrics.otlp.step", step);
        if (endpoint != null) {
          java.net.URI uri;
          try {
            uri = new java.net.URI(endpoint);
          } catch (java.net.URISyntaxException e) {
            throw new ConfigException("metrics.otlp.endpoint", "must be an http or https URL, got '" + endpoint + "'");
          }
          String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
          if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw new ConfigException("metrics.otlp.endpoint",
                "must be an http or https URL with a host, such as http://localhost:4318/v1/metrics, got '"
                + endpoint + "'");
          }
        }
      }

      /** Whether metrics are pushed over OTLP. */
      public boolean enabled() {
        return endpoint != null;
      }
    }
  }

  /**
   * Logs.
   *
   * @param format the application log's lines: {@code json} (one JSON object per line: timestamp,
   *     level, logger, thread, message, MDC entries, exception) or {@code text} (one readable line);
   *     defaults to {@code json}
   * @param access the access log, one JSON line per buyer call: {@code stdout}, {@code off} (not
   *     registered at all; in YAML a bare {@code off} reads as {@code false}, which means the
   *     same) or {@code file PATH} (appended to PATH); defaults to {@code stdout}
   */
  public record Logging(String format, String access) {

    /** What {@code format} accepts. */
    public static final java.util.List<String> FORMATS = java.util.List.of("json", "text");

    public Logging {
      format = format == null ? "json" : format.trim();
      if (!FORMATS.contains(format)) {
        throw new ConfigException("logging.format", "must be json or text, got " + format);
      }
      access = access == null ? "stdout" : access.trim();
      if (access.equals("false")) {
        access = "off"; // YAML 1.1 reads a bare off as the boolean false
      }
      if (!access.equals("stdout") && !access.equals("off") && accessFile(access) == null) {
        throw new ConfigException("logging.access", "must be stdout, off or file PATH, got " + access);
      }
    }

    /** The access log's file, or null when it goes to stdout or is off. */
    public java.nio.file.Path accessFile() {
      return accessFile(access);
    }

    private static java.nio.file.Path accessFile(String access) {
      if (!access.startsWith("file ")) {
        return null;
      }
      String path = access.substring("file ".length()).trim();
      if (path.isEmpty()) {
        return null;
      }
      try {
        return java.nio.file.Path.of(path);
      } catch (java.nio.file.InvalidPathException e) {
        throw new ConfigException("logging.access", "not a file path: " + path);
      }
    }

    public boolean accessOff() {
      return access.equals("off");
    }

    public boolean json() {
      return format.equals("json");
    }
  }

  private static void checkPort(String key, int port) {
    if (port < 0 || port > 65535) {
      throw new ConfigException(key, "must be a port between 0 and 65535, got " + port);
    }
  }

  private static void checkPositive(String key, Duration d) {
    if (d.isZero() || d.isNegative()) {
      throw new ConfigException(key, "must be a positive duration, got " + d);
    }
  }
}
