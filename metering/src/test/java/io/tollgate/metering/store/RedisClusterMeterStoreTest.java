package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.tollgate.metering.testing.RedisClusterPerClass;
import io.tollgate.metering.testing.Services;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link MeterStoreContract} on a private 3-master Redis Cluster: one apply pipelines scripts
 * to several nodes, each script touching one slot.
 */
class RedisClusterMeterStoreTest extends MeterStoreContract implements RedisExportMarksContract {

  @RegisterExtension static final RedisClusterPerClass CLUSTER = new RedisClusterPerClass();

  private final String prefix = Services.uniquePrefix();
  private StatefulRedisClusterConnection<String, String> connection;

  @Override
  MeterStore createStore() {
    connection = CLUSTER.connect();
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
    RedisClusterPerClass.dropAndClose(connection, prefix);
  }


  @Test
  void batchSpanningTags_isWrittenToSeveralMasters() {
    store.apply(List.of(new UsageBatch("spread", List.of(
        cell("s1", "k1", T0, 1, 1, 1), cell("s2", "k2", T0, 1, 1, 1),
        cell("s3", "k3", T0, 1, 1, 1)))));

    Set<String> masters = connection.sync().keys(prefix + ":*").stream()
        .map(k -> connection.getPartitions().getPartitionBySlot(SlotHash.getSlot(k)).getNodeId())
        .collect(Collectors.toSet());
    assertThat(masters)
        .as("the batch must cross nodes, or this suite proves nothing about Cluster")
        .hasSizeGreaterThan(1);
  }

  @Test
  void scriptFlushedOnEveryMaster_isReloadedWithEval() {
    store.apply(List.of(new UsageBatch("before", List.of(cell("s1", "k1", T0, 1, 1, 1)))));
    // SCRIPT FLUSH on an advanced cluster connection goes to every master.
    connection.sync().scriptFlush();

    store.apply(List.of(new UsageBatch("after", List.of(cell("s1", "k1", T0, 1, 1, 1)))));

    assertThat(store.totals("s1", DAY_START, NEXT_DAY).calls()).isEqualTo(2);
  }
}
