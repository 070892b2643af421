package io.tollgate.billing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.metering.testing.Services;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * The lease key on the machine's Redis, under a key prefix of the test's own. Redis expires it
 * by its own clock, so time passes for real here: a TTL long enough that a renewal is never late
 * on a loaded machine.
 */
class RedisExportLeaseTest extends ExportLeaseContract {

  private final String prefix = Services.uniquePrefix();
  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  @BeforeEach
  void open() {
    client = Services.sharedRedis();
    connection = client.connect();
  }

  @AfterEach
  void close() {
    try {
      Services.deleteKeys(connection.sync(), prefix);
      connection.close();
    } finally {
      client.shutdown();
    }
  }

  @Override
  ExportLease lease(String holder) {
    return new RedisExportLease(connection.sync(), prefix + ":export-lease", holder, ttl());
  }

  @Override
  Duration ttl() {
    return Duration.ofMillis(1000);
  }

  @Override
  void passTime(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis());
  }
}
