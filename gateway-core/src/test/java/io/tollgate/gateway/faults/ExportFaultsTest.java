package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.billing.RecordJson;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.faults.BuyerLoad.Api;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.BuyerLoad.Totals;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.metering.testing.PrivatePostgres;
import io.tollgate.metering.testing.PrivateRedis;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md, Invariants: "for any subscription and SKU, the sum of exported records equals the
 * sum of metered usage equals what the upstream reported to clients", and "a retried export
 * writes no duplicate", across the faults an exporter meets in production: it dies in the middle
 * of a run, two of them run at once, the ledger's database goes away, a gateway dies before it
 * flushed and replays its journal after its window was exported.
 *
 * <p>Everything runs for real: gateways as {@code tollgate serve} processes, exports as {@code
 * tollgate export --once} processes ({@link ExportRun}), the catalog and the ledger in
 * PostgreSQL (a schema of the test's own, or a private server the test kills), counters in a
 * private Redis (the gateways' key prefix is fixed, so each test has a redis-server of its own),
 * buyers calling the mock upstream through the gateway ({@link BuyerLoad}: what they received).
 *
 * <p>No test waits for a window to end: windows are {@value #WINDOW_MINUTES} minutes long and
 * closed an hour after they end ({@value #GRACE_MINUTES} min grace), so the gateways' own
 * exporters never close one, and each export runs with {@code --now} past the grace ({@link
 * ExportRun#dueNow}). Usage that arrives after its window was exported is late usage: it must
 * come out as an adjustment. Not one-minute windows: on Redis, each run asks for the marks of
 * every window in the exporter's 7-day horizon, 10,080 pipelined ZCARDs for one-minute windows,
 * which took a fresh JVM about a second here, half the Redis command timeout.
 */
class ExportFaultsTest {

  static final int WINDOW_MINUTES = 10;
  static final int GRACE_MINUTES = 60;
  static final String ERRORS = "tollgate_export_errors_total";

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  PrivateRedis redis;
  TestDatabases.Db db;
  final List<AutoCloseable> cleanup = new ArrayList<>();
  final List<GatewayProcess> gateways = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void startServices() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
    redis = new PrivateRedis();
  }

  @AfterEach
  void stopServices() throws Exception {
    Collections.reverse(cleanup);
    cleanup.add(() -> mock.close().await());
    cleanup.add(() -> vertx.close().await());
    cleanup.add(redis);
    if (db != null) {
      cleanup.add(db::drop);
    }
    Exception first = null;
    for (AutoCloseable c : cleanup) {
      try {
        c.close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * A crash point halts the exporter's JVM ({@code Runtime.halt(137)}, as a {@code kill -9}):
   * after the purchases committed, then after a window's records committed but before its marks
   * were cleared. The next run re-reads what the dead one read and writes only what is missing.
   */
  @Test
  void exportKilledAfterPurchases_orAfterALedgerCommit_theNextRunWritesNothingTwice() throws Throwable {
    db = TestDatabases.postgres();
    GatewayYaml yaml = stores("gateway", db.url(), db.user()).fixedPorts();
    try {
      startGateway(yaml, "gateway");
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      List<Buyer> buyers = new ArrayList<>(List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl())));
      String merchant = admin.merchant("packs");
      String product = admin.product(merchant, "Packs Chat", "openai", mock.baseUrl());
      Buyer pack = admin.subscribe(admin.sku(merchant, product, "mock-gpt", AdminClient.tokenPackage(10_000_000)),
          "buyer-pack", Api.OPENAI_CHAT);
      buyers.add(pack);
      ExportedRecords ledger = new ExportedRecords(db.url(), db.user());
      Path exporter = exporterConfig("exporter", db.url(), db.user());

      BuyerLoad first = loadUntil(buyers, List.of(yaml.buyerPort()), 45);
      MeteredUsage.assertEqualsReceived(admin, List.of(first), buyers);
      Instant t1 = dueNow();
      ExportRun.Result killed = ExportRun.start(exporter, t1, "export.after-purchases").await();
      assertThat(killed.exitCode()).as("halted at the crash point: %s", killed).isEqualTo(137);
      assertThat(killed.stderr()).contains("crashing at export.after-purchases");
      assertThat(ledger.all()).as("the purchase committed before the crash, nothing else").singleElement()
          .satisfies(r -> {
            assertThat(r.kind()).isEqualTo(RecordKind.PURCHASE);
            assertThat(r.subscriptionId()).isEqualTo(pack.subscriptionId());
            assertThat(r.amount()).isEqualByComparingTo(new BigDecimal("10.00"));
          });
      ExportRun.Summary next = ExportRun.run(exporter, t1.plusMillis(1)).summary();
      assertThat(next.purchases()).as("the purchase is not recorded again").isZero();
      assertThat(next.usageRecords()).as("a usage record per subscription and window").isGreaterThanOrEqualTo(3);
      assertThat(next.adjustments()).isZero();
      ledger.assertEqualsMeteredAndReceived(admin, List.of(first), buyers);

      // Usage after the export: late for the window(s) exported, so adjustments (or usage
      // records, if a new window began). The run dies after the first window's commit.
      BuyerLoad second = loadUntil(buyers, List.of(yaml.buyerPort()), 45);
      MeteredUsage.assertEqualsReceived(admin, List.of(first, second), buyers);
      Instant t2 = dueNow();
      killed = ExportRun.start(exporter, t2, "export.after-ledger-commit").await();
      assertThat(killed.exitCode()).as("halted at the crash point: %s", killed).isEqualTo(137);
      assertThat(killed.stderr()).contains("crashing at export.after-ledger-commit");
      List<UsageRecord> committed = ExportedRecords.exportedAt(ledger.all(), t2);
      assertThat(committed).as("the killed run committed a window before it died").isNotEmpty();
      ExportRun.run(exporter, t2.plusMillis(1)).summary();
      ledger.assertEqualsMeteredAndReceived(admin, List.of(first, second), buyers);

      List<UsageRecord> all = ledger.all();
      Set<Instant> windowsOfTheKilledRun = committed.stream().map(UsageRecord::windowStart).collect(Collectors.toSet());
      assertThat(ExportedRecords.exportedAt(all, t2.plusMillis(1))).as("the run after the crash wrote nothing for"
              + " the window the killed run had committed; its marks were still there, its usage unchanged")
          .allSatisfy(r -> assertThat(windowsOfTheKilledRun).doesNotContain(r.windowStart()));
      assertThat(ExportedRecords.jsonlIds(dir.resolve("exporter").resolve("data")))
          .as("the exporter's JSONL files hold every record of the ledger, once")
          .containsExactlyInAnyOrderElementsOf(all.stream().map(UsageRecord::id).toList());
    } catch (Throwable t) {
      throw withLogs(t);
    }
  }

  /**
   * Two {@code export --once} processes started together (as when a slow run outlived its lease,
   * or an operator's run met a gateway's), round after round while buyers keep calling: the
   * ledger serialises them, so between them each record is written once, and the runs'
   * summaries add up to the ledger.
   */
  @Test
  void twoExportersAtOnce_roundAfterRound_whileUsageArrives_writeEachRecordOnce() throws Throwable {
    db = TestDatabases.postgres();
    GatewayYaml yaml = stores("gateway", db.url(), db.user()).fixedPorts();
    try {
      startGateway(yaml, "gateway");
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      List<Buyer> buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
      ExportedRecords ledger = new ExportedRecords(db.url(), db.user());
      Path a = exporterConfig("exporter-a", db.url(), db.user());
      Path b = exporterConfig("exporter-b", db.url(), db.user());
      BuyerLoad load = new BuyerLoad(http, buyers, List.of(yaml.buyerPort()),
          BuyerLoad.Options.defaults().withConcurrency(4));
      cleanup.add(load);

      List<ExportRun.Summary> summaries = new ArrayList<>();
      long target = 20;
      for (int round = 0; round < 2; round++) {
        load.awaitReceived(target, Duration.ofSeconds(30));
        Instant now = dueNow();
        ExportRun runA = ExportRun.start(a, now, null);
        ExportRun runB = ExportRun.start(b, now, null);
        summaries.add(runA.await().summary());
        summaries.add(runB.await().summary());
        target = load.received() + 20;
      }
      load.stop();
      assertThat(load.unexpected()).isEmpty();
      MeteredUsage.assertEqualsReceived(admin, load, buyers);
      Instant now = dueNow();
      ExportRun runA = ExportRun.start(a, now, null);
      ExportRun runB = ExportRun.start(b, now, null);
      summaries.add(runA.await().summary());
      summaries.add(runB.await().summary());

      ledger.assertEqualsMeteredAndReceived(admin, List.of(load), buyers);
      long written = summaries.stream().mapToLong(s -> s.usageRecords() + s.adjustments()).sum();
      assertThat(written).as("records the runs say they wrote, against the ledger (no record counted by both"
          + " exporters); runs: %s", summaries).isEqualTo(ledger.all().size());
      assertThat(ledger.all()).as("usage after the first round is late: adjustments")
          .anySatisfy(r -> assertThat(r.kind()).isEqualTo(RecordKind.ADJUSTMENT));
    } catch (Throwable t) {
      throw withLogs(t);
    }
  }

  /**
   * The catalog and ledger database (PostgreSQL) crashes and comes back while a gateway serves
   * and its exporter runs every 500 ms: buyers keep being served (keys cached, counters in
   * Redis), the exporter's failures show in {@code /health/ready} and {@code
   * tollgate_export_errors_total{sink="jdbc"}} without taking the instance out of rotation, an
   * {@code export --once} fails with status 1, and once the database is back the exporter
   * recovers and every call is exported once.
   */
  @Test
  void ledgerDatabaseDown_gatewayKeepsServing_exporterFailsVisibly_thenRecovers_andEveryCallIsExportedOnce()
      throws Throwable {
    PrivatePostgres postgres = new PrivatePostgres();
    cleanup.add(postgres);
    // No grace here: the gateway's own exporter closes a window as soon as it ends.
    GatewayYaml yaml = stores("gateway", postgres.jdbcUrl(), PrivatePostgres.USER).fixedPorts()
        .export("grace", "PT0S").export("interval", "500ms");
    try {
      startGateway(yaml, "gateway");
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      List<Buyer> buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
      ExportedRecords ledger = new ExportedRecords(postgres.jdbcUrl(), PrivatePostgres.USER);
      Path exporter = exporterConfig("exporter", postgres.jdbcUrl(), PrivatePostgres.USER);
      BuyerLoad load = new BuyerLoad(http, buyers, List.of(yaml.buyerPort()),
          BuyerLoad.Options.defaults().withConcurrency(4));
      cleanup.add(load);
      load.awaitReceived(20, Duration.ofSeconds(30));
      assertThat(admin.task("billing-export")).isEqualTo("OK");

      postgres.kill();
      ExportRun failing = ExportRun.start(exporter, dueNow(), null);
      Awaitility.await("the exporter's failure shows").atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            assertThat(admin.task("billing-export")).isEqualTo("FAILING/dependency");
            assertThat(admin.metricSum(ERRORS, "sink=\"jdbc\"")).isPositive();
          });
      assertThat(admin.readiness().getInteger("httpStatus"))
          .as("a database outage does not take the instance out of rotation").isEqualTo(200);
      load.awaitReceived(load.received() + 20, Duration.ofSeconds(30)); // still serving
      ExportRun.Result failed = failing.await();
      assertThat(failed.exitCode()).as("a store failure: %s", failed).isEqualTo(1);
      assertThat(failed.stderr()).contains("tollgate: export failed: catalog database unreachable");

      postgres.start();
      Awaitility.await("the exporter recovers").atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(200))
          .untilAsserted(() -> assertThat(admin.task("billing-export")).isEqualTo("OK"));
      load.awaitReceived(load.received() + 20, Duration.ofSeconds(30));
      load.stop();
      assertThat(load.unexpected()).isEmpty();
      MeteredUsage.assertEqualsReceived(admin, load, buyers);
      ExportRun.run(exporter, dueNow()).summary();
      ledger.assertEqualsMeteredAndReceived(admin, List.of(load), buyers);
    } catch (Throwable t) {
      throw withLogs(t);
    }
  }

  /**
   * Two gateways share the stores; buyers call both. One flushes every 100 ms, the other not for
   * an hour, and is SIGKILLed with its usage only in its journal. The window is exported without
   * it; the gateway restarts, replays its journal into the closed window, and the next export
   * writes the difference as adjustments.
   */
  @Test
  void gatewayKilledBeforeItFlushed_restartedAfterItsWindowWasExported_itsReplayIsExportedAsAdjustments()
      throws Throwable {
    db = TestDatabases.postgres();
    GatewayYaml flushing = stores("gateway-a", db.url(), db.user()).fixedPorts();
    GatewayYaml holding = stores("gateway-b", db.url(), db.user()).fixedPorts().metering("flushInterval", "1h");
    try {
      GatewayProcess other = launchGateway(flushing, "gateway-a");
      GatewayProcess killed = launchGateway(holding, "gateway-b");
      other.awaitReady();
      killed.awaitReady();
      AdminClient admin = new AdminClient(http, flushing.adminPort());
      List<Buyer> buyers = List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl()));
      ExportedRecords ledger = new ExportedRecords(db.url(), db.user());
      Path exporter = exporterConfig("exporter", db.url(), db.user());
      // Thread i calls buyer i % 2 on gateway (i / 2) % 2: each buyer through both.
      BuyerLoad load = loadUntil(buyers, List.of(flushing.buyerPort(), holding.buyerPort()), 60);

      killed.kill();
      assertThat(killed.exitValue()).isEqualTo(137);
      ExportRun.Summary first = ExportRun.run(exporter, dueNow()).summary();
      assertThat(first.adjustments()).isZero();
      Map<String, Totals> exportedWithout = ExportedRecords.usage(ledger.all());
      for (Buyer b : buyers) {
        assertThat(exportedWithout.get(b.subscriptionId()).calls()).as("what gateway-b served was in its journal"
            + " only: the first export lacks it").isLessThan(load.receivedBy(b.subscriptionId()).calls());
      }

      killed.start(); // same config and data dir: the journal replays
      MeteredUsage.assertEqualsReceived(admin, load, buyers);
      Instant t2 = dueNow();
      ExportRun.Summary second = ExportRun.run(exporter, t2).summary();
      assertThat(second.adjustments()).as("the replay is late usage for windows already exported: %s", second)
          .isPositive();
      ledger.assertEqualsMeteredAndReceived(admin, List.of(load), buyers);
      Map<String, Totals> replayed = ExportedRecords.usage(ExportedRecords.exportedAt(ledger.all(), t2));
      for (Buyer b : buyers) {
        Totals received = load.receivedBy(b.subscriptionId());
        Totals before = exportedWithout.get(b.subscriptionId());
        assertThat(replayed.get(b.subscriptionId())).as("the second export holds exactly the difference")
            .isEqualTo(new Totals(received.calls() - before.calls(), received.inputTokens() - before.inputTokens(),
                received.outputTokens() - before.outputTokens()));
      }
    } catch (Throwable t) {
      throw withLogs(t);
    }
  }

  /**
   * A billing job pages through {@code GET /billing/v1/records} on a serving gateway, three
   * records a page, while two {@code export --once} processes write, round after round, and
   * buyers keep calling: it sees every record the ledger holds, in export order, each once, and
   * none changes after it read it.
   */
  @Test
  void billingJobPagesThePullApi_whileTwoExportersWrite_seesEveryRecordOnce_unchanged() throws Throwable {
    db = TestDatabases.postgres();
    GatewayYaml yaml = stores("gateway", db.url(), db.user()).fixedPorts();
    try {
      startGateway(yaml, "gateway");
      AdminClient admin = new AdminClient(http, yaml.adminPort());
      List<Buyer> buyers = new ArrayList<>(List.of(admin.onboardOpenAiAndAnthropicBuyers(mock.baseUrl())));
      String merchant = admin.merchant("packs");
      String product = admin.product(merchant, "Packs Chat", "openai", mock.baseUrl());
      buyers.add(admin.subscribe(admin.sku(merchant, product, "mock-gpt", AdminClient.tokenPackage(10_000_000)),
          "buyer-pack", Api.OPENAI_CHAT));
      ExportedRecords ledger = new ExportedRecords(db.url(), db.user());
      Path a = exporterConfig("exporter-a", db.url(), db.user());
      Path b = exporterConfig("exporter-b", db.url(), db.user());
      BuyerLoad load = new BuyerLoad(http, buyers, List.of(yaml.buyerPort()),
          BuyerLoad.Options.defaults().withConcurrency(3));
      cleanup.add(load);
      BillingJob job = new BillingJob(admin, 3);
      cleanup.add(job);

      load.awaitReceived(20, Duration.ofSeconds(30));
      for (int round = 0; round < 2; round++) {
        Instant now = dueNow();
        ExportRun runA = ExportRun.start(a, now, null);
        ExportRun runB = ExportRun.start(b, now, null);
        runA.await().summary();
        runB.await().summary();
      }
      load.stop();
      int readBeforeTheLastRound = job.read();
      MeteredUsage.assertEqualsReceived(admin, load, buyers);
      Instant now = dueNow();
      ExportRun runA = ExportRun.start(a, now, null);
      ExportRun runB = ExportRun.start(b, now, null);
      runA.await().summary();
      runB.await().summary();

      List<UsageRecord> all = ledger.all();
      List<String> ids = all.stream().map(UsageRecord::id).toList();
      Map<String, JsonObject> seen = job.awaitCaughtUp(ids.get(ids.size() - 1), Duration.ofSeconds(20));
      assertThat(List.copyOf(seen.keySet())).as("the job saw every record, in export order, each once (pages: %s)",
          job.pages()).isEqualTo(ids);
      assertThat(readBeforeTheLastRound).as("the job read while the exporters wrote").isPositive();
      for (UsageRecord r : all) {
        assertThat(seen.get(r.id())).as("record %s is what the job read", r.id())
            .isEqualTo(new JsonObject(RecordJson.record(r).toString()));
      }
      ledger.assertEqualsMeteredAndReceived(admin, List.of(load), buyers);
    } catch (Throwable t) {
      throw withLogs(t);
    }
  }

  /**
   * A billing job: pages {@code GET /billing/v1/records?after=&limit=} from the start, as fast as
   * the API answers, on a thread of its own, remembering every record it read in order; fails
   * on an id it already saw.
   */
  private static final class BillingJob implements AutoCloseable {
    private final AdminClient admin;
    private final int limit;
    private final Map<String, JsonObject> seen = Collections.synchronizedMap(new LinkedHashMap<>());
    private final AtomicInteger pages = new AtomicInteger();
    private final Thread thread;
    private volatile String cursor;
    private volatile Throwable failure;
    private volatile boolean running = true;

    BillingJob(AdminClient admin, int limit) {
      this.admin = admin;
      this.limit = limit;
      this.thread = new Thread(this::run, "billing-job");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      try {
        while (running) {
          HttpResponse<String> r = admin.send("GET", "/billing/v1/records?limit=" + limit
              + (cursor == null ? "" : "&after=" + cursor), AdminClient.OPERATOR, null);
          assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
          JsonObject page = new JsonObject(r.body());
          assertThat(page.getString("object")).isEqualTo("list");
          JsonArray data = page.getJsonArray("data");
          pages.incrementAndGet();
          for (int i = 0; i < data.size(); i++) {
            JsonObject rec = data.getJsonObject(i);
            assertThat(seen.put(rec.getString("id"), rec)).as("record %s read twice", rec.getString("id")).isNull();
          }
          if (!data.isEmpty()) {
            assertThat(page.getString("first_id")).isEqualTo(data.getJsonObject(0).getString("id"));
            assertThat(page.getString("last_id")).isEqualTo(data.getJsonObject(data.size() - 1).getString("id"));
            cursor = page.getString("last_id");
          } else {
            assertThat(page.getBoolean("has_more")).isFalse();
            Thread.sleep(20); // caught up: ask again shortly, as a polling job does
          }
        }
      } catch (Throwable t) {
        failure = t;
      }
    }

    /** Waits until the job has read up to {@code lastId}; the records it read, in order. */
    Map<String, JsonObject> awaitCaughtUp(String lastId, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!lastId.equals(cursor) && failure == null && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      if (failure != null) {
        throw new AssertionError("the billing job failed after " + pages + " pages", failure);
      }
      assertThat(cursor).as("the job caught up with the ledger within %s", timeout).isEqualTo(lastId);
      synchronized (seen) {
        return new LinkedHashMap<>(seen);
      }
    }

    int pages() {
      return pages.get();
    }

    /** Records read so far. */
    int read() {
      return seen.size();
    }

    @Override
    public void close() {
      running = false;
      try {
        thread.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Stores of this test (the PostgreSQL at {@code jdbcUrl}, the private Redis), windows closed
   * after {@value #GRACE_MINUTES} minutes, and a gateway exporter that runs at start only; data in
   * {@code <dir>/<name>/data}.
   */
  private GatewayYaml stores(String name, String jdbcUrl, String user) {
    return GatewayYaml.embedded(dir.resolve(name).resolve("data")).jdbc(jdbcUrl, user).redis(redis.uri())
        .export("window", "PT" + WINDOW_MINUTES + "M").export("grace", "PT" + GRACE_MINUTES + "M")
        .export("interval", "PT1H");
  }

  /** The config of an {@code export --once} process of its own (its own data dir, so its own JSONL files). */
  private Path exporterConfig(String name, String jdbcUrl, String user) throws Exception {
    Files.createDirectories(dir.resolve(name));
    return stores(name, jdbcUrl, user).writeTo(dir.resolve(name).resolve("tollgate.yaml"));
  }

  private GatewayProcess startGateway(GatewayYaml yaml, String name) throws Exception {
    return launchGateway(yaml, name).awaitReady();
  }

  private GatewayProcess launchGateway(GatewayYaml yaml, String name) throws Exception {
    Files.createDirectories(dir.resolve(name));
    GatewayProcess g = new GatewayProcess(yaml.writeTo(dir.resolve(name).resolve("tollgate.yaml")), yaml.adminPort());
    gateways.add(g);
    cleanup.add(g);
    return g.launch();
  }

  /** Buyers call until {@code calls} were received in all, then stop; nothing unexpected happened. */
  private BuyerLoad loadUntil(List<Buyer> buyers, List<Integer> ports, long calls) throws Exception {
    BuyerLoad load = new BuyerLoad(http, buyers, ports, BuyerLoad.Options.defaults().withConcurrency(4));
    cleanup.add(load);
    load.awaitReceived(calls, Duration.ofSeconds(30));
    load.stop();
    assertThat(load.unexpected()).as("%s", load).isEmpty();
    return load;
  }

  /** A {@code --now} at which every window holding usage up to this moment is due. */
  private static Instant dueNow() {
    return ExportRun.dueNow(WINDOW_MINUTES + GRACE_MINUTES);
  }

  private Throwable withLogs(Throwable t) {
    for (GatewayProcess g : gateways) {
      t.addSuppressed(new AssertionError("gateway output (tail):\n" + g.logTail()));
    }
    return t;
  }
}
