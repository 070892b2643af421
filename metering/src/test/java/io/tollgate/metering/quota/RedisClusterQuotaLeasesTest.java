package io.tollgate.metering.quota;

import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.tollgate.metering.testing.RedisClusterPerClass;
import io.tollgate.metering.testing.Services;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The {@link QuotaLeasesContract} on a private 3-master Redis Cluster. */
class RedisClusterQuotaLeasesTest extends QuotaLeasesContract {

  @RegisterExtension static final RedisClusterPerClass CLUSTER = new RedisClusterPerClass();

  private final String prefix = Services.uniquePrefix();
  private StatefulRedisClusterConnection<String, String> connection;

  @Override
  QuotaPool createPool() {
    connection = CLUSTER.connect();
    return new RedisQuotaPool(connection.async(), prefix, Duration.ofSeconds(2));
  }

  @Override
  void dropPool() {
    RedisClusterPerClass.dropAndClose(connection, prefix);
  }
}
