package io.tollgate.gateway;

import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.billing.PriceBook;
import io.tollgate.gateway.account.UsageView;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.proxy.CallMetering;
import io.tollgate.metering.aggregate.UsageAggregator;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.quota.JdbcQuotaPool;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.QuotaPool;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.quota.RedisQuotaPool;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.RedisMeterStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.sql.DataSource;

/**
 * The metering behind the buyer port: journal, aggregator and meter store; quota leases and rate
 * limits. Redis holds counters and quota pools when {@code store.redisUri} is set, else the
 * catalog's database does (H2 embedded, or PostgreSQL).
 *
 * <p>Close order matters: the buyer port stops first (no more calls), then the token estimates
 * in flight finish and record their calls (at most 10 s: a call its buyer aborted is recorded
 * when its estimate is done), then the aggregator drains to the store (what it cannot send stays
 * in the journal for the next start), then the leases go back to the pools.
 */
final class MeteringPipeline implements AutoCloseable {

  static final String KEY_PREFIX = "tg";

  final UsageJournal journal;
  final MeterStore store;
  final UsageAggregator aggregator;
  final QuotaLeases tokenQuota;
  final QuotaLeases callQuota;
  final RateLimiter limiter;
  final CallMetering callMetering;
  private final ExecutorService refills;

  MeteringPipeline(GatewayConfig config, Path dataDir, DataSource catalogDb,
      StatefulRedisConnection<String, String> redis, Clock clock, MeterRegistry registry, TaskHealth health) {
    GatewayConfig.Metering m = config.metering();
    store = meterStore(config, catalogDb, redis, clock);
    QuotaPool pool = redis != null
        ? new RedisQuotaPool(redis.async(), KEY_PREFIX, Duration.ofSeconds(2))
        : new JdbcQuotaPool(catalogDb, "tg_"); // migrated with the catalog: Gateway.openCatalog
    UsageJournal.Config jc = UsageJournal.Config.defaults();
    try {
      journal = UsageJournal.open(dataDir.resolve("journal"),
          new UsageJournal.Config(jc.syncInterval(), Math.min(jc.segmentBytes(), m.journalMaxBytes()),
              m.journalMaxBytes()), clock, registry, health);
    } catch (RuntimeException e) {
      throw new ConfigException("store.dataDir", "cannot open the usage journal: " + e.getMessage());
    }
    aggregator = UsageAggregator.start(journal, store,
        UsageAggregator.Config.defaults().withFlushInterval(m.flushInterval()), clock, registry, health);
    refills = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "tollgate-quota-refill");
      t.setDaemon(true);
      return t;
    });
    tokenQuota = new QuotaLeases(pool, refills, m.quotaLeaseTokens(), Duration.ofSeconds(5), clock, registry, health);
    callQuota = new QuotaLeases(pool, refills, m.quotaLeaseCalls(), Duration.ofSeconds(5), clock, registry, health);
    limiter = new RateLimiter(clock, m.instances(), registry);
    callMetering = new CallMetering(tokenQuota, callQuota, limiter, registry);
    // The jtokkit encodings (about 25 MB of heap each) load at the first estimate, on the estimate
    // worker that needs them, never on an event loop. Most calls report their usage and never
    // need one; loading both at start-up cost ~50 MB of resident memory for good.
  }

  /**
   * The meter store the config names, with the export window's marks: Redis under {@value
   * #KEY_PREFIX} when {@code redis} is given, else tables in the catalog's database (created if
   * missing). The gateway counts into it; {@code export --once} reads it as an {@link
   * io.tollgate.metering.store.ExportSource}, so both must build it the same way.
   */
  static MeterStore meterStore(GatewayConfig config, DataSource catalogDb,
      StatefulRedisConnection<String, String> redis, Clock clock) {
    if (redis != null) {
      return new RedisMeterStore(redis.async(), RedisMeterStore.Config.defaults().withKeyPrefix(KEY_PREFIX)
          .withExportWindow(config.export().window()));
    }
    // Migrated with the catalog (Gateway.openCatalog), the one place every JDBC table is made.
    return new JdbcMeterStore(catalogDb, "tg_", clock).withExportWindow(config.export().window());
  }


  /**
   * What a subscription used in its current period, from the meter store, and what it costs at
   * {@code prices}. Blocking. See {@link UsageView#metered}.
   */
  UsageView usageView(Clock clock, PriceBook prices) {
    return UsageView.metered(store::usage, prices, clock);
  }

  @Override
  public void close() {
    callMetering.close();
    aggregator.close();
    tokenQuota.close();
    callQuota.close();
    refills.shutdown();
    journal.close();
    store.close();
  }
}
