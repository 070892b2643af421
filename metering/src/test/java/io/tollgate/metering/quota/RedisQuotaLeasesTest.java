package io.tollgate.metering.quota;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.metering.testing.Services;
import java.time.Duration;

class RedisQuotaLeasesTest extends QuotaLeasesContract {

  private final String prefix = Services.uniquePrefix();
  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  @Override
  QuotaPool createPool() {
    client = Services.sharedRedis();
    connection = client.connect();
    return new RedisQuotaPool(connection.async(), prefix, Duration.ofSeconds(2));
  }

  @Override
  void dropPool() {
    Services.deleteKeys(connection.sync(), prefix);
    connection.close();
    client.shutdown();
  }
}
