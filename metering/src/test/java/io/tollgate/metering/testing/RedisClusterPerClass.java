package io.tollgate.metering.testing;

import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A private 3-master Redis Cluster for one test class ({@code @RegisterExtension static}): started
 * before its first test, stopped after its last, with a client the tests connect through.
 */
public final class RedisClusterPerClass implements BeforeAllCallback, AfterAllCallback {

  private PrivateRedisCluster cluster;
  private RedisClusterClient client;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    cluster = new PrivateRedisCluster();
    client = cluster.client();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    try {
      if (client != null) {
        client.shutdown();
      }
    } finally {
      if (cluster != null) {
        cluster.close();
      }
    }
  }

  public StatefulRedisClusterConnection<String, String> connect() {
    return client.connect();
  }

  /** Deletes a test's keys on every master and closes its connection. */
  public static void dropAndClose(StatefulRedisClusterConnection<String, String> connection, String prefix) {
    RedisAdvancedClusterCommands<String, String> redis = connection.sync();
    // KEYS on an advanced cluster connection asks every master.
    for (String key : redis.keys(prefix + ":*")) {
      redis.del(key);
    }
    connection.close();
  }
}
