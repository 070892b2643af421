package io.tollgate.gateway;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.ExportLease;
import io.tollgate.billing.Exporter;
import io.tollgate.billing.JdbcExportLease;
import io.tollgate.billing.JsonlSink;
import io.tollgate.billing.LedgerFollower;
import io.tollgate.billing.PriceBook;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RedisExportLease;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import io.tollgate.metering.store.MeterStore;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires the billing exporter from the config, for {@code serve} (on its own schedule) and {@code
 * export --once} (one run, {@link #openStandalone}): the ledger in the catalog's database, the
 * lease in Redis when Redis is configured (else a row in that database), the JSONL files under
 * {@code <store.dataDir>/billing} when {@code export.jsonl.enabled}. Both build the meter store
 * and the catalog the same way ({@link MeteringPipeline#meterStore}, {@link
 * Gateway#openCatalog}), so a one-off run reads exactly the marks and windows the gateways write.
 */
final class BillingExport {

  private static final Logger log = LoggerFactory.getLogger(BillingExport.class);

  /** The lease key in Redis and the lease row's name in the database. */
  static final String LEASE_NAME = "tollgate:export-lease";

  /**
   * No lease: {@code export --once --ignore-lease}. Safe because the lease only saves duplicate
   * work (see {@link ExportLease}); an operator uses it after an exporter died holding the lease,
   * rather than wait for the lease to expire.
   */
  static final ExportLease NO_LEASE = new ExportLease() {
    @Override
    public boolean tryAcquire() {
      return true;
    }

    @Override
    public void close() {}
  };

  private BillingExport() {}

  /**
   * The lease outlives a run by far: a run that takes longer than it (a huge backlog) only lets a
   * second exporter do the same work too, which the ledger makes harmless.
   */
  static Duration leaseTtl(GatewayConfig.Export export) {
    Duration threeRuns = export.interval().multipliedBy(3);
    return threeRuns.compareTo(Duration.ofMinutes(2)) > 0 ? threeRuns : Duration.ofMinutes(2);
  }

  /** The lease every exporter on these stores shares; {@code redis} null on the JDBC store. */
  static ExportLease lease(GatewayConfig config, DataSource catalogDb, RedisClusterCommands<String, String> redis,
      Clock clock) {
    String holder = holderName();
    Duration ttl = leaseTtl(config.export());
    return redis != null
        ? new RedisExportLease(redis, MeteringPipeline.KEY_PREFIX + ":export-lease", holder, ttl)
        : new JdbcExportLease(catalogDb, LEASE_NAME, holder, ttl, clock);
  }

  /** The exporter, not started. */
  static Exporter exporter(GatewayConfig config, Path dataDir, RecordLedger ledger, PriceBook prices,
      ExportSource source, ExportLease lease, Clock clock, MeterRegistry registry, TaskHealth health) {
    GatewayConfig.Export e = config.export();
    List<LedgerFollower> followers = e.jsonl().enabled()
        ? List.of(new JsonlSink(ledger, dataDir, JsonlSink.Format.parse(e.jsonl().format())))
        : List.of();
    return new Exporter(Exporter.Config.of(e.window(), e.grace()).withInterval(e.interval()), source, prices, ledger,
        followers, lease, clock, health, registry);
  }

  /**
   * Opens what {@code export --once} needs and nothing else (no journal, no ports): the catalog
   * database (migrated), the meter store, an exporter over them. On failure closes what it had
   * opened and throws the store's exception.
   *
   * @param ignoreLease run without the shared lease ({@link #NO_LEASE})
   */
  static Standalone openStandalone(GatewayConfig config, Clock clock, boolean ignoreLease) {
    Deque<AutoCloseable> resources = new ArrayDeque<>();
    try {
      Path dataDir = Gateway.prepareDataDir(config.store().dataDir());
      CatalogRepository catalog = Gateway.openCatalog(config, dataDir, clock);
      resources.push(catalog);
      StatefulRedisConnection<String, String> redis = null;
      if (config.store().redisUri() != null) {
        RedisClient client = Gateway.redisClient(config.store().redisUri(), resources);
        redis = client.connect();
        resources.push(redis::close);
      }
      MeterStore store = MeteringPipeline.meterStore(config, catalog.dataSource(), redis, clock);
      resources.push(store);
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      RecordLedger ledger = new RecordLedger(catalog.dataSource(), clock, registry);
      ExportLease lease = ignoreLease ? NO_LEASE
          : lease(config, catalog.dataSource(), redis != null ? redis.sync() : null, clock);
      Exporter exporter = exporter(config, dataDir, ledger, catalog.priceBook(), (ExportSource) store, lease, clock,
          registry, new TaskHealth(clock, registry));
      resources.push(exporter);
      return new Standalone(exporter, resources);
    } catch (RuntimeException | Error e) {
      closeAll(resources);
      throw e;
    }
  }

  /** An exporter with its own stores, for one-off runs; {@link #close()} closes them all. */
  static final class Standalone implements AutoCloseable {
    private final Exporter exporter;
    private final Deque<AutoCloseable> resources;

    private Standalone(Exporter exporter, Deque<AutoCloseable> resources) {
      this.exporter = exporter;
      this.resources = resources;
    }

    /** One export pass: see {@link Exporter#runOnce()}. */
    Exporter.Summary runOnce() {
      return exporter.runOnce();
    }

    @Override
    public void close() {
      closeAll(resources);
    }
  }

  private static void closeAll(Deque<AutoCloseable> resources) {
    while (!resources.isEmpty()) {
      try {
        resources.pop().close();
      } catch (Exception e) {
        log.warn("while closing: {}", e.toString());
      }
    }
  }

  /** {@code <pid>@<host>/<random>}: unique per process, readable in the lease row or key. */
  private static String holderName() {
    return ManagementFactory.getRuntimeMXBean().getName() + "/" + UUID.randomUUID().toString().substring(0, 8);
  }
}
