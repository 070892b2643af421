package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal directory of a running gateway is replaced by a plain file (a volume unmounted, a
 * careless operator): no journal segment can be created or deleted. Calls keep being served and
 * journaled into the segments already open, the failing flush takes the instance out of
 * readiness and shows in metrics, and once the directory is back every served call is metered
 * exactly once.
 */
class JournalDirectoryFaultsTest {

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  Gateway gateway;
  BuyerLoad load;
  Path journal;
  Path movedAway;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
    gateway = Gateway.start(GatewayYaml.embedded(dir.resolve("data")).load(dir.resolve("tollgate.yaml")));
    journal = dir.resolve("data").resolve("journal");
    movedAway = dir.resolve("journal.moved");
  }

  @AfterEach
  void stop() throws Exception {
    if (Files.exists(movedAway)) {
      Files.delete(journal);
      Files.move(movedAway, journal);
    }
    if (load != null) {
      load.close();
    }
    gateway.close();
    mock.close().await();
    vertx.close().await();
  }

  @Test
  void journalDirectoryReplacedByAFile_callsAreServed_readinessShowsIt_andMeteringCatchesUp() throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    AdminClient admin = new AdminClient(http, gateway.adminPort());
    List<Buyer> buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
    load = new BuyerLoad(http, buyers, List.of(gateway.buyerPort()), BuyerLoad.Options.defaults());
    load.awaitReceived(100, Duration.ofSeconds(30));

    Files.move(journal, movedAway);
    Files.writeString(journal, "not a directory");
    long receivedAtFault = load.received();
    Awaitility.await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
      JsonObject ready = admin.readiness();
      assertThat(ready.getInteger("httpStatus")).as("a local flush failure makes the instance unready: %s", ready)
          .isEqualTo(503);
      assertThat(ready.getJsonObject("tasks").getJsonObject("usage-flush").getString("cause")).isEqualTo("local");
    });
    assertThat(admin.metricSum("tollgate_task_failures_total", "task=\"usage-flush\"")).isPositive();
    assertThat(admin.metricSum("tollgate_task_up", "task=\"usage-flush\"")).isZero();
    load.awaitReceived(receivedAtFault + 100, Duration.ofSeconds(30));

    Files.delete(journal);
    Files.move(movedAway, journal);
    load.awaitReceived(load.received() + 100, Duration.ofSeconds(30));
    load.stop();

    assertThat(load.unexpected()).as("calls are served throughout").isEmpty();
    MeteredUsage.assertEqualsReceived(admin, load, buyers);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(admin::ready);
    assertThat(admin.metricSum("tollgate_task_up", "task=\"usage-flush\"")).isOne();
  }
}
