package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.billing.ExportWindow;
import io.tollgate.billing.PriceEntry;
import io.tollgate.billing.PurchaseOrder;
import io.tollgate.billing.RecordJson;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.SkuTerms;
import io.tollgate.billing.UsageRecord;
import io.tollgate.billing.WindowUsage;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.ListingAction;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.metering.store.UsageCounts;
import io.vertx.core.Vertx;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The billing pull API ({@code GET /billing/v1/records}) over real HTTP on loopback, on a real
 * catalog database and the ledger in it, run on every database the gateway supports (one subclass
 * each). Records are written with the ledger's own commits, as the exporter writes them.
 */
abstract class RecordsApiContract {

  static final String OPERATOR = "operator-token-for-records-tests-01";
  static final ObjectMapper JSON = new ObjectMapper();
  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  static final Duration HOUR = Duration.ofHours(1);
  static final ExportWindow W1 = ExportWindow.holding(T0, HOUR);
  static final ExportWindow W2 = ExportWindow.holding(T0.plus(HOUR), HOUR);
  static final SkuTerms PACKAGE = new SkuTerms("sku-pkg", BillingMode.TOKEN_PACKAGE,
      List.of(new PriceEntry(T0.minus(Duration.ofDays(30)), "USD", null, null, null, null, new BigDecimal("9.90"))));

  static Vertx vertx;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final TestClock clock = new TestClock(Instant.parse("2026-12-02T00:00:00Z"));
  TestDatabases.Db db;
  CatalogRepository repo;
  RecordLedger ledger;
  AdminServer server;
  String base;
  String merchantA;
  String tokenA;
  String merchantB;
  String tokenB;

  record Resp(int status, JsonNode json, String raw) {
    List<String> ids() {
      List<String> ids = new ArrayList<>();
      json.get("data").forEach(r -> ids.add(r.get("id").asText()));
      return ids;
    }
  }

  abstract TestDatabases.Db newDatabase();

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void start() throws Exception {
    db = newDatabase();
    repo = CatalogRepository.open(db.url(), db.user(), "", clock);
    ledger = new RecordLedger(repo.dataSource(), clock, new SimpleMeterRegistry());
    server = new AdminServer(vertx, repo, AdminServer.Options.of(OPERATOR).withRecords(ledger));
    base = "http://127.0.0.1:" + server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture()
        .get(10, TimeUnit.SECONDS).actualPort();
    JsonNode a = post("/admin/v1/merchants", OPERATOR, "{\"name\":\"a\"," + AdminApi.SUPPORT + "}");
    merchantA = a.get("id").asText();
    tokenA = a.get("token").asText();
    JsonNode b = post("/admin/v1/merchants", OPERATOR, "{\"name\":\"b\"}");
    merchantB = b.get("id").asText();
    tokenB = b.get("token").asText();
  }

  @AfterEach
  void stop() throws Exception {
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
  }

  // ---------------------------------------------------------------- client and fixtures

  Resp get(String pathAndQuery, String token) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(10)).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.headers().firstValue("content-type")).as(r.body()).hasValue("application/json");
    OpenApiValidator.ADMIN.assertValid(r);
    return new Resp(r.statusCode(), JSON.readTree(r.body()), r.body());
  }

  Resp records(String query, String token) throws Exception {
    return get("/billing/v1/records" + (query.isEmpty() ? "" : "?" + query), token);
  }

  JsonNode post(String path, String token, String body) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    OpenApiValidator.ADMIN.assertValid(r);
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(201);
    return JSON.readTree(r.body());
  }

  /** Every page of {@code query} through HTTP, following {@code after}; the ids in order. */
  List<String> pageAll(String query, String token, int limit) throws Exception {
    List<String> ids = new ArrayList<>();
    String after = null;
    while (true) {
      Resp page = records(query + (query.isEmpty() ? "" : "&") + "limit=" + limit
          + (after == null ? "" : "&after=" + after), token);
      assertThat(page.status()).as(page.raw()).isEqualTo(200);
      ids.addAll(page.ids());
      assertThat(page.ids().size()).as("a page holds at most limit records").isLessThanOrEqualTo(limit);
      if (!page.json().get("has_more").asBoolean()) {
        return ids;
      }
      after = page.json().get("last_id").asText();
    }
  }

  static WindowUsage usage(String merchantId, String productId, String sub, long calls) {
    return new WindowUsage(sub, "sku-of-" + productId, productId, merchantId, "buyer-of-" + sub, false,
        BillingMode.PER_TOKEN, "USD", new UsageCounts(calls, 100 * calls, 10 * calls, 20 * calls, 0),
        new BigDecimal("0.000027").multiply(BigDecimal.valueOf(calls)));
  }

  /** Queues purchases in one committed transaction, as the catalog does. */
  void enqueue(PurchaseOrder... orders) throws SQLException {
    try (Connection c = repo.dataSource().getConnection()) {
      c.setAutoCommit(false);
      for (PurchaseOrder o : orders) {
        RecordLedger.enqueuePurchase(c, o);
      }
      c.commit();
    }
  }

  /**
   * Nine records: usage in two windows for A's two products and B's one, an adjustment of A's
   * first subscription in the first window, and a purchase each for A and B.
   */
  List<UsageRecord> mixedRecords() throws SQLException {
    for (ExportWindow w : List.of(W1, W2)) {
      ledger.commitWindow(w, List.of(usage(merchantA, "prod-a1", "sub-a1", 1), usage(merchantA, "prod-a2", "sub-a2", 1),
          usage(merchantB, "prod-b1", "sub-b1", 1)));
    }
    ledger.commitWindow(W1, List.of(usage(merchantA, "prod-a1", "sub-a1", 3)));
    enqueue(new PurchaseOrder("sub-a3", "sku-pkg", "prod-a1", merchantA, "buyer-3", false, T0.plusSeconds(60), 1),
        new PurchaseOrder("sub-b2", "sku-pkg", "prod-b1", merchantB, "buyer-4", false, T0.plus(HOUR), 2));
    ledger.commitPurchases(sku -> PACKAGE, HOUR);
    List<UsageRecord> all = ledger.page(RecordQuery.all(RecordQuery.MAX_LIMIT)).records();
    assertThat(all).hasSize(9);
    return all;
  }

  static List<String> idsOf(List<UsageRecord> records, Predicate<UsageRecord> filter) {
    return records.stream().filter(filter).map(UsageRecord::id).toList();
  }

  /** The ids of the ledger's table in export (seq) order, of one merchant or all. */
  List<String> idsInSeqOrder(String merchantId) throws SQLException {
    List<String> ids = new ArrayList<>();
    try (Connection c = repo.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT id FROM usage_records"
            + (merchantId == null ? "" : " WHERE merchant_id = ?") + " ORDER BY seq")) {
      if (merchantId != null) {
        ps.setString(1, merchantId);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getString(1));
        }
      }
    }
    return ids;
  }

  static void assertInvalid(Resp r, String field) {
    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.json().path("error").path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(r.json().path("error").path("message").asText()).as("a 400 names the field").startsWith(field + " ");
  }

  static String encoded(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- shape and paging

  @Test
  void firstPage_isAnOpenAiList_ofTheFirst100RecordsInExportOrder() throws Exception {
    List<WindowUsage> many = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      many.add(usage(merchantA, "prod-a1", "sub-" + i, i + 1));
    }
    ledger.commitWindow(W1, many);
    List<String> exportOrder = idsInSeqOrder(null);
    UsageRecord first = ledger.page(RecordQuery.all(1)).records().get(0);

    Resp page = records("", OPERATOR);

    assertThat(page.status()).as(page.raw()).isEqualTo(200);
    assertThat(page.json().get("object").asText()).isEqualTo("list");
    assertThat(page.ids()).as("the default limit is 100").containsExactlyElementsOf(exportOrder.subList(0, 100));
    assertThat(page.json().get("has_more").asBoolean()).isTrue();
    assertThat(page.json().get("first_id").asText()).isEqualTo(exportOrder.get(0));
    assertThat(page.json().get("last_id").asText()).isEqualTo(exportOrder.get(99));
    assertThat(page.json().get("data").get(0)).as("each item is the record's JSON, as in the JSONL files")
        .isEqualTo(JSON.readTree(RecordJson.record(first).toString()));
  }

  @Test
  void limit_from1To1000_andAfter_pageThroughEveryRecordOnce() throws Exception {
    List<WindowUsage> many = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      many.add(usage(merchantA, "prod-a1", "sub-" + i, 1));
    }
    ledger.commitWindow(W1, many);
    List<String> exportOrder = idsInSeqOrder(null);

    Resp one = records("limit=1", OPERATOR);
    Resp max = records("limit=1000", OPERATOR);
    Resp second = records("limit=1&after=" + one.json().get("last_id").asText(), OPERATOR);
    Resp afterLast = records("after=" + exportOrder.get(149), OPERATOR);

    assertThat(one.ids()).containsExactly(exportOrder.get(0));
    assertThat(one.json().get("has_more").asBoolean()).isTrue();
    assertThat(second.ids()).containsExactly(exportOrder.get(1));
    assertThat(max.ids()).containsExactlyElementsOf(exportOrder);
    assertThat(max.json().get("has_more").asBoolean()).isFalse();
    assertThat(afterLast.status()).isEqualTo(200);
    assertThat(afterLast.ids()).isEmpty();
    assertThat(afterLast.json().get("has_more").asBoolean()).isFalse();
    assertThat(afterLast.json().get("first_id").isNull()).as("null on an empty page: " + afterLast.raw()).isTrue();
    assertThat(afterLast.json().get("last_id").isNull()).as(afterLast.raw()).isTrue();
    assertThat(pageAll("", OPERATOR, 7)).as("pages of 7 with after, joined").containsExactlyElementsOf(exportOrder);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "1001", "-1", "abc", "1.5", "99999999999", ""})
  void limit_outOfRangeOrNoInteger_is400NamingLimit(String limit) throws Exception {
    assertInvalid(records("limit=" + encoded(limit), OPERATOR), "limit");
  }

  @Test
  void after_thatIsNoRecord_is400NamingAfter() throws Exception {
    mixedRecords();

    assertInvalid(records("after=ur_00000000000000000000000000", OPERATOR), "after");
    assertInvalid(records("after=", OPERATOR), "after");
  }

  // ---------------------------------------------------------------- filters

  @Test
  void everyFilter_selectsExactlyItsRecords_inExportOrder() throws Exception {
    List<UsageRecord> all = mixedRecords();

    assertThat(pageAll("subscriptionId=sub-a1", OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.subscriptionId().equals("sub-a1"))).hasSize(3);
    assertThat(pageAll("merchantId=" + merchantB, OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.merchantId().equals(merchantB))).hasSize(3);
    assertThat(pageAll("productId=prod-a1", OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.productId().equals("prod-a1"))).hasSize(4);
    assertThat(pageAll("kind=adjustment", OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.kind() == RecordKind.ADJUSTMENT)).hasSize(1);
    assertThat(pageAll("kind=purchase", OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.kind() == RecordKind.PURCHASE)).hasSize(2);
    assertThat(pageAll("kind=usage", OPERATOR, 2))
        .containsExactlyElementsOf(idsOf(all, r -> r.kind() == RecordKind.USAGE)).hasSize(6);
    assertThat(pageAll("from=" + W2.start(), OPERATOR, 2)).as("from is inclusive, on the window start")
        .containsExactlyElementsOf(idsOf(all, r -> r.windowStart().equals(W2.start()))).hasSize(4);
    assertThat(pageAll("to=" + W2.start(), OPERATOR, 2)).as("to is exclusive, on the window start")
        .containsExactlyElementsOf(idsOf(all, r -> r.windowStart().equals(W1.start()))).hasSize(5);
    assertThat(pageAll("from=" + encoded("2026-12-01T11:00:00+01:00") + "&to=" + W2.start(), OPERATOR, 2))
        .as("an instant with an offset").containsExactlyElementsOf(idsOf(all, r -> r.windowStart().equals(W1.start())));
    assertThat(pageAll("merchantId=" + merchantA + "&kind=usage&from=" + W1.start() + "&to=" + W2.end(), OPERATOR, 2))
        .as("filters combine").containsExactlyElementsOf(
            idsOf(all, r -> r.merchantId().equals(merchantA) && r.kind() == RecordKind.USAGE)).hasSize(4);
    assertThat(pageAll("subscriptionId=sub-nobody", OPERATOR, 2)).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "from=yesterday|from",
      "from=2026-12-01|from",
      "to=2026-13-01T00:00:00Z|to",
      "from=2026-12-01T11:00:00Z&to=2026-12-01T11:00:00Z|from",
      "kind=refund|kind",
      "kind=USAGE|kind",
      "subscriptionId=|subscriptionId",
      "subscription_id=sub-a1|subscription_id",
      "starting_after=x|starting_after",
      "kind=usage&kind=purchase|kind",
      "limit=5&limit=6|limit"})
  void badFilterValues_unknownAndRepeatedParameters_are400NamingTheParameter(String query, String field)
      throws Exception {
    assertInvalid(records(query, OPERATOR), field);
  }

  // ---------------------------------------------------------------- who reads what

  @Test
  void merchantToken_readsItsOwnRecordsOnly_operatorReadsAll() throws Exception {
    List<UsageRecord> all = mixedRecords();

    assertThat(pageAll("", tokenA, 2)).containsExactlyElementsOf(idsOf(all, r -> r.merchantId().equals(merchantA)))
        .hasSize(6);
    assertThat(pageAll("", tokenB, 100)).containsExactlyElementsOf(idsOf(all, r -> r.merchantId().equals(merchantB)))
        .hasSize(3);
    assertThat(pageAll("merchantId=" + merchantA, tokenA, 100)).as("its own merchantId is allowed")
        .containsExactlyElementsOf(idsOf(all, r -> r.merchantId().equals(merchantA)));
    assertThat(pageAll("subscriptionId=sub-b1", tokenA, 100)).as("another merchant's subscription finds nothing")
        .isEmpty();
    assertThat(pageAll("", OPERATOR, 100)).containsExactlyElementsOf(idsOf(all, r -> true));
  }

  @Test
  void merchantToken_cannotPageAfterAnotherMerchantsRecord_norNameAnotherMerchant() throws Exception {
    List<UsageRecord> all = mixedRecords();
    String recordOfB = idsOf(all, r -> r.merchantId().equals(merchantB)).get(0);

    Resp afterB = records("after=" + recordOfB, tokenA);
    Resp namesB = records("merchantId=" + merchantB, tokenA);
    Resp namesNobody = records("merchantId=mer-nobody", tokenA);

    assertInvalid(afterB, "after");
    assertThat(afterB.raw()).as("the same answer as for an id that does not exist").contains("names no record");
    for (Resp r : List.of(namesB, namesNobody)) {
      assertThat(r.status()).as(r.raw()).isEqualTo(403);
      assertThat(r.json().path("error").path("type").asText()).isEqualTo("permission_error");
      assertThat(r.json().path("error").path("code").asText()).isEqualTo("forbidden");
      assertThat(r.json().path("error").path("message").asText()).startsWith("merchantId ");
    }
    assertThat(records("after=" + recordOfB, OPERATOR).status()).as("the operator may").isEqualTo(200);
  }

  @Test
  void noOrWrongToken_is401_andABuyerKey_is403() throws Exception {
    mixedRecords();
    String product = post("/admin/v1/products", tokenA,
        "{\"name\":\"Acme Chat\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://127.0.0.1:18080\"}]}")
        .get("id").asText();
    String sku = post("/admin/v1/products/" + product + "/skus", tokenA, "{\"name\":\"payg\",\"models\":[\"m\"],"
        + "\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"0.01\"}}").get("id").asText();
    repo.changeListing(product, ListingAction.SUBMIT, null);
    repo.changeListing(product, ListingAction.APPROVE, null);
    String buyerKey = post("/admin/v1/subscriptions", OPERATOR, "{\"skuId\":\"" + sku + "\",\"buyerId\":\"b1\"}")
        .get("apiKey").asText();

    for (String token : new String[] {null, tokenA + "x"}) {
      Resp r = records("", token);
      assertThat(r.status()).as("token %s: %s", token, r.raw()).isEqualTo(401);
      assertThat(r.json().path("error").path("type").asText()).as("as the buyer port and OpenAI answer a wrong key")
          .isEqualTo("invalid_request_error");
      assertThat(r.json().path("error").path("code").asText()).isEqualTo("invalid_api_key");
      assertThat(r.raw()).doesNotContain("ur_");
    }
    Resp buyer = records("", buyerKey);
    assertThat(buyer.status()).as("a buyer's key is known, and may not read records: %s", buyer.raw()).isEqualTo(403);
    assertThat(buyer.raw()).doesNotContain("ur_");
  }

  @Test
  void databaseDown_is503StoreUnavailable() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    PGSimpleDataSource unreachable = new PGSimpleDataSource();
    unreachable.setURL("jdbc:postgresql://127.0.0.1:" + closedPort + "/test");
    var down = new AdminServer(vertx, repo,
        AdminServer.Options.of(OPERATOR).withRecords(new RecordLedger(unreachable, clock, new SimpleMeterRegistry())));
    String saved = base;
    base = "http://127.0.0.1:" + down.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture()
        .get(10, TimeUnit.SECONDS).actualPort();
    try {
      Resp r = records("limit=10", OPERATOR);

      assertThat(r.status()).as(r.raw()).isEqualTo(503);
      assertThat(r.json().path("error").path("type").asText()).isEqualTo("server_error");
      assertThat(r.json().path("error").path("code").asText()).isEqualTo("store_unavailable");
      assertThat(r.raw()).as("no driver detail leaks").doesNotContain(Integer.toString(closedPort));
    } finally {
      base = saved;
      down.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  // ---------------------------------------------------------------- paging while the exporter writes

  /** What a billing job read: the ids in order, and how many pages it got while writers ran. */
  record Reading(List<String> ids, int pagesWhileWriting) {}

  /**
   * Two writers released together commit windows (usage, then an adjustment) and purchases into
   * the ledger, each commit taking a random extra moment, while two billing jobs page through HTTP
   * with {@code after} (the operator by 7, merchant A by 5). Once the writers stopped and a job
   * reached the end, it has seen every record (of its scope) exactly once, in export order.
   */
  @Test
  void billingJobsPagingWhileWritersCommit_seeEveryRecordExactlyOnce_inExportOrder() throws Exception {
    int writers = 2;
    int windows = 20;
    RecordLedger slowCommits = new RecordLedger(slowCommits(repo.dataSource()), clock, new SimpleMeterRegistry());
    CyclicBarrier start = new CyclicBarrier(writers + 2);
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
    try {
      List<Future<Integer>> written = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        String writer = "w" + t;
        String merchant = t == 0 ? merchantA : merchantB;
        written.add(pool.submit(() -> {
          start.await();
          int n = 0;
          for (int i = 0; i < windows; i++) {
            ExportWindow w = ExportWindow.holding(T0.plus(HOUR.multipliedBy(i)), HOUR);
            for (long calls = 1; calls <= 2; calls++) { // usage, then an adjustment
              List<WindowUsage> u = new ArrayList<>();
              for (int k = 0; k < 3; k++) {
                u.add(usage(merchant, "prod-" + writer, "sub-" + writer + "-" + k, calls));
              }
              n += slowCommits.commitWindow(w, u).size();
            }
            enqueue(new PurchaseOrder("pkg-" + writer, "sku-pkg", "prod-" + writer, merchant, "buyer-" + writer,
                false, w.start().plusSeconds(1), 1));
            n += slowCommits.commitPurchases(sku -> PACKAGE, HOUR).size();
          }
          return n;
        }));
      }
      Future<Reading> operatorJob = pool.submit(() -> readWhileWriting(start, writing, OPERATOR, 7));
      Future<Reading> merchantJob = pool.submit(() -> readWhileWriting(start, writing, tokenA, 5));
      int total = 0;
      for (Future<Integer> f : written) {
        total += f.get(120, TimeUnit.SECONDS);
      }
      writing.set(false);
      Reading operator = operatorJob.get(120, TimeUnit.SECONDS);
      Reading merchant = merchantJob.get(120, TimeUnit.SECONDS);

      List<String> committed = idsInSeqOrder(null);
      assertThat(committed).hasSize(writers * windows * (2 * 3 + 1)).hasSize(total);
      assertThat(kinds()).as("windows, adjustments and purchases were all written")
          .containsExactlyInAnyOrder("usage", "adjustment", "purchase");
      assertThat(operator.pagesWhileWriting()).as("the job read while the writers committed").isGreaterThan(1);
      assertThat(operator.ids()).as("no record twice").doesNotHaveDuplicates();
      assertThat(operator.ids()).as("every record once, in export order, though the job paged while writers committed")
          .containsExactlyElementsOf(committed);
      assertThat(merchant.ids()).doesNotHaveDuplicates();
      assertThat(merchant.ids()).as("merchant A's records, each once, in export order")
          .containsExactlyElementsOf(idsInSeqOrder(merchantA)).hasSize(windows * (2 * 3 + 1));
    } finally {
      pool.shutdownNow();
    }
  }

  Reading readWhileWriting(CyclicBarrier start, AtomicBoolean writing, String token, int limit) throws Exception {
    start.await();
    List<String> seen = new ArrayList<>();
    int pagesWhileWriting = 0;
    String after = null;
    while (true) {
      boolean finalPass = !writing.get(); // a page read after every writer finished is complete
      Resp page = records("limit=" + limit + (after == null ? "" : "&after=" + after), token);
      assertThat(page.status()).as(page.raw()).isEqualTo(200);
      seen.addAll(page.ids());
      if (!page.json().get("last_id").isNull()) {
        after = page.json().get("last_id").asText();
        pagesWhileWriting += finalPass ? 0 : 1;
      }
      if (finalPass && !page.json().get("has_more").asBoolean()) {
        return new Reading(seen, pagesWhileWriting);
      }
    }
  }

  List<String> kinds() throws SQLException {
    List<String> kinds = new ArrayList<>();
    try (Connection c = repo.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT DISTINCT kind FROM usage_records");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        kinds.add(rs.getString(1));
      }
    }
    return kinds;
  }

  /**
   * {@code ds} with commits that each take a random extra 0-5 ms, as on a loaded database (as
   * billing-export's {@code SlowCommits}): writers that did not serialise their transactions
   * would then commit out of the order they numbered their records in, often enough to be seen.
   */
  static DataSource slowCommits(DataSource ds) {
    return (DataSource) Proxy.newProxyInstance(RecordsApiContract.class.getClassLoader(),
        new Class<?>[] {DataSource.class}, forwarding(ds, result -> result instanceof Connection c
            ? Proxy.newProxyInstance(RecordsApiContract.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("commit")) {
                    LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(5_000_000));
                  }
                  return forward(c, method, args);
                })
            : result));
  }

  private static InvocationHandler forwarding(Object target, UnaryOperator<Object> wrap) {
    return (proxy, method, args) -> wrap.apply(forward(target, method, args));
  }

  private static Object forward(Object target, Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
