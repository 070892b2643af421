package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.metering.testing.PrivateRedis;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@link MeterStoreOutageContract} with Redis as the meter store: a private redis-server that the
 * test kills, keeps down or pauses.
 */
class MeterStoreFaultsTest extends MeterStoreOutageContract {

  PrivateRedis redis;

  @Override
  GatewayYaml startStore(GatewayYaml yaml) throws Exception {
    redis = new PrivateRedis();
    return yaml.redis(redis.uri());
  }

  @Override
  void killStore() throws Exception {
    redis.kill();
  }

  @Override
  void restartStore() throws Exception {
    redis.start();
  }

  @Override
  boolean storeAnswers() {
    RedisClient probe = RedisClient.create(redis.uri());
    try {
      probe.connect().close();
      return true;
    } catch (RuntimeException e) {
      return false;
    } finally {
      probe.shutdown();
    }
  }

  @Override
  void closeStore() throws Exception {
    if (redis != null) {
      redis.close();
    }
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
}
