package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.catalog.ListingAction;
import io.tollgate.gateway.catalog.ListingStatus;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.config.ConfigLoader;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * {@code tollgate export --once} in this JVM ({@link Main#run}): what it exports from a gateway's
 * stores, what it prints, its exit status on a bad config, a store that fails and a missing
 * {@code --once}, and that it keeps out of the way of a gateway holding the export lease. The
 * same command as a process of its own, with crashes, is {@code faults.ExportFaultsTest}.
 */
class ExportCommandTest {

  static final String OPERATOR = "export-cli-operator-token-01";

  @TempDir Path dir;
  TestDatabases.Db db;
  Vertx vertx;
  MockUpstream mock;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() {
    db = TestDatabases.postgres();
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
  }

  @AfterEach
  void stop() {
    mock.close().await();
    vertx.close().await();
    db.drop();
  }

  /** Catalog, ledger and counters in this test's PostgreSQL schema; one-minute windows closed an hour late. */
  private Path config(String dataDir) throws Exception {
    return Files.writeString(dir.resolve(dataDir + ".yaml"), "server:\n  host: 127.0.0.1\n  port: 0\n  eventLoops: 1\n"
        + "admin:\n  host: 127.0.0.1\n  port: 0\n  token: " + OPERATOR + "\n"
        + "store:\n  dataDir: \"" + dir.resolve(dataDir) + "\"\n  jdbcUrl: \"" + db.url() + "\"\n  jdbcUser: "
        + db.user() + "\n"
        + "metering:\n  flushInterval: 50ms\n"
        // The gateway's own exporter runs at start only (and takes the lease), and an hour's
        // grace keeps it from closing anything: the windows here are closed by export --once.
        + "export:\n  window: PT1M\n  grace: PT1H\n  interval: PT1H\n");
  }

  private String[] export(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 1];
    all[0] = "export";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), all);
    return new String[] {Integer.toString(code), out.toString().strip(), err.toString().strip()};
  }

  @Test
  void exportOnce_closesTheDueWindows_recordsEqualMeteredUsage_andPrintsTheSummary() throws Exception {
    Path config = config("gateway");
    // After the hour's grace, but within the gateway's lease (3 x PT1H).
    String now = Instant.now().plus(Duration.ofMinutes(62)).truncatedTo(ChronoUnit.MILLIS).toString();
    Map<String, long[]> sent = new HashMap<>();
    try (Gateway g = Gateway.start(new ConfigLoader().load(config, Map.of()))) {
      String merchant = admin(g, "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
          .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example")).getString("token");
      String product = admin(g, "/admin/v1/products", merchant, new JsonObject().put("name", "Acme Chat")
          .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl()))))
          .getString("id");
      String[] payg = subscribe(g, merchant, product, "payg", new JsonObject().put("mode", "PER_TOKEN")
          .put("currency", "USD").put("inputPricePerMillion", "0.15").put("outputPricePerMillion", "0.60"));
      String[] pack = subscribe(g, merchant, product, "pack", new JsonObject().put("mode", "TOKEN_PACKAGE")
          .put("currency", "USD").put("price", "9.90").put("quota", 1_000_000).put("period", "MONTH"));
      sent.put(payg[0], new long[3]);
      sent.put(pack[0], new long[3]);
      for (int i = 0; i < 3; i++) {
        chat(g, payg[1], "one two three " + i, 5 + i, sent.get(payg[0]));
      }
      chat(g, pack[1], "hello", 7, sent.get(pack[0]));
      Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        for (String sub : sent.keySet()) {
          assertThat(metered(g, sub)).isEqualTo(sent.get(sub));
        }
      });

      String[] skipped = export("--once", "--config", config.toString(), "--now", now);
      assertThat(skipped[0]).as("stderr: %s", skipped[2]).isEqualTo("0");
      assertThat(skipped[1]).as("the running gateway's exporter holds the lease")
          .isEqualTo("tollgate export: skipped: another exporter holds the export lease and exports on its own"
              + " schedule (--ignore-lease runs anyway)");
      assertThat(g.ledger().page(RecordQuery.all(100)).records()).as("a skipped run writes nothing").isEmpty();

      String[] first = export("--once", "--ignore-lease", "--config", config("exporter").toString(), "--now", now);
      assertThat(first[0]).as("stderr: %s", first[2]).isEqualTo("0");
      List<UsageRecord> records = g.ledger().page(RecordQuery.all(100)).records();
      List<UsageRecord> usage = records.stream().filter(r -> r.kind() == RecordKind.USAGE).toList();
      // The calls fall in one minute, or two if a minute ended while they ran.
      assertThat(first[1]).as("what the summary says is what the ledger got").isEqualTo(
          "tollgate export: windows " + usage.stream().map(UsageRecord::windowStart).distinct().count()
              + ", purchases 1, usage records " + usage.size() + ", adjustments 0");
      assertThat(records).hasSize(usage.size() + 1);
    }

    // The gateway is gone and gave its lease back: a plain run takes it, and finds nothing new.
    String[] again = export("--once", "--config", config("exporter").toString(), "--now", now);
    assertThat(again[0]).as("stderr: %s", again[2]).isEqualTo("0");
    assertThat(again[1]).isEqualTo("tollgate export: windows 0, purchases 0, usage records 0, adjustments 0");

    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(db.url());
    ds.setUser(db.user());
    List<UsageRecord> records = new RecordLedger(ds).page(RecordQuery.all(100)).records();
    for (Map.Entry<String, long[]> sub : sent.entrySet()) {
      long[] exported = new long[3];
      for (UsageRecord r : records) {
        if (r.subscriptionId().equals(sub.getKey()) && r.kind() != RecordKind.PURCHASE) {
          exported[0] += r.calls();
          exported[1] += r.inputTokens();
          exported[2] += r.outputTokens();
        }
      }
      assertThat(exported).as("records of %s add up to what its buyer received", sub.getKey())
          .isEqualTo(sub.getValue());
    }
    assertThat(records).filteredOn(r -> r.kind() == RecordKind.PURCHASE).singleElement()
        .satisfies(r -> assertThat(r.amountText()).isEqualTo("9.9"));
    assertThat(records).filteredOn(r -> r.kind() == RecordKind.USAGE)
        .allSatisfy(r -> assertThat(r.exportedAt()).as("stamped with --now").isEqualTo(Instant.parse(now)));
  }

  @Test
  void exportWithoutOnce_isAUsageError() {
    String[] r = export();
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("Missing required option: '--once'");
  }

  @Test
  void help_showsIgnoreLease_butNotTheTestClock() {
    String[] r = export("--help");
    assertThat(r[0]).isEqualTo("0");
    assertThat(r[1]).contains("--once", "--config", "--ignore-lease").doesNotContain("--now");
  }

  @Test
  void badConfig_exitsTwoNamingTheKey() throws Exception {
    Path f = Files.writeString(dir.resolve("bad.yaml"), "export:\n  window: PT30S\n");
    String[] r = export("--once", "--config", f.toString());
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).doesNotContain("\n").startsWith("tollgate: export.window: ");
  }

  @Test
  void unreachableDatabase_exitsOneWithOneLine() throws Exception {
    int nobody;
    try (ServerSocket s = new ServerSocket(0)) {
      nobody = s.getLocalPort();
    }
    Path f = Files.writeString(dir.resolve("down.yaml"), "store:\n  dataDir: \"" + dir.resolve("down") + "\"\n"
        + "  jdbcUrl: \"jdbc:postgresql://127.0.0.1:" + nobody + "/test\"\n  jdbcUser: postgres\n");
    String[] r = export("--once", "--config", f.toString());
    assertThat(r[0]).as("a store failure, not a config error").isEqualTo("1");
    assertThat(r[2]).doesNotContain("\n").startsWith("tollgate: export failed: catalog database unreachable at");
  }

  @Test
  void unreachableRedis_exitsOne() throws Exception {
    int nobody;
    try (ServerSocket s = new ServerSocket(0)) {
      nobody = s.getLocalPort();
    }
    Path f = Files.writeString(dir.resolve("noredis.yaml"), "store:\n  dataDir: \"" + dir.resolve("noredis") + "\"\n"
        + "  jdbcUrl: \"" + db.url() + "\"\n  jdbcUser: " + db.user() + "\n"
        + "  redisUri: redis://127.0.0.1:" + nobody + "\n");
    String[] r = export("--once", "--config", f.toString());
    assertThat(r[0]).isEqualTo("1");
    assertThat(r[2]).doesNotContain("\n").startsWith("tollgate: export failed: ").contains("127.0.0.1:" + nobody);
  }

  /** A new SKU of the product, which is listed first if it is not yet, and a buyer's subscription: {id, apiKey}. */
  private String[] subscribe(Gateway g, String merchant, String product, String name, JsonObject billing)
      throws Exception {
    String sku = admin(g, "/admin/v1/products/" + product + "/skus", merchant, new JsonObject().put("name", name)
        .put("models", new JsonArray().add("mock-gpt")).put("billing", billing)).getString("id");
    if (g.catalog().getProduct(product).orElseThrow().status() != ListingStatus.LISTED) {
      g.catalog().changeListing(product, ListingAction.SUBMIT, null);
      g.catalog().changeListing(product, ListingAction.APPROVE, null);
    }
    JsonObject sub = admin(g, "/admin/v1/subscriptions", OPERATOR, new JsonObject().put("skuId", sku)
        .put("buyerId", "b1"));
    return new String[] {sub.getString("id"), sub.getString("apiKey")};
  }

  private void chat(Gateway g, String key, String prompt, int maxTokens, long[] sent) throws Exception {
    String body = new JsonObject().put("model", "mock-gpt").put("max_tokens", maxTokens).put("messages",
        new JsonArray().add(new JsonObject().put("role", "user").put("content", prompt))).encode();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.buyerPort()
            + "/v1/chat/completions")).header("authorization", "Bearer " + key)
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject usage = new JsonObject(r.body()).getJsonObject("usage");
    sent[0]++;
    sent[1] += usage.getLong("prompt_tokens");
    sent[2] += usage.getLong("completion_tokens");
  }

  private long[] metered(Gateway g, String subscription) throws Exception {
    JsonObject u = new JsonObject(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.adminPort()
            + "/admin/v1/subscriptions/" + subscription)).header("authorization", "Bearer " + OPERATOR).build(),
        HttpResponse.BodyHandlers.ofString()).body()).getJsonObject("usage");
    return new long[] {u.getLong("calls"), u.getLong("inputTokens"), u.getLong("outputTokens")};
  }

  private JsonObject admin(Gateway g, String path, String token, JsonObject body) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.adminPort() + path))
        .header("authorization", "Bearer " + token).header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(), HttpResponse.BodyHandlers.ofString());
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    assertThat(r.statusCode()).as("POST %s: %s", path, r.body()).isEqualTo(201);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }
}
