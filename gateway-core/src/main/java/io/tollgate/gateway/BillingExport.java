package io.tollgate.gateway;

import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.billing.ExportLease;
import io.tollgate.billing.Exporter;
import io.tollgate.billing.JdbcExportLease;
import io.tollgate.billing.JsonlSink;
import io.tollgate.billing.LedgerFollower;
import io.tollgate.billing.PriceBook;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RedisExportLease;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Wires the billing exporter from the config, for {@code serve} (on its own schedule) and {@code
 * export --once} (one run): the ledger in the catalog's database, the lease in Redis when Redis is
 * configured (else a row in that database), the JSONL files under {@code <store.dataDir>/billing}
 * when {@code export.jsonl.enabled}.
 */
final class BillingExport {

  /** The lease key in Redis and the lease row's name in the database. */
  static final String LEASE_NAME = "tollgate:export-lease";

  private BillingExport() {}

  /**
   * The lease outlives a run by far: a run that takes longer than it (a huge backlog) only lets a
   * second exporter do the same work too, which the ledger makes harmless.
   */
  static Duration leaseTtl(GatewayConfig.Export export) {
    Duration threeRuns = export.interval().multipliedBy(3);
    return threeRuns.compareTo(Duration.ofMinutes(2)) > 0 ? threeRuns : Duration.ofMinutes(2);
  }

  /** The exporter, not started; {@code redis} null on the JDBC store. */
  static Exporter exporter(GatewayConfig config, Path dataDir, DataSource catalogDb, RecordLedger ledger,
      PriceBook prices, ExportSource source, RedisClusterCommands<String, String> redis, Clock clock,
      MeterRegistry registry, TaskHealth health) {
    GatewayConfig.Export e = config.export();
    String holder = holderName();
    ExportLease lease = redis != null
        ? new RedisExportLease(redis, MeteringPipeline.KEY_PREFIX + ":export-lease", holder, leaseTtl(e))
        : new JdbcExportLease(catalogDb, LEASE_NAME, holder, leaseTtl(e), clock);
    List<LedgerFollower> followers = e.jsonl().enabled()
        ? List.of(new JsonlSink(ledger, dataDir, JsonlSink.Format.parse(e.jsonl().format())))
        : List.of();
    return new Exporter(Exporter.Config.of(e.window(), e.grace()).withInterval(e.interval()), source, prices, ledger,
        followers, lease, clock, health, registry);
  }

  /** {@code <pid>@<host>/<random>}: unique per process, readable in the lease row or key. */
  private static String holderName() {
    return ManagementFactory.getRuntimeMXBean().getName() + "/" + UUID.randomUUID().toString().substring(0, 8);
  }
}
