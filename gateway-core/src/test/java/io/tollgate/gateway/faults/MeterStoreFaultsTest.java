package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.tollgate.metering.testing.PrivateRedis;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
    // small token leases, so that package calls need refills from Redis every few calls
    return yaml.redis(redis.uri()).metering("quotaLeaseTokens", "200");
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
   * Quota lease refills need Redis. While it is down a package buyer is served from what its
   * lease holds, then refused (fail closed: prepaid quota nobody can account for is not served);
   * the failed refills show in {@code /health/ready} and in metrics; once Redis is back the buyer
   * is served again and every served call is metered once.
   */
  @Test
  void redisDown_quotaRefillsFailVisibly_andPackageCallsResumeAfterwards() throws Exception {
    load.stop();
    String merchant = admin.merchant("pkg-merchant");
    String product = admin.product(merchant, "Pkg Chat", "openai", mock.baseUrl());
    BuyerLoad.Buyer pkg = admin.subscribe(admin.sku(merchant, product, "mock-gpt", AdminClient.tokenPackage(1_000_000)),
        "buyer-pkg", BuyerLoad.Api.OPENAI_CHAT);
    long served = 0;
    for (int i = 0; i < 5; i++) {
      assertThat(chat(pkg).statusCode()).isEqualTo(200);
      served++;
    }
    killStore();
    int refused = 0;
    for (int i = 0; i < 200 && refused == 0; i++) {
      HttpResponse<String> r = chat(pkg);
      if (r.statusCode() == 200) {
        served++;
      } else {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(429);
        assertThat(r.body()).contains("insufficient_quota");
        refused++;
      }
    }
    assertThat(refused).as("once the lease is spent and Redis cannot refill it, calls are refused").isOne();
    assertThat(admin.task("quota-refill")).as("failed refills show in /health/ready").isEqualTo("FAILING/dependency");
    assertThat(admin.metricSum(TASK_FAILURES, "task=\"quota-refill\"")).isPositive();
    assertThat(admin.ready()).as("a Redis outage is every instance's: the instance stays ready").isTrue();

    restartStore();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(300))
        .until(() -> chat(pkg).statusCode() == 200);
    served++;
    assertThat(admin.task("quota-refill")).as("refills recovered").isEqualTo("OK");
    long expected = served;
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
        .untilAsserted(() -> assertThat(admin.metered(pkg.subscriptionId()).calls())
            .as("every served package call is metered once").isEqualTo(expected));
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
  }

  private HttpResponse<String> chat(BuyerLoad.Buyer buyer) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.buyerPort()
            + "/v1/chat/completions")).timeout(Duration.ofSeconds(15)).header("authorization", "Bearer " + buyer.apiKey())
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"mock-gpt\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"count to ten\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
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
