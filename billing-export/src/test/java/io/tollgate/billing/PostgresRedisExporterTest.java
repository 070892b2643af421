package io.tollgate.billing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.RedisMeterStore;
import io.tollgate.metering.testing.Services;
import java.time.Duration;

/**
 * {@link ExporterTest} on the production stores: the ledger on the machine's PostgreSQL (a schema
 * of the test's own), the meter store and the lease on the machine's Redis (under a key prefix of
 * the test's own, deleted after each test).
 */
class PostgresRedisExporterTest extends ExporterTest {

  private final String prefix = Services.uniquePrefix();
  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  @Override
  TestDatabase newDatabase() {
    return TestDatabase.postgres();
  }

  @Override
  MeterStore newMeterStore(Duration window) {
    if (client == null) {
      client = Services.sharedRedis();
      connection = client.connect();
    }
    return new RedisMeterStore(connection.async(),
        RedisMeterStore.Config.defaults().withKeyPrefix(prefix).withExportWindow(window));
  }

  /** Redis expires it by its own clock: ten minutes outlive every test. */
  @Override
  ExportLease lease(String holder) {
    return new RedisExportLease(connection.sync(), prefix + ":export-lease", holder, Duration.ofMinutes(10));
  }

  @Override
  void dropMeterStore() {
    if (client != null) {
      try {
        Services.deleteKeys(connection.sync(), prefix);
        connection.close();
      } finally {
        client.shutdown();
      }
    }
  }
}
