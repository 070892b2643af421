package io.tollgate.metering.aggregate;

import static io.tollgate.metering.aggregate.AggregatorFixture.assertStoreMatches;
import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.store.RedisMeterStore;
import io.tollgate.metering.testing.Ledger;
import io.tollgate.metering.testing.PrivateRedis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exactness while a private Redis is killed, down, or slow; never the shared instance. */
class RedisFaultsTest {

  static final int SUBS = 10;

  @TempDir Path dir;
  PrivateRedis redis;
  RedisClient client;
  ClientResources resources;
  StatefulRedisConnection<String, String> connection;
  RedisMeterStore store;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final Ledger ledger = new Ledger(SUBS);

  @BeforeEach
  void setUp() throws Exception {
    redis = new PrivateRedis();
    resources = DefaultClientResources.builder()
        .reconnectDelay(Delay.constant(Duration.ofMillis(100))).build();
    client = RedisClient.create(resources, redis.uri());
    // Fail fast while disconnected instead of buffering: the journal is the buffer.
    client.setOptions(ClientOptions.builder().autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
    connection = client.connect();
    store = new RedisMeterStore(connection.async(),
        RedisMeterStore.Config.defaults().withCommandTimeout(Duration.ofSeconds(2)));
  }

  @AfterEach
  void tearDown() throws Exception {
    connection.close();
    client.shutdown();
    resources.shutdown();
    redis.close();
  }

  @Test
  void redisKilledAndRestartedMidLoad_totalsStayExact() throws Exception {
    UsageAggregator aggregator = AggregatorFixture.start(dir, store, registry);
    try (Load load = new Load(aggregator, 4)) {
      load.awaitEvents(2000);
      redis.kill();
      long before = load.count();
      Thread.sleep(700);
      redis.start();
      load.awaitEvents(before + 2000);
    }
    Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> aggregator.pendingBatches() == 0);
    aggregator.close();

    assertThat(registry.get("tollgate.meter.store.errors").counter().count())
        .as("the kill must have made flushes fail, or this test proves nothing").isPositive();
    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void storeUnreachableForAWhile_journalKeepsUsageAndTotalsStayExact() throws Exception {
    UsageAggregator aggregator = AggregatorFixture.start(dir, store, registry);
    redis.kill();
    try (Load load = new Load(aggregator, 2)) {
      load.awaitEvents(3000);
      Awaitility.await().until(() -> aggregator.pendingBatches() > 0);
    }
    assertThat(registry.get("tollgate.journal.bytes").gauge().value()).isPositive();
    redis.start();
    Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> aggregator.pendingBatches() == 0);
    aggregator.close();

    assertStoreMatches(store, ledger, SUBS);
  }

  @Test
  void flushRetryAfterTimeoutWhereStoreApplied_doesNotDoubleCount() throws Exception {
    store = new RedisMeterStore(connection.async(),
        RedisMeterStore.Config.defaults().withCommandTimeout(Duration.ofMillis(300)));
    UsageAggregator aggregator = AggregatorFixture.start(dir, store, registry);
    try (StatefulRedisConnection<String, String> admin = client.connect()) {
      // Redis holds every command for 1 s: the 300 ms apply times out, then Redis runs it anyway.
      admin.sync().clientPause(1000);
      try (Load load = new Load(aggregator, 2)) {
        load.awaitEvents(1500);
      }
      Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> registry.get("tollgate.meter.store.errors").counter().count() > 0);
    }
    aggregator.close();

    assertStoreMatches(store, ledger, SUBS);
  }

  /** Threads recording random events until closed. */
  final class Load implements AutoCloseable {
    final AtomicBoolean stop = new AtomicBoolean();
    final java.util.concurrent.atomic.AtomicLong recorded = new java.util.concurrent.atomic.AtomicLong();
    final ExecutorService pool;
    final List<Future<?>> done = new ArrayList<>();

    Load(UsageAggregator aggregator, int threads) {
      pool = Executors.newFixedThreadPool(threads);
      CountDownLatch go = new CountDownLatch(1);
      for (int t = 0; t < threads; t++) {
        Random rnd = new Random(t);
        done.add(pool.submit(() -> {
          go.await();
          while (!stop.get()) {
            var e = ledger.next(rnd);
            aggregator.record(e);
            ledger.recorded(e);
            recorded.incrementAndGet();
            if ((recorded.get() & 63) == 0) {
              Thread.sleep(1);
            }
          }
          return null;
        }));
      }
      go.countDown();
    }

    long count() {
      return recorded.get();
    }

    void awaitEvents(long n) {
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> recorded.get() >= n);
    }

    @Override
    public void close() throws ExecutionException {
      stop.set(true);
      try {
        for (Future<?> f : done) {
          f.get();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        pool.shutdown();
      }
    }
  }
}
