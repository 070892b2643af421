package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.KeepAliveConnection.Answer;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The process's file descriptors, the one resource any client can use up by opening idle
 * connections. Once, with descriptors exhausted, the usage flusher could not create its next
 * journal segment, died, and the gateway went on serving calls it never metered (13 served, 1
 * metered) with readiness UP. Each test runs {@code tollgate serve} under {@code ulimit -n}.
 */
class DescriptorLimitTest {

  static final String FLUSH_FAILURES = "tollgate_task_failures_total";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  GatewayProcess gateway;
  final List<Socket> idle = new ArrayList<>();
  final List<AutoCloseable> connections = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  long callsReceived;
  long inputReceived;
  long outputReceived;

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
  }

  @AfterEach
  void stop() throws Exception {
    closeIdle();
    for (AutoCloseable c : connections) {
      c.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    mock.close().await();
    vertx.close().await();
  }

  GatewayYaml yaml() {
    return GatewayYaml.embedded(dir.resolve("data")).fixedPorts();
  }

  GatewayProcess start(GatewayYaml yaml, int descriptorLimit) throws Exception {
    gateway = new GatewayProcess(yaml.writeTo(dir.resolve("tollgate.yaml")), yaml.adminPort())
        .withDescriptorLimit(descriptorLimit).start();
    return gateway;
  }

  KeepAliveConnection connect(int port) throws IOException {
    KeepAliveConnection c = new KeepAliveConnection(port);
    connections.add(c);
    return c;
  }

  /** One chat call on {@code c}; counts what the buyer received when it is a whole 200 answer. */
  Answer call(KeepAliveConnection c, Buyer buyer, int i) throws IOException {
    Answer a = c.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"max_tokens\":" + (5 + i % 7)
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"call number " + i + " of the test\"}]}",
        "authorization", "Bearer " + buyer.apiKey());
    if (a.status() == 200) {
      JsonObject usage = new JsonObject(a.body()).getJsonObject("usage");
      callsReceived++;
      inputReceived += usage.getLong("prompt_tokens");
      outputReceived += usage.getLong("completion_tokens");
    }
    return a;
  }

  /** Opens up to {@code max} idle connections to {@code port}, until {@code enough} says so. */
  void openIdle(int port, int max, java.util.function.BooleanSupplier enough) throws Exception {
    for (int i = 0; i < max && !(i % 25 == 0 && enough.getAsBoolean()); i++) {
      Socket s = new Socket();
      s.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
      idle.add(s);
    }
  }

  /**
   * Opens {@code count} idle connections to {@code port} while the gateway's open descriptors are
   * sampled every millisecond, and returns the most seen: a burst the cap refuses must never hold
   * the descriptors the refused connections came in on (io_uring's multishot accept once took the
   * whole backlog, 900 of 900, before a connection reached the cap).
   */
  int openIdleWatchingPeak(int port, int count) throws Exception {
    AtomicBoolean opening = new AtomicBoolean(true);
    ExecutorService sampler = Executors.newSingleThreadExecutor();
    Future<Integer> peak = sampler.submit(() -> {
      int most = 0;
      long settled = Long.MAX_VALUE;
      while (System.nanoTime() < settled) { // and 500 ms past the last connection, for accepts still queued
        most = Math.max(most, openDescriptors());
        if (!opening.get() && settled == Long.MAX_VALUE) {
          settled = System.nanoTime() + 500_000_000L;
        }
        Thread.sleep(1);
      }
      return most;
    });
    try {
      openIdle(port, count, () -> false);
    } finally {
      opening.set(false);
      sampler.shutdown();
    }
    return peak.get(20, TimeUnit.SECONDS);
  }

  void closeIdle() throws IOException {
    for (Socket s : idle) {
      s.close();
    }
    idle.clear();
  }

  static double metric(KeepAliveConnection admin, String name, String... labels) throws IOException {
    double sum = 0;
    for (String line : admin.get("/metrics").body().split("\n")) {
      if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
        continue;
      }
      boolean all = true;
      for (String l : labels) {
        all &= line.contains(l);
      }
      if (all) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  void assertMeteredEqualsReceived(AdminClient admin, Buyer buyer) {
    Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
        .untilAsserted(() -> assertThat(admin.metered(buyer.subscriptionId()))
            .as("metered usage must equal what the buyer received")
            .isEqualTo(new BuyerLoad.Totals(callsReceived, inputReceived, outputReceived)));
  }

  @Test
  void descriptorsExhausted_meteringSurvives_showsInReadiness_andCatchesUpAfterRecovery() throws Exception {
    int limit = 700;
    // An operator's cap above what the limit allows (start-up warns): idle connections can now
    // use up every descriptor, which is what this test needs.
    GatewayYaml yaml = yaml().server("maxConnections", "100000").metering("flushInterval", "100ms");
    start(yaml, limit);
    AdminClient admin = new AdminClient(http, yaml.adminPort());
    Buyer buyer = admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl())[0];
    List<KeepAliveConnection> buyerConnections = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      buyerConnections.add(connect(yaml.buyerPort()));
    }
    KeepAliveConnection adminConnection = connect(yaml.adminPort());
    int n = 0;
    for (KeepAliveConnection c : buyerConnections) {
      assertThat(call(c, buyer, n++).status()).isEqualTo(200); // warms an upstream connection per event loop
    }
    assertThat(adminConnection.get("/health/ready").status()).isEqualTo(200);
    assertMeteredEqualsReceived(admin, buyer);

    openIdle(yaml.buyerPort(), 2 * limit, () -> openDescriptors() >= limit - 1);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> openDescriptors() >= limit - 1);

    for (int i = 0; i < 13; i++) {
      assertThat(call(buyerConnections.get(i % 4), buyer, n++).status())
          .as("calls on open connections are served while descriptors are exhausted").isEqualTo(200);
    }
    // Calls go on, on a thread of their own, while readiness is polled, so that usage keeps
    // arriving over several flushes: the first roll may take the segment the journal prepared
    // before the exhaustion (and a stripe per event loop may or may not share one); a later roll
    // must create a file, and fails. Readiness is polled every 10 ms: a descriptor the gateway
    // frees (a segment whose batch was applied is deleted) can let the next flush through before
    // accept takes it again, so a failing spell may last only until the next flush, ~100 ms (CI
    // once polled every 200 ms, behind a call, and never saw one).
    ExecutorService caller = Executors.newSingleThreadExecutor();
    AtomicBoolean calling = new AtomicBoolean(true);
    int from = n;
    Future<Integer> calls = caller.submit(() -> {
      int i = from;
      while (calling.get()) {
        assertThat(call(buyerConnections.get(i % 4), buyer, i).status())
            .as("calls on open connections are served while descriptors are exhausted").isEqualTo(200);
        i++;
        Thread.sleep(20);
      }
      return i;
    });
    try {
      Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
          .failFast("a call failed", calls::isDone).untilAsserted(() -> {
            Answer ready = adminConnection.get("/health/ready");
            assertThat(ready.status()).as("a flush that cannot run takes the instance out of readiness: %s",
                ready.body()).isEqualTo(503);
            JsonObject flush = new JsonObject(ready.body()).getJsonObject("tasks").getJsonObject("usage-flush");
            assertThat(flush.getString("status")).isEqualTo("FAILING");
            assertThat(flush.getString("cause")).isEqualTo("local");
          });
      calling.set(false);
      n = calls.get(20, TimeUnit.SECONDS);
    } finally {
      calling.set(false);
      caller.shutdownNow();
    }
    assertThat(metric(adminConnection, FLUSH_FAILURES, "task=\"usage-flush\"", "cause=\"local\""))
        .as("%s counts the failed flushes", FLUSH_FAILURES).isPositive();

    closeIdle();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> openDescriptors() < limit - 100);
    for (int i = 0; i < 5; i++) {
      assertThat(call(buyerConnections.get(i % 4), buyer, n++).status()).isEqualTo(200);
    }
    assertMeteredEqualsReceived(admin, buyer);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(admin::ready);
  }

  /** On io_uring, the default, whose accept differs (see {@code Transport.ACCEPT_MULTISHOT}), and on epoll. */
  @ParameterizedTest(name = "server.transport: {0}")
  @ValueSource(strings = {"io_uring", "epoll"})
  void defaultConnectionCap_keepsDescriptorsForMetering_underUlimit900(String transport) throws Exception {
    int limit = 900;
    GatewayYaml yaml = yaml().server("transport", transport).metering("flushInterval", "100ms");
    start(yaml, limit);
    AdminClient admin = new AdminClient(http, yaml.adminPort());
    Buyer buyer = admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl())[0];
    KeepAliveConnection c = connect(yaml.buyerPort());
    int n = 0;
    assertThat(call(c, buyer, n++).status()).isEqualTo(200);

    int peak = openIdleWatchingPeak(yaml.buyerPort(), 1500);
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> admin.metricSum("tollgate_buyer_connections_refused_total") > 0);
    int held = openDescriptors();
    assertThat(held).as("the cap leaves descriptors for the journal, databases and upstreams").isLessThan(limit - 200);
    assertThat(peak).as("nor does a burst of connections over the cap take them, even for a moment")
        .isLessThan(limit - 200);

    for (int i = 0; i < 20; i++) {
      assertThat(call(c, buyer, n++).status()).isEqualTo(200);
    }
    assertMeteredEqualsReceived(admin, buyer);
    assertThat(admin.ready()).as("nothing failed: the instance stays ready").isTrue();
    assertThat(admin.metricSum(FLUSH_FAILURES)).as("no flush failed").isZero();
  }

  @Test
  void derivedCap_leavesReservedDescriptorsAndOnePerUpstreamConnection() {
    assertThat(io.tollgate.gateway.proxy.BuyerServer.derivedMaxConnections(900)).isEqualTo(322);
    assertThat(io.tollgate.gateway.proxy.BuyerServer.derivedMaxConnections(1_048_576)).isEqualTo(524_160);
    assertThat(io.tollgate.gateway.proxy.BuyerServer.derivedMaxConnections(100)).as("never below 16").isEqualTo(16);
  }

  private int openDescriptors() {
    try {
      return gateway.openDescriptors();
    } catch (IOException e) {
      return -1;
    }
  }
}
