package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.tollgate.metering.testing.Services;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedisMeterStoreTest extends MeterStoreContract implements RedisExportMarksContract {

  private final String prefix = Services.uniquePrefix();
  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  @Override
  MeterStore createStore() {
    client = Services.sharedRedis();
    connection = client.connect();
    return new RedisMeterStore(connection.async(), RedisMeterStore.Config.defaults().withKeyPrefix(prefix));
  }

  @Override
  public RedisMeterStore exportStore(Duration window) {
    return new RedisMeterStore(connection.async(),
        RedisMeterStore.Config.defaults().withKeyPrefix(prefix).withExportWindow(window));
  }

  @Override
  public RedisClusterCommands<String, String> redisSync() {
    return connection.sync();
  }

  @Override
  public String keyPrefix() {
    return prefix;
  }

  @Override
  void dropStore() {
    Services.deleteKeys(connection.sync(), prefix);
    connection.close();
    client.shutdown();
  }

  @Test
  void scriptFlushedFromRedis_isReloadedWithEval() {
    store.apply(List.of(new UsageBatch("before", List.of(cell("s1", "k1", T0, 1, 1, 1)))));
    connection.sync().scriptFlush();

    store.apply(List.of(new UsageBatch("after", List.of(cell("s1", "k1", T0, 1, 1, 1)))));

    assertThat(store.totals("s1", DAY_START, NEXT_DAY).calls()).isEqualTo(2);
  }

  @Test
  void everyKeyOfOneSubBatch_sharesOneHashTag() {
    store.apply(List.of(new UsageBatch("tags", List.of(cell("s1", "k1", T0, 1, 1, 1)))));

    assertThat(connection.sync().keys(prefix + ":*"))
        .as("keys must carry a hash tag so that Cluster routes a script's keys to one slot")
        .isNotEmpty()
        .allSatisfy(k -> assertThat(k).matches(prefix + ":\\{((sub|sku|prod|mer|tw):[^}]+|tw-index)\\}:.*"));
  }
}
