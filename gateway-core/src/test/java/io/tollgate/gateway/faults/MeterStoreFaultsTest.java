package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.metering.testing.PrivateRedis;
import io.vertx.core.Vertx;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md, Invariants: every served call is counted exactly once across Redis restarts and
 * store outages (the journal replays; batches apply idempotently). A whole gateway, metering into
 * a private Redis (the meter store) that the test kills, keeps down or pauses while buyers call
 * it concurrently; afterwards each subscription's metered usage equals what its buyer received.
 */
class MeterStoreFaultsTest {

  static final String STORE_ERRORS = "tollgate_meter_store_errors_total";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  PrivateRedis redis;
  Gateway gateway;
  AdminClient admin;
  List<Buyer> buyers;
  BuyerLoad load;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
    redis = new PrivateRedis();
    gateway = Gateway.start(GatewayYaml.embedded(dir.resolve("data")).redis(redis.uri())
        .load(dir.resolve("tollgate.yaml")));
    admin = new AdminClient(http, gateway.adminPort());
    buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
    load = new BuyerLoad(http, buyers, List.of(gateway.buyerPort()), BuyerLoad.Options.defaults());
  }

  @AfterEach
  void stop() throws Exception {
    try {
      load.close();
      gateway.close();
      mock.close().await();
      vertx.close().await();
    } finally {
      redis.close();
    }
  }

  @Test
  void redisKilledAndRestartedMidLoad_meteredUsageEqualsWhatClientsReceived() throws Exception {
    load.awaitReceived(150, Duration.ofSeconds(30));
    redis.kill();
    assertRedisDown();
    Thread.sleep(300);
    redis.start();
    long receivedAtRestart = load.received();
    load.awaitReceived(receivedAtRestart + 250, Duration.ofSeconds(30));
    load.stop();

    assertThat(load.unexpected()).as("buyer calls need no store round trip; a Redis restart must not fail them")
        .isEmpty();
    assertThat(load.cutOff()).as("no call may be cut off: %s", load.cutOffCalls()).isZero();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
  }

  @Test
  void redisDownForThreeSeconds_buyersAreServedAndMeteredExactlyOnceAfterwards() throws Exception {
    load.awaitReceived(150, Duration.ofSeconds(30));
    redis.kill();
    long receivedAtOutage = load.received();
    Thread.sleep(3000);
    assertRedisDown();
    long servedDuringOutage = load.received() - receivedAtOutage;
    double storeErrors = admin.metricSum(STORE_ERRORS);
    redis.start();
    load.awaitReceived(load.received() + 150, Duration.ofSeconds(30));
    load.stop();

    assertThat(servedDuringOutage).as("buyer calls need no store round trip: served while Redis was down")
        .isGreaterThan(20);
    assertThat(storeErrors).as("%s during the outage: the flushes really failed", STORE_ERRORS).isPositive();
    assertThat(load.unexpected()).as("a store outage must not fail buyer calls").isEmpty();
    assertThat(load.cutOff()).as("no call may be cut off: %s", load.cutOffCalls()).isZero();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
  }

  /**
   * {@code CLIENT PAUSE} holds every command on the server longer than the meter store's command
   * timeout (2 s by default): the gateway gives up on batches that Redis then applies when the
   * pause ends, and it retries them. Each must count once.
   */
  @Test
  void redisPausedPastTheCommandTimeout_retriedFlushesAreNotCountedTwice() throws Exception {
    load.awaitReceived(150, Duration.ofSeconds(30));
    double errorsBefore = admin.metricSum(STORE_ERRORS);
    long pauseMillis = 3500;
    RedisClient client = RedisClient.create(redis.uri());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.sync().clientPause(pauseMillis);
    } finally {
      client.shutdown();
    }
    long receivedAtPause = load.received();
    Thread.sleep(pauseMillis + 500);
    long servedDuringPause = load.received() - receivedAtPause;
    double errorsAfter = admin.metricSum(STORE_ERRORS);
    load.awaitReceived(load.received() + 150, Duration.ofSeconds(30));
    load.stop();

    assertThat(servedDuringPause).as("buyer calls need no store round trip: served while Redis was paused")
        .isGreaterThan(20);
    assertThat(errorsAfter - errorsBefore).as("%s: flushes timed out during the pause, so batches were retried",
        STORE_ERRORS).isPositive();
    assertThat(load.unexpected()).as("a stalled store must not fail buyer calls").isEmpty();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
  }

  private void assertRedisDown() {
    RedisClient probe = RedisClient.create(redis.uri());
    try {
      assertThatThrownBy(() -> probe.connect().close()).as("the private Redis is really down").isNotNull();
    } finally {
      probe.shutdown();
    }
  }
}
