package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md, Invariants: "a call's usage reaches the journal before its last byte leaves
 * tollgate, so no crash can lose a call that the buyer received", and every served call is
 * counted exactly once across {@code kill -9}. The gateway runs as {@code tollgate serve} in a
 * JVM of its own; buyers call it concurrently while it is SIGKILLed and started again on the same
 * config, data dir and ports.
 */
class GatewayKillTest {

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  @ParameterizedTest(name = "meter store: {0}")
  @ValueSource(strings = {"embedded", "redis"})
  void gatewayKilledMidLoad_meteredUsageEqualsWhatClientsReceived(String meterStore) throws Exception {
    PrivateRedis redis = meterStore.equals("redis") ? new PrivateRedis() : null;
    GatewayYaml yaml = GatewayYaml.embedded(dir.resolve("data")).fixedPorts();
    if (redis != null) {
      yaml.redis(redis.uri());
    }
    GatewayProcess gateway = new GatewayProcess(yaml.writeTo(dir.resolve("tollgate.yaml")), yaml.adminPort());
    BuyerLoad load = null;
    try {
      gateway.start();
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      List<Buyer> buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
      load = new BuyerLoad(http, buyers, List.of(yaml.buyerPort()), BuyerLoad.Options.defaults());

      load.awaitReceived(150, Duration.ofSeconds(30));
      gateway.kill();
      assertThat(gateway.isAlive()).as("SIGKILL ended the gateway process").isFalse();
      assertThat(gateway.exitValue()).as("exit status 128 + SIGKILL").isEqualTo(137);
      long receivedAtKill = load.received();

      gateway.start(); // same config, data dir and ports: the journal replays
      load.awaitReceived(receivedAtKill + 250, Duration.ofSeconds(30));
      load.stop();

      assertThat(load.cutOff()).as("the kill must cut calls in flight, else it did not hit mid-load: %s", load)
          .isPositive();
      assertThat(load.unexpected()).as("every call either completes or is cut by the kill").isEmpty();
      MeteredUsage.assertEqualsReceived(admin, load, buyers);
    } catch (Throwable t) {
      t.addSuppressed(new AssertionError("gateway output (tail):\n" + gateway.logTail()));
      throw t;
    } finally {
      if (load != null) {
        load.close();
      }
      gateway.close();
      if (redis != null) {
        redis.close();
      }
    }
  }
}
