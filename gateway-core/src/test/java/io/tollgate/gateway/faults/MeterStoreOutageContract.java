package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md, Invariants: every served call is counted exactly once across meter-store restarts
 * and outages (the journal replays; batches apply idempotently). A whole gateway meters into a
 * private store of the test's own that the test kills or keeps down while buyers call it
 * concurrently; afterwards each subscription's metered usage equals what its buyer received.
 *
 * <p>One subclass per meter store (Redis, PostgreSQL), as {@code MeterStoreContract} runs one
 * suite over every store; faults a store alone has stay in its subclass.
 */
abstract class MeterStoreOutageContract {

  static final String STORE_ERRORS = "tollgate_meter_store_errors_total";
  static final String TASK_FAILURES = "tollgate_task_failures_total";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  Gateway gateway;
  AdminClient admin;
  List<Buyer> buyers;
  BuyerLoad load;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  /** Starts the private store and points {@code yaml} at it as the meter store. */
  abstract GatewayYaml startStore(GatewayYaml yaml) throws Exception;

  /** SIGKILL of the store: what it acknowledged survives, nothing else. */
  abstract void killStore() throws Exception;

  /** Starts the killed store again on the same address and data. */
  abstract void restartStore() throws Exception;

  /** True while the store answers a fresh client. */
  abstract boolean storeAnswers();

  /** Stops the store, whatever state the test left it in, and removes its files. */
  abstract void closeStore() throws Exception;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
    gateway = Gateway.start(startStore(GatewayYaml.embedded(dir.resolve("data")).server("healthCheckInterval", "300ms"))
        .load(dir.resolve("tollgate.yaml")));
    admin = new AdminClient(http, gateway.adminPort());
    buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
    load = new BuyerLoad(http, buyers, List.of(gateway.buyerPort()), BuyerLoad.Options.defaults());
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (load != null) {
        load.close();
      }
      if (gateway != null) {
        gateway.close();
      }
      if (mock != null) {
        mock.close().await();
      }
      if (vertx != null) {
        vertx.close().await();
      }
    } finally {
      closeStore();
    }
  }

  @Test
  void storeKilledAndRestartedMidLoad_meteredUsageEqualsWhatClientsReceived() throws Exception {
    load.awaitReceived(150, Duration.ofSeconds(30));
    killStore();
    assertThat(storeAnswers()).as("the private store is really down").isFalse();
    Thread.sleep(300);
    restartStore();
    long receivedAtRestart = load.received();
    load.awaitReceived(receivedAtRestart + 250, Duration.ofSeconds(30));
    load.stop();

    assertThat(load.unexpected()).as("buyer calls need no store round trip; a store restart must not fail them")
        .isEmpty();
    assertThat(load.cutOff()).as("no call may be cut off: %s", load.cutOffCalls()).isZero();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
  }

  @Test
  void storeDownForThreeSeconds_buyersAreServedAndMeteredExactlyOnceAfterwards() throws Exception {
    load.awaitReceived(150, Duration.ofSeconds(30));
    killStore();
    long receivedAtOutage = load.received();
    Thread.sleep(3000);
    assertThat(storeAnswers()).as("the private store is still down").isFalse();
    long servedDuringOutage = load.received() - receivedAtOutage;
    // A flush that took a pooled connection needing a fresh one waits up to the pool's connect
    // timeout (5 s) before it fails: give it that long, the store still down.
    Awaitility.await().atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(100))
        .until(() -> admin.metricSum(STORE_ERRORS) > 0);
    assertThat(storeAnswers()).as("the private store is still down").isFalse();
    double storeErrors = admin.metricSum(STORE_ERRORS);
    JsonObject readinessDuringOutage = admin.readiness();
    double flushFailures = admin.metricSum(TASK_FAILURES, "task=\"usage-flush\"");
    restartStore();
    load.awaitReceived(load.received() + 150, Duration.ofSeconds(30));
    load.stop();

    assertThat(servedDuringOutage).as("buyer calls need no store round trip: served while the store was down")
        .isGreaterThan(20);
    assertThat(storeErrors).as("%s during the outage: the flushes really failed", STORE_ERRORS).isPositive();
    assertThat(readinessDuringOutage.getJsonObject("tasks").getJsonObject("usage-flush").getString("status"))
        .as("a flush that cannot reach the store shows in /health/ready: %s", readinessDuringOutage)
        .isEqualTo("FAILING");
    assertThat(readinessDuringOutage.getJsonObject("tasks").getJsonObject("usage-flush").getString("cause"))
        .isEqualTo("dependency");
    assertThat(readinessDuringOutage.getInteger("httpStatus"))
        .as("a store outage is every instance's; the journal holds the usage, so the instance stays ready")
        .isEqualTo(200);
    assertThat(flushFailures).as("%s{task=usage-flush} counts the failed flushes", TASK_FAILURES).isPositive();
    assertThat(load.unexpected()).as("a store outage must not fail buyer calls").isEmpty();
    assertThat(load.cutOff()).as("no call may be cut off: %s", load.cutOffCalls()).isZero();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
    assertThat(admin.ready()).as("/health/ready once the store is back").isTrue();
    assertThat(admin.task("usage-flush")).as("the flusher recovered on its own").isEqualTo("OK");
  }
}
