package io.tollgate.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The ledger's contract, run on every database it supports (one subclass each). */
abstract class RecordLedgerContract {

  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  static final Duration HOUR = Duration.ofHours(1);
  static final ExportWindow W = ExportWindow.holding(T0, HOUR);
  static final ExportWindow W2 = ExportWindow.holding(T0.plus(HOUR), HOUR);

  final MovableClock clock = new MovableClock(Instant.parse("2026-12-01T11:02:00.123456Z"));
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  TestDatabase db;
  RecordLedger ledger;

  abstract TestDatabase newDatabase();

  @BeforeEach
  void open() {
    db = newDatabase();
    // As in the gateway: the catalog's tables and its own Flyway history are there first.
    TestDatabase.execute(db.dataSource(), "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY)");
    TestDatabase.execute(db.dataSource(), "CREATE TABLE products (id VARCHAR(64) PRIMARY KEY)");
    ledger = new RecordLedger(db.dataSource(), clock, registry).migrate();
  }

  @AfterEach
  void close() {
    if (db != null) {
      db.close();
    }
  }

  // ---------------------------------------------------------------------------- fixtures

  static WindowUsage usage(String sub, long calls, long input, long cached, long output, String amount) {
    return usage(sub, "mer-1", calls, input, cached, output, amount);
  }

  static WindowUsage usage(String sub, String merchant, long calls, long input, long cached, long output,
      String amount) {
    return new WindowUsage(sub, "sku-1", "prod-of-" + merchant, merchant, "buyer-of-" + sub, false,
        BillingMode.PER_TOKEN, "USD", new UsageCounts(calls, input, cached, output, input / 10), new BigDecimal(amount));
  }

  static SkuTerms packageTerms(String skuId, PriceEntry... history) {
    return new SkuTerms(skuId, BillingMode.TOKEN_PACKAGE, List.of(history));
  }

  static PriceEntry packagePrice(Instant from, String currency, String price) {
    return new PriceEntry(from, currency, null, null, null, null, new BigDecimal(price));
  }

  static PurchaseOrder order(String sub, Instant periodStart, long quantity, boolean test) {
    return new PurchaseOrder(sub, "sku-pkg", "prod-of-mer-2", "mer-2", "buyer-of-" + sub, test, periodStart, quantity);
  }

  /** Queues {@code orders} in one committed transaction, as the catalog does. */
  void enqueue(PurchaseOrder... orders) throws SQLException {
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      for (PurchaseOrder o : orders) {
        RecordLedger.enqueuePurchase(c, o);
      }
      c.commit();
    }
  }

  /** Every record, paged through the pull API's query. */
  List<UsageRecord> all() {
    List<UsageRecord> all = new ArrayList<>();
    RecordQuery q = RecordQuery.all(RecordQuery.MAX_LIMIT);
    while (true) {
      RecordPage page = ledger.page(q);
      all.addAll(page.records());
      if (!page.hasMore()) {
        return all;
      }
      q = q.after(page.lastId());
    }
  }

  long count(String sql) {
    try (Connection c = db.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  List<String> idsInSeqOrder() {
    List<String> ids = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT id FROM usage_records ORDER BY seq")) {
      while (rs.next()) {
        ids.add(rs.getString(1));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return ids;
  }

  static UsageCounts sum(List<UsageRecord> records) {
    UsageCounts s = UsageCounts.ZERO;
    for (UsageRecord r : records) {
      s = s.plus(new UsageCounts(r.calls(), r.inputTokens(), r.cachedInputTokens(), r.outputTokens(), r.estimatedTokens()));
    }
    return s;
  }

  static BigDecimal amount(List<UsageRecord> records) {
    return records.stream().map(UsageRecord::amount).reduce(BigDecimal.ZERO, BigDecimal::add);
  }

  // ---------------------------------------------------------------------------- schema

  @Test
  void migrate_besideTheCatalogsTables_createsTheLedger_andRunsAgainAsANoOp() {
    ledger.migrate();

    assertThat(count("SELECT COUNT(*) FROM \"billing_schema_history\" WHERE \"version\" = '1' AND \"success\""))
        .as("the billing migration ran once, in its own history table").isEqualTo(1);
    assertThat(ledger.commitWindow(W, List.of(usage("sub-a", 1, 10, 0, 5, "0.1")))).hasSize(1);
  }

  // ---------------------------------------------------------------------------- windows

  @Test
  void firstCommitOfAPair_isRevisionZeroUsage_holdingAllItsUsage() {
    List<UsageRecord> written = ledger.commitWindow(W, List.of(usage("sub-a", 3, 1200, 200, 300, "0.00039")));

    assertThat(written).singleElement().satisfies(r -> {
      assertThat(r.id()).isEqualTo(RecordIds.usage("sub-a", "sku-1", W.start(), 0));
      assertThat(r.kind()).isEqualTo(RecordKind.USAGE);
      assertThat(r.revision()).isZero();
      assertThat(List.of(r.calls(), r.inputTokens(), r.cachedInputTokens(), r.outputTokens(), r.estimatedTokens()))
          .containsExactly(3L, 1200L, 200L, 300L, 120L);
      assertThat(r.amountText()).isEqualTo("0.00039");
      assertThat(List.of(r.windowStart(), r.windowEnd())).containsExactly(W.start(), W.end());
      assertThat(List.of(r.subscriptionId(), r.skuId(), r.productId(), r.merchantId(), r.buyerId(), r.currency()))
          .containsExactly("sub-a", "sku-1", "prod-of-mer-1", "mer-1", "buyer-of-sub-a", "USD");
      assertThat(r.exportedAt()).isEqualTo(Instant.parse("2026-12-01T11:02:00.123Z"));
    });
    assertThat(all()).as("the ledger holds exactly what commitWindow returned").isEqualTo(written);
  }

  @Test
  void usageThatGrew_becomesAnAdjustment_holdingOnlyTheDifference() {
    ledger.commitWindow(W, List.of(usage("sub-a", 1, 100, 0, 50, "0.000045")));
    clock.advance(Duration.ofMinutes(30));

    List<UsageRecord> first = ledger.commitWindow(W, List.of(usage("sub-a", 3, 250, 40, 90, "0.0000915")));
    List<UsageRecord> second = ledger.commitWindow(W, List.of(usage("sub-a", 4, 260, 40, 95, "0.0001")));

    assertThat(first).singleElement().satisfies(r -> {
      assertThat(r.kind()).isEqualTo(RecordKind.ADJUSTMENT);
      assertThat(r.revision()).isEqualTo(1);
      assertThat(r.id()).isEqualTo(RecordIds.usage("sub-a", "sku-1", W.start(), 1));
      assertThat(List.of(r.calls(), r.inputTokens(), r.cachedInputTokens(), r.outputTokens(), r.estimatedTokens()))
          .as("only the difference").containsExactly(2L, 150L, 40L, 40L, 15L);
      assertThat(r.amountText()).as("current amount minus exported, exactly").isEqualTo("0.0000465");
    });
    assertThat(second).singleElement().satisfies(r -> {
      assertThat(r.revision()).isEqualTo(2);
      assertThat(r.amountText()).isEqualTo("0.0000085");
    });
    List<UsageRecord> all = all();
    assertThat(sum(all)).as("the records add up to the current usage").isEqualTo(new UsageCounts(4, 260, 40, 95, 26));
    assertThat(amount(all)).isEqualByComparingTo("0.0001");
  }

  @Test
  void unchangedUsage_writesNothing() {
    ledger.commitWindow(W, List.of(usage("sub-a", 1, 100, 0, 50, "0.1"), usage("sub-b", 1, 1, 0, 1, "0")));

    assertThat(ledger.commitWindow(W, List.of(usage("sub-a", 1, 100, 0, 50, "0.1"), usage("sub-b", 1, 1, 0, 1, "0.000"))))
        .as("nothing changed, nothing to write").isEmpty();
    assertThat(ledger.commitWindow(W2, List.of(usage("sub-c", 0, 0, 0, 0, "0"))))
        .as("no usage is no record").isEmpty();
    assertThat(all()).hasSize(2);
  }

  @Test
  void usageThatWentDown_isNeverExported_isCounted_andCatchesUpExactly() {
    ledger.commitWindow(W, List.of(usage("sub-a", 5, 500, 0, 100, "0.5"), usage("sub-b", 1, 10, 0, 1, "0.01")));

    // sub-a's meter store lost a call but counted more tokens since; sub-b grew as usual.
    List<UsageRecord> written = ledger.commitWindow(W,
        List.of(usage("sub-a", 4, 800, 0, 150, "0.8"), usage("sub-b", 2, 20, 0, 2, "0.02")));

    assertThat(written).extracting(UsageRecord::subscriptionId)
        .as("nothing for the pair that went down; the others are exported").containsExactly("sub-b");
    assertThat(registry.counter("tollgate.export.regressions").count()).isEqualTo(1.0);

    written = ledger.commitWindow(W, List.of(usage("sub-a", 6, 900, 0, 160, "0.9"), usage("sub-b", 2, 20, 0, 2, "0.02")));
    assertThat(written).as("caught up: the exact difference to what was exported").singleElement().satisfies(r -> {
      assertThat(r.revision()).isEqualTo(1);
      assertThat(List.of(r.calls(), r.inputTokens(), r.outputTokens())).containsExactly(1L, 400L, 60L);
      assertThat(r.amountText()).isEqualTo("0.4");
    });
    assertThat(registry.counter("tollgate.export.regressions").count()).isEqualTo(1.0);
  }

  @Test
  void aDifferenceWithMoreCachedThanInputTokens_isNotExported() {
    ledger.commitWindow(W, List.of(usage("sub-a", 1, 100, 0, 10, "0.1")));

    assertThat(ledger.commitWindow(W, List.of(usage("sub-a", 2, 150, 60, 20, "0.2"))))
        .as("an adjustment of 50 input tokens of which 60 cached is no valid usage").isEmpty();
    assertThat(registry.counter("tollgate.export.regressions").count()).isEqualTo(1.0);
  }

  @Test
  void aPairGivenTwice_isRefused_andWritesNothing() {
    assertThatThrownBy(() -> ledger.commitWindow(W, List.of(usage("sub-a", 1, 1, 0, 1, "0"), usage("sub-a", 2, 2, 0, 2, "0"))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sub-a");
    assertThat(all()).isEmpty();
  }

  @Test
  void amounts_keepEveryDigit() {
    String exact = "12345678901234567890.000000000000000000000000123";
    ledger.commitWindow(W, List.of(usage("sub-a", 1, 1, 0, 1, exact)));

    assertThat(all()).singleElement().extracting(UsageRecord::amountText)
        .as("no rounding anywhere between the price and the ledger").isEqualTo(exact);
    assertThat(ledger.commitWindow(W, List.of(usage("sub-a", 1, 1, 0, 1, exact)))).as("and it sums exactly").isEmpty();
  }

  // ---------------------------------------------------------------------------- purchases

  @Test
  void purchase_isPricedAtItsPeriodStart_inTheWindowHoldingIt_andLeavesTheOutbox() throws SQLException {
    Instant periodStart = Instant.parse("2026-12-01T10:17:31Z");
    SkuTerms terms = packageTerms("sku-pkg", packagePrice(T0.minus(Duration.ofDays(10)), "EUR", "9.90"),
        packagePrice(periodStart.plusSeconds(1), "EUR", "12"));
    enqueue(order("sub-p", periodStart, 3, false));

    List<UsageRecord> written = ledger.commitPurchases(sku -> terms, HOUR);

    assertThat(written).singleElement().satisfies(r -> {
      assertThat(r.id()).isEqualTo(RecordIds.purchase("sub-p", periodStart));
      assertThat(r.kind()).isEqualTo(RecordKind.PURCHASE);
      assertThat(r.amountText()).as("the price in force at the period start x quantity").isEqualTo("29.7");
      assertThat(r.currency()).isEqualTo("EUR");
      assertThat(r.billingMode()).isEqualTo(BillingMode.TOKEN_PACKAGE);
      assertThat(List.of(r.windowStart(), r.windowEnd())).containsExactly(W.start(), W.end());
      assertThat(sum(List.of(r))).isEqualTo(UsageCounts.ZERO);
      assertThat(List.of(r.merchantId(), r.productId(), r.buyerId())).containsExactly("mer-2", "prod-of-mer-2", "buyer-of-sub-p");
    });
    assertThat(count("SELECT COUNT(*) FROM billing_purchase_outbox")).as("recorded orders leave the outbox").isZero();
    assertThat(ledger.commitPurchases(sku -> terms, HOUR)).isEmpty();
    assertThat(all()).isEqualTo(written);
  }

  @Test
  void purchaseQueuedInATransactionThatRolledBack_isNeverRecorded() throws SQLException {
    SkuTerms terms = packageTerms("sku-pkg", packagePrice(T0.minus(HOUR), "USD", "5"));
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      RecordLedger.enqueuePurchase(c, order("sub-p", T0, 1, false));
      c.rollback();
    }
    assertThat(ledger.commitPurchases(sku -> terms, HOUR)).as("the subscription never existed").isEmpty();

    enqueue(order("sub-p", T0, 1, false), order("sub-p", T0, 1, false));
    assertThat(ledger.commitPurchases(sku -> terms, HOUR)).as("queued twice, one purchase").hasSize(1);
  }

  @Test
  void purchaseQueuedAgain_afterItWasRecorded_recordsNothingNew() throws SQLException {
    SkuTerms terms = packageTerms("sku-pkg", packagePrice(T0.minus(HOUR), "USD", "5"));
    enqueue(order("sub-p", T0, 2, false));
    ledger.commitPurchases(sku -> terms, HOUR);
    clock.advance(HOUR);

    enqueue(order("sub-p", T0, 2, false));
    assertThat(ledger.commitPurchases(sku -> terms, HOUR)).as("the same purchase, already recorded").isEmpty();
    assertThat(count("SELECT COUNT(*) FROM billing_purchase_outbox")).isZero();
    assertThat(all()).hasSize(1);
  }

  @Test
  void purchaseQueuedAgainWithOtherContent_isRefused_andChangesNoRecord() throws SQLException {
    SkuTerms terms = packageTerms("sku-pkg", packagePrice(T0.minus(HOUR), "USD", "5"));
    enqueue(order("sub-p", T0, 1, false));
    List<UsageRecord> recorded = ledger.commitPurchases(sku -> terms, HOUR);

    enqueue(order("sub-p", T0, 2, false));
    assertThatThrownBy(() -> ledger.commitPurchases(sku -> terms, HOUR))
        .isInstanceOf(BillingStoreException.class).hasMessageContaining(RecordIds.purchase("sub-p", T0));

    assertThat(all()).as("an exported record never changes").isEqualTo(recorded);
    assertThat(count("SELECT COUNT(*) FROM billing_purchase_outbox")).as("the order stays for an operator to see").isOne();
  }

  @Test
  void aPurchaseInTheWindow_isNoPartOfItsUsage() throws SQLException {
    enqueue(new PurchaseOrder("sub-a", "sku-1", "prod-of-mer-1", "mer-1", "buyer-of-sub-a", false, T0, 1));
    ledger.commitPurchases(sku -> packageTerms(sku, packagePrice(T0, "USD", "100")), HOUR);

    assertThat(ledger.commitWindow(W, List.of(usage("sub-a", 1, 100, 0, 10, "0.5")))).singleElement().satisfies(r -> {
      assertThat(r.kind()).as("the window's first usage record, though a purchase shares its window").isEqualTo(RecordKind.USAGE);
      assertThat(r.amountText()).isEqualTo("0.5");
    });
  }

  @Test
  void testPurchase_costsNothing() throws SQLException {
    SkuTerms terms = packageTerms("sku-pkg", packagePrice(T0.minus(HOUR), "USD", "5"));
    enqueue(order("sub-t", T0, 4, true));

    assertThat(ledger.commitPurchases(sku -> terms, HOUR)).singleElement().satisfies(r -> {
      assertThat(r.test()).isTrue();
      assertThat(r.amountText()).isEqualTo("0");
    });
  }

  // ---------------------------------------------------------------------------- paging

  /** seq 1: a (mer-1, W), 2: b (mer-2, W), 3: a (W2), 4: adjustment of a in W, 5: purchase of p (mer-2). */
  List<UsageRecord> fiveRecords() throws SQLException {
    List<UsageRecord> records = new ArrayList<>();
    records.addAll(ledger.commitWindow(W, List.of(usage("sub-a", 1, 1, 0, 1, "0.1"), usage("sub-b", "mer-2", 1, 1, 0, 1, "0.2"))));
    records.addAll(ledger.commitWindow(W2, List.of(usage("sub-a", 1, 1, 0, 1, "0.1"))));
    records.addAll(ledger.commitWindow(W, List.of(usage("sub-a", 2, 2, 0, 2, "0.2"))));
    enqueue(order("sub-p", T0.plus(HOUR), 1, false));
    records.addAll(ledger.commitPurchases(sku -> packageTerms("sku-pkg", packagePrice(T0, "USD", "5")), HOUR));
    assertThat(records).hasSize(5);
    return records;
  }

  @Test
  void pages_followExportOrder_andSayWhetherMoreFollow() throws SQLException {
    List<UsageRecord> r = fiveRecords();

    RecordPage first = ledger.page(RecordQuery.all(2));
    RecordPage second = ledger.page(RecordQuery.all(2).after(first.lastId()));
    RecordPage third = ledger.page(RecordQuery.all(2).after(second.lastId()));

    assertThat(first.records()).containsExactly(r.get(0), r.get(1));
    assertThat(first.hasMore()).isTrue();
    assertThat(second.records()).containsExactly(r.get(2), r.get(3));
    assertThat(third.records()).containsExactly(r.get(4));
    assertThat(third.hasMore()).as("the last page").isFalse();
    assertThat(ledger.page(RecordQuery.all(2).after(third.lastId())).records()).isEmpty();
  }

  @Test
  void pages_filterByMerchantSubscriptionProductWindowAndKind() throws SQLException {
    List<UsageRecord> r = fiveRecords();

    assertThat(ledger.page(new RecordQuery("mer-2", null, null, null, null, null, null, 10)).records())
        .containsExactly(r.get(1), r.get(4));
    assertThat(ledger.page(new RecordQuery(null, "sub-a", null, null, null, null, null, 10)).records())
        .containsExactly(r.get(0), r.get(2), r.get(3));
    assertThat(ledger.page(new RecordQuery(null, null, "prod-of-mer-1", null, null, null, null, 10)).records())
        .containsExactly(r.get(0), r.get(2), r.get(3));
    assertThat(ledger.page(new RecordQuery(null, null, null, W2.start(), null, null, null, 10)).records())
        .as("from is inclusive").containsExactly(r.get(2), r.get(4));
    assertThat(ledger.page(new RecordQuery(null, null, null, null, W2.start(), null, null, 10)).records())
        .as("to is exclusive").containsExactly(r.get(0), r.get(1), r.get(3));
    assertThat(ledger.page(new RecordQuery(null, null, null, null, null, RecordKind.ADJUSTMENT, null, 10)).records())
        .containsExactly(r.get(3));
    assertThat(ledger.page(new RecordQuery("mer-1", "sub-a", null, W.start(), W2.start(), RecordKind.USAGE, null, 10))
        .records()).as("filters combine").containsExactly(r.get(0));
    assertThat(ledger.page(new RecordQuery("mer-2", null, null, null, null, null, r.get(1).id(), 10)).records())
        .as("after, within a filter").containsExactly(r.get(4));
  }

  @Test
  void pageAfterAnUnknownId_isRefusedNamingIt() throws SQLException {
    fiveRecords();

    assertThatThrownBy(() -> ledger.page(RecordQuery.all(10).after("ur_nosuchrecord")))
        .isInstanceOfSatisfying(UnknownRecordException.class, e -> assertThat(e.recordId()).isEqualTo("ur_nosuchrecord"));
  }

  @Test
  void pageAfterAnotherMerchantsRecord_isRefused_forThatMerchant() throws SQLException {
    List<UsageRecord> r = fiveRecords();

    assertThatThrownBy(() -> ledger.page(new RecordQuery("mer-2", null, null, null, null, null, r.get(0).id(), 10)))
        .as("mer-1's record does not exist for mer-2").isInstanceOf(UnknownRecordException.class);
  }

  @Test
  void limit_isOneToAThousand() {
    assertThatThrownBy(() -> RecordQuery.all(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RecordQuery.all(1001)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Writers released together commit windows (usage, then adjustments) while a reader pages by
   * {@code after}: the reader must see every committed record once, in export order. A writer
   * that took a seq and committed after a reader passed it would be skipped; commits that take
   * a random extra moment make that likely where writers do not serialise.
   */
  @Test
  void readerPagingWhileWritersCommit_seesEveryRecordExactlyOnce_inExportOrder() throws Exception {
    int writers = 4;
    int windows = 12;
    CyclicBarrier start = new CyclicBarrier(writers + 1);
    AtomicBoolean writing = new AtomicBoolean(true);
    RecordLedger slowCommits = new RecordLedger(SlowCommits.wrap(db.dataSource()), clock, registry);
    ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
    try {
      List<Future<Integer>> written = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        String writer = "w" + t;
        written.add(pool.submit(() -> {
          start.await();
          int n = 0;
          for (int i = 0; i < windows; i++) {
            ExportWindow w = ExportWindow.holding(T0.plus(HOUR.multipliedBy(i)), HOUR);
            for (int grown = 1; grown <= 2; grown++) { // usage, then an adjustment
              List<WindowUsage> u = new ArrayList<>();
              for (int k = 0; k < 3; k++) {
                u.add(usage("sub-" + writer + "-" + k, grown, 100L * grown, 0, 10L * grown, "0.00" + grown));
              }
              n += slowCommits.commitWindow(w, u).size();
            }
          }
          return n;
        }));
      }
      Future<List<String>> reader = pool.submit(() -> {
        start.await();
        List<String> seen = new ArrayList<>();
        RecordQuery q = RecordQuery.all(3);
        while (true) {
          boolean finalPass = !writing.get(); // a page read after every writer finished is complete
          RecordPage page = ledger.page(q);
          page.records().forEach(r -> seen.add(r.id()));
          if (page.lastId() != null) {
            q = q.after(page.lastId());
          }
          if (finalPass && !page.hasMore()) {
            return seen;
          }
        }
      });
      int total = 0;
      for (Future<Integer> f : written) {
        total += f.get(120, TimeUnit.SECONDS);
      }
      writing.set(false);
      List<String> seen = reader.get(120, TimeUnit.SECONDS);

      List<String> committed = idsInSeqOrder();
      assertThat(committed).hasSize(writers * windows * 2 * 3).hasSize(total);
      assertThat(seen).as("every record once, in export order, though the reader paged while writers committed")
          .containsExactlyElementsOf(committed);
    } finally {
      pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------------- followers

  @Test
  void follow_returnsWholeCommits_andCursorsOnlyMoveForward() {
    ledger.commitWindow(W, List.of(usage("sub-a", 1, 1, 0, 1, "0"), usage("sub-b", 1, 1, 0, 1, "0"),
        usage("sub-c", 1, 1, 0, 1, "0")));
    ledger.commitWindow(W2, List.of(usage("sub-a", 1, 1, 0, 1, "0"), usage("sub-b", 1, 1, 0, 1, "0")));

    assertThat(ledger.follow(0, 2)).as("the commit of the 2nd record, whole")
        .extracting(LedgerEntry::seq).containsExactly(1L, 2L, 3L);
    assertThat(ledger.follow(0, 2)).extracting(LedgerEntry::commitSeq).containsOnly(1L);
    assertThat(ledger.follow(0, 4)).extracting(LedgerEntry::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(ledger.follow(3, 1)).extracting(LedgerEntry::commitSeq).containsExactly(4L, 4L);
    assertThat(ledger.follow(5, 10)).isEmpty();

    assertThat(ledger.cursor("files")).isZero();
    ledger.advanceCursor("files", 5);
    ledger.advanceCursor("files", 3);
    assertThat(ledger.cursor("files")).as("a cursor never moves back").isEqualTo(5);
    assertThat(ledger.cursor("other")).as("cursors are per follower").isZero();
  }
}
