package io.tollgate.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.ExportSource;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.MeterStoreException;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.store.UsageCounts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exporter end to end on real stores: a meter store with its marks, the ledger, the JSONL
 * follower, a real lease, and a clock the test moves (no sleeps; only the scheduled exporter's
 * own thread is awaited, with a bound). Here on H2 as the embedded default runs it (the meter
 * store's tables and the ledger in one database); {@link PostgresRedisExporterTest} runs every
 * test again on the production stores, PostgreSQL for the ledger and Redis for the meter store.
 *
 * <p>Stores fail for real where that is exact and cheap: the ledger's connections break ({@link
 * DatabaseOutage}), the JSONL directory is a file. The meter store fails through {@link
 * FaultySource}, which also places the crash between the ledger's commit and the clearing of the
 * marks.
 */
class ExporterTest {

  static final Duration HOUR = Duration.ofHours(1);
  static final Duration GRACE = Duration.ofMinutes(2);
  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  static final ExportWindow W0 = ExportWindow.holding(T0, HOUR);
  static final ExportWindow W1 = ExportWindow.holding(T0.plus(HOUR), HOUR);
  /** The first instant W0 may be closed: its end plus the grace. */
  static final Instant W0_DUE = W0.end().plus(GRACE);
  /** PER_TOKEN prices change inside W0, at 10:30. */
  static final Instant PRICE_CHANGE = T0.plus(Duration.ofMinutes(30));

  static final Map<String, SkuTerms> SKUS = Map.of(
      "sku-tok", new SkuTerms("sku-tok", BillingMode.PER_TOKEN, List.of(
          new PriceEntry(T0.minus(Duration.ofDays(30)), "USD", new BigDecimal("0.15"), new BigDecimal("0.075"),
              new BigDecimal("0.60"), null, null),
          new PriceEntry(PRICE_CHANGE, "USD", new BigDecimal("0.30"), new BigDecimal("0.10"), new BigDecimal("1.20"),
              null, null))),
      "sku-call", new SkuTerms("sku-call", BillingMode.PER_CALL, List.of(
          new PriceEntry(T0.minus(Duration.ofDays(30)), "USD", null, null, null, new BigDecimal("0.002"), null))));

  /** A subscription as its usage cells carry it. */
  record Sub(String id, String sku, boolean test) {

    UsageCell at(Instant minute, long calls, long input, long cached, long output) {
      return new UsageCell(id, sku, "prod-1", "mer-1", "buyer-" + id, test, minute.toEpochMilli(),
          new UsageCounts(calls, input, cached, output, 0));
    }
  }

  static final Sub A = new Sub("sub-a", "sku-tok", false);
  static final Sub B = new Sub("sub-b", "sku-call", false);
  static final Sub TEST = new Sub("sub-t", "sku-tok", true);

  @TempDir
  Path dataDir;

  final MovableClock clock = new MovableClock(T0.plus(Duration.ofMinutes(30)));
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final TaskHealth health = new TaskHealth(clock, registry);
  private final List<Exporter> exporters = new ArrayList<>();
  TestDatabase db;
  DatabaseOutage ledgerOutage;
  RecordLedger ledger;
  MeterStore store;
  FaultySource source;

  // ------------------------------------------------------------------ the stores, per backend

  TestDatabase newDatabase() {
    return TestDatabase.h2();
  }

  /** A meter store marking export windows of {@code window}; it is the exporter's source too. */
  MeterStore newMeterStore(Duration window) {
    return new JdbcMeterStore(db.dataSource(), "tg_", clock).withExportWindow(window).migrate();
  }

  /** The lease {@code holder} takes, in the store the gateway keeps it in for this backend. */
  ExportLease lease(String holder) {
    // Expiry is on the moving clock here: a day outlives every test.
    return new JdbcExportLease(db.dataSource(), "export", holder, Duration.ofDays(1), clock);
  }

  /** Removes what {@link #newMeterStore} made outside {@link #db}. */
  void dropMeterStore() {}

  @BeforeEach
  void open() {
    db = newDatabase();
    ledgerOutage = new DatabaseOutage(db.dataSource());
    ledger = new RecordLedger(ledgerOutage.dataSource(), clock, registry).migrate();
    useWindow(HOUR);
  }

  @AfterEach
  void close() {
    try {
      for (Exporter e : exporters) {
        e.close();
      }
    } finally {
      try {
        dropMeterStore();
      } finally {
        db.close();
      }
    }
  }

  void useWindow(Duration window) {
    store = newMeterStore(window);
    source = new FaultySource((ExportSource) store);
  }

  Exporter exporter() {
    return exporter(Exporter.Config.of(HOUR, GRACE), lease("me"));
  }

  Exporter exporter(Exporter.Config config, ExportLease lease, LedgerFollower... followers) {
    return exporter(config, lease, health, registry, followers);
  }

  /** An exporter with a health and metrics of its own, as on another instance. */
  Exporter otherInstance(Exporter.Config config, ExportLease lease, LedgerFollower... followers) {
    SimpleMeterRegistry own = new SimpleMeterRegistry();
    return exporter(config, lease, new TaskHealth(clock, own), own, followers);
  }

  Exporter exporter(Exporter.Config config, ExportLease lease, TaskHealth health, MeterRegistry registry,
      LedgerFollower... followers) {
    Exporter e = new Exporter(config, source, SKUS::get, ledger, List.of(followers), lease, clock, health, registry);
    exporters.add(e);
    return e;
  }

  JsonlSink jsonl(Path dir) {
    return new JsonlSink(ledger, dir, JsonlSink.Format.RECORD);
  }

  // ------------------------------------------------------------------ usage and what was exported

  void apply(String batchId, UsageCell... cells) {
    store.apply(List.of(new UsageBatch(batchId, List.of(cells))));
  }

  static Instant at(String hhmm) {
    return Instant.parse("2026-12-01T" + hhmm + ":00Z");
  }

  /**
   * W0's usage, priced by hand. sub-a: 10:05 at the first prices, (800 x 0.15 + 200 x 0.075 + 500
   * x 0.60) / 1e6 = 0.000435; 10:40 at the second, (2000 x 0.30 + 1000 x 1.20) / 1e6 = 0.0018;
   * 0.002235 in all. sub-b: 3 calls x 0.002 = 0.006. sub-t: a test subscription, 0. And sub-a in
   * W1 (11:00), which is not W0's.
   */
  void applyW0Usage() {
    apply("w0-1", A.at(at("10:05"), 2, 1000, 200, 500), B.at(at("10:10"), 3, 300, 0, 600));
    apply("w0-2", A.at(at("10:40"), 1, 2000, 0, 1000), TEST.at(at("10:59"), 1, 100, 0, 50),
        A.at(at("11:00"), 1, 10, 0, 5));
  }

  static final UsageCounts A_W0 = new UsageCounts(3, 3000, 200, 1500, 0);
  static final UsageCounts B_W0 = new UsageCounts(3, 300, 0, 600, 0);
  static final UsageCounts TEST_W0 = new UsageCounts(1, 100, 0, 50, 0);

  static UsageRecord usageRecord(Sub s, ExportWindow w, UsageCounts c, String amount, Instant exportedAt) {
    return new UsageRecord(RecordIds.usage(s.id(), s.sku(), w.start(), 0), s.id(), "buyer-" + s.id(), "mer-1",
        "prod-1", s.sku(), w.start(), w.end(), c.calls(), c.inputTokens(), c.cachedInputTokens(), c.outputTokens(),
        c.estimatedTokens(), SKUS.get(s.sku()).mode(), new BigDecimal(amount), "USD", s.test(), RecordKind.USAGE, 0,
        exportedAt);
  }

  /** Every record of the ledger, in export order, through the pull API's query. */
  List<UsageRecord> records() {
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

  static List<UsageRecord> of(List<UsageRecord> records, String subscriptionId) {
    return records.stream().filter(r -> r.subscriptionId().equals(subscriptionId)).toList();
  }

  static UsageCounts counts(List<UsageRecord> records) {
    UsageCounts sum = UsageCounts.ZERO;
    for (UsageRecord r : records) {
      sum = sum.plus(new UsageCounts(r.calls(), r.inputTokens(), r.cachedInputTokens(), r.outputTokens(),
          r.estimatedTokens()));
    }
    return sum;
  }

  static String amount(List<UsageRecord> records) {
    BigDecimal sum = BigDecimal.ZERO;
    for (UsageRecord r : records) {
      sum = sum.add(r.amount());
    }
    return Pricing.plain(sum);
  }

  /** What W0's usage must add up to, per subscription, whatever records it took. */
  void assertW0ExportedExactly(List<UsageRecord> records) {
    List<UsageRecord> w0 = records.stream().filter(r -> r.windowStart().equals(W0.start())).toList();
    assertThat(counts(of(w0, A.id()))).isEqualTo(A_W0);
    assertThat(amount(of(w0, A.id()))).isEqualTo("0.002235");
    assertThat(counts(of(w0, B.id()))).isEqualTo(B_W0);
    assertThat(amount(of(w0, B.id()))).isEqualTo("0.006");
    assertThat(counts(of(w0, TEST.id()))).isEqualTo(TEST_W0);
    assertThat(amount(of(w0, TEST.id()))).isEqualTo("0");
    assertNoDuplicates(records);
  }

  /** Ids unique, and each (subscription, SKU, window) numbered 0, 1, 2... with one usage record first. */
  static void assertNoDuplicates(List<UsageRecord> records) {
    assertThat(records).extracting(UsageRecord::id).doesNotHaveDuplicates();
    Map<String, List<Integer>> revisions = new TreeMap<>();
    for (UsageRecord r : records) {
      revisions.computeIfAbsent(r.subscriptionId() + "/" + r.skuId() + "/" + r.windowStart(), k -> new ArrayList<>())
          .add(r.revision());
      assertThat(r.id()).isEqualTo(RecordIds.usage(r.subscriptionId(), r.skuId(), r.windowStart(), r.revision()));
      assertThat(r.kind()).isEqualTo(r.revision() == 0 ? RecordKind.USAGE : RecordKind.ADJUSTMENT);
    }
    revisions.forEach((pair, revs) -> {
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < revs.size(); i++) {
        expected.add(i);
      }
      assertThat(revs).as("revisions of %s in export order", pair).isEqualTo(expected);
    });
  }

  /** The ids in the {@code *.jsonl} files under {@code dataDir/billing}, line by line. */
  static List<String> jsonlIds(Path dataDir) throws IOException {
    List<String> ids = new ArrayList<>();
    Path dir = dataDir.resolve("billing");
    if (!Files.isDirectory(dir)) {
      return ids;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.jsonl")) {
      for (Path f : files) {
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
          JsonNode n = RecordJson.MAPPER.readTree(line);
          ids.add(n.get("id").asText());
        }
      }
    }
    return ids;
  }

  // ------------------------------------------------------------------ what the exporter shows

  double errors(String sink) {
    return errors(registry, sink);
  }

  static double errors(MeterRegistry registry, String sink) {
    Counter c = registry.find("tollgate.export.errors").tag("sink", sink).counter();
    return c == null ? 0 : c.count();
  }

  double exported(RecordKind kind) {
    return registry.get("tollgate.export.records").tag("kind", kind.wireName()).counter().count();
  }

  double lag() {
    return registry.get("tollgate.export.lag").gauge().value();
  }

  TaskHealth.Status status() {
    return health.statuses().stream().filter(s -> s.name().equals(Exporter.TASK)).findFirst().orElseThrow();
  }

  // ================================================================== 1. exactly once

  @Test
  void dueWindow_isExportedOnce_oneRecordPerSubscriptionAndSku() {
    applyW0Usage();
    Exporter exporter = exporter();

    assertThat(exporter.runOnce()).as("W0 is still open").isEqualTo(new Exporter.Summary(true, 0, 0, 0, 0));
    clock.set(W0_DUE.minusMillis(1));
    assertThat(exporter.runOnce()).as("W0 ended, the grace has not passed").isEqualTo(
        new Exporter.Summary(true, 0, 0, 0, 0));
    assertThat(records()).isEmpty();

    clock.set(W0_DUE);
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 3, 0));
    List<UsageRecord> records = records();
    assertThat(records).containsExactlyInAnyOrder(
        usageRecord(A, W0, A_W0, "0.002235", W0_DUE),
        usageRecord(B, W0, B_W0, "0.006", W0_DUE),
        usageRecord(TEST, W0, TEST_W0, "0", W0_DUE));
    assertThat(exported(RecordKind.USAGE)).isEqualTo(3);

    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).as("nothing changed").isEqualTo(new Exporter.Summary(true, 0, 0, 0, 0));
    clock.set(W1.end().plus(GRACE));
    assertThat(exporter.runOnce()).as("W1 holds sub-a's 11:00 only").isEqualTo(new Exporter.Summary(true, 1, 0, 1, 0));
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce().records()).isZero();

    List<UsageRecord> all = records();
    assertThat(all.subList(0, 3)).isEqualTo(records);
    assertThat(all.subList(3, 4)).containsExactly(
        usageRecord(A, W1, new UsageCounts(1, 10, 0, 5, 0), "0.000009", W1.end().plus(GRACE)));
    assertThat(exported(RecordKind.USAGE)).isEqualTo(4);
    assertThat(status().state()).isEqualTo(TaskHealth.State.OK);
  }

  // ================================================================== 2. late usage

  @Test
  void lateUsage_isAnAdjustmentOfTheDifferenceOnly_withTheNextRevision() {
    applyW0Usage();
    Exporter exporter = exporter();
    clock.set(W0_DUE);
    exporter.runOnce();
    List<UsageRecord> first = records();

    // The journal replays a batch the store applied (same id: nothing), and one it never applied,
    // cut after W0 closed: sub-a at 10:05, priced at the prices of 10:05, not of now.
    applyW0Usage();
    apply("late-1", A.at(at("10:05"), 1, 400, 100, 100));
    clock.advance(Duration.ofSeconds(10));
    Instant firstLate = clock.instant();
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 0, 1));

    apply("late-2", A.at(at("10:40"), 1, 0, 0, 10));
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 0, 1));
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce().records()).isZero();

    List<UsageRecord> all = records();
    assertThat(all.subList(0, 3)).as("exported records never change").isEqualTo(first);
    // (300 x 0.15 + 100 x 0.075 + 100 x 0.60) / 1e6; then 10 x 1.20 / 1e6
    assertThat(all.subList(3, all.size())).containsExactly(
        new UsageRecord(RecordIds.usage(A.id(), A.sku(), W0.start(), 1), A.id(), "buyer-sub-a", "mer-1", "prod-1",
            A.sku(), W0.start(), W0.end(), 1, 400, 100, 100, 0, BillingMode.PER_TOKEN, new BigDecimal("0.0001125"),
            "USD", false, RecordKind.ADJUSTMENT, 1, firstLate),
        new UsageRecord(RecordIds.usage(A.id(), A.sku(), W0.start(), 2), A.id(), "buyer-sub-a", "mer-1", "prod-1",
            A.sku(), W0.start(), W0.end(), 1, 0, 0, 10, 0, BillingMode.PER_TOKEN, new BigDecimal("0.000012"),
            "USD", false, RecordKind.ADJUSTMENT, 2, firstLate.plusSeconds(10)));
    assertThat(counts(of(all, A.id()))).isEqualTo(A_W0.plus(new UsageCounts(2, 400, 100, 110, 0)));
    assertThat(amount(of(all, A.id()))).isEqualTo("0.0023595");
    assertThat(exported(RecordKind.ADJUSTMENT)).isEqualTo(2);
    assertNoDuplicates(all);
  }

  // ================================================================== 3. crash between commit and clear

  @Test
  void crashAfterTheLedgerCommitted_beforeTheMarksWereCleared_nextRunWritesNothingTwice() throws IOException {
    applyW0Usage();
    Exporter exporter = exporter(Exporter.Config.of(HOUR, GRACE), lease("me"), jsonl(dataDir));
    clock.set(W0_DUE);
    source.failClear(1);

    assertThatThrownBy(exporter::runOnce).isInstanceOf(MeterStoreException.class);
    List<UsageRecord> committed = records();
    assertThat(committed).hasSize(3);
    assertThat(errors("source")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).as("the same usage again: no difference").isEqualTo(
        new Exporter.Summary(true, 1, 0, 0, 0));
    assertThat(records()).isEqualTo(committed);
    assertThat(source.touched(W0.start())).as("marks cleared now").isEmpty();

    // usage that arrives after the crash is exported, and only it
    apply("late", A.at(at("10:05"), 1, 400, 100, 100));
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 0, 1));
    List<UsageRecord> all = records();
    assertThat(counts(of(all, A.id()))).isEqualTo(A_W0.plus(new UsageCounts(1, 400, 100, 100, 0)));
    assertThat(counts(of(all, B.id()))).isEqualTo(B_W0);
    assertNoDuplicates(all);
    assertThat(jsonlIds(dataDir)).as("each record once in the files").containsExactlyInAnyOrderElementsOf(
        all.stream().map(UsageRecord::id).toList());
  }

  @Test
  void crashAfterOneOfSeveralChunks_nextRunExportsTheRestOnly() {
    List<Sub> subs = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      Sub s = new Sub("sub-" + i, "sku-call", false);
      subs.add(s);
      apply("b-" + i, s.at(at("10:0" + i), i + 1, 0, 0, 0));
    }
    Exporter exporter = exporter(Exporter.Config.of(HOUR, GRACE).withChunk(3), lease("me"));
    clock.set(W0_DUE);
    source.failClear(2); // after the second chunk's commit

    assertThatThrownBy(exporter::runOnce).isInstanceOf(MeterStoreException.class);
    assertThat(records()).as("two chunks committed").hasSize(6);

    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).as("the second chunk again (nothing), then the third").isEqualTo(
        new Exporter.Summary(true, 1, 0, 1, 0));
    List<UsageRecord> all = records();
    for (int i = 0; i < 7; i++) {
      assertThat(counts(of(all, "sub-" + i)).calls()).isEqualTo(i + 1);
    }
    assertNoDuplicates(all);
    assertThat(all).allSatisfy(r -> assertThat(r.kind()).isEqualTo(RecordKind.USAGE));
  }

  // ================================================================== 4. survival

  @Test
  void ledgerDatabaseDown_runFailsCountedAndReported_thenCatchesUpExactly() {
    applyW0Usage();
    Exporter exporter = exporter();
    clock.set(W0_DUE);
    ledgerOutage.down = true;

    assertThatThrownBy(exporter::runOnce).isInstanceOf(BillingStoreException.class);
    clock.advance(Duration.ofSeconds(20));
    assertThatThrownBy(exporter::runOnce).isInstanceOf(BillingStoreException.class);
    assertThat(errors("jdbc")).isEqualTo(2);
    TaskHealth.Status failing = status();
    assertThat(failing.state()).isEqualTo(TaskHealth.State.FAILING);
    assertThat(failing.cause()).isEqualTo(TaskHealth.Cause.DEPENDENCY);
    assertThat(failing.consecutiveFailures()).isEqualTo(2);
    assertThat(health.ready()).as("a shared database's outage keeps the instance in rotation").isTrue();
    assertThat(source.clears.get()).as("no mark cleared for records never written").isZero();

    apply("during", B.at(at("10:20"), 2, 0, 0, 0)); // usage keeps coming while the ledger is down
    ledgerOutage.down = false;
    clock.advance(Duration.ofSeconds(20));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 3, 0));
    List<UsageRecord> all = records();
    assertThat(counts(of(all, B.id()))).isEqualTo(B_W0.plus(new UsageCounts(2, 0, 0, 0, 0)));
    assertThat(amount(of(all, B.id()))).isEqualTo("0.01");
    assertThat(counts(of(all, A.id()))).isEqualTo(A_W0);
    assertThat(status().state()).isEqualTo(TaskHealth.State.OK);
    assertThat(lag()).isZero();
  }

  @Test
  void connectionLostBeforeTheLedgerCommit_nothingIsWritten_nextRunWritesItAll() {
    applyW0Usage();
    Exporter exporter = exporter();
    clock.set(W0_DUE);
    ledgerOutage.failCommits.set(1);

    assertThatThrownBy(exporter::runOnce).isInstanceOf(BillingStoreException.class);
    assertThat(records()).isEmpty();
    assertThat(source.clears.get()).isZero();
    assertThat(errors("jdbc")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 3, 0));
    assertW0ExportedExactly(records());
  }

  @Test
  void meterStoreDown_runFailsCountedAndReported_thenCatchesUpExactly() {
    applyW0Usage();
    Exporter exporter = exporter();
    clock.set(W0_DUE);
    source.down = true;

    assertThatThrownBy(exporter::runOnce).isInstanceOf(MeterStoreException.class);
    assertThat(errors("source")).isEqualTo(1);
    assertThat(errors("jdbc")).isZero();
    assertThat(status().state()).isEqualTo(TaskHealth.State.FAILING);
    assertThat(status().cause()).isEqualTo(TaskHealth.Cause.DEPENDENCY);
    assertThat(health.ready()).isTrue();
    assertThat(lag()).as("W0 is due and not exported").isEqualTo(120);

    source.down = false;
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 3, 0));
    assertW0ExportedExactly(records());
    assertThat(status().state()).isEqualTo(TaskHealth.State.OK);
  }

  @Test
  void jsonlFilesCannotBeWritten_localFailureBlocksReadiness_thenTheFilesCatchUp() throws IOException {
    applyW0Usage();
    Path billing = dataDir.resolve("billing");
    Files.writeString(billing, "not a directory");
    Exporter exporter = exporter(Exporter.Config.of(HOUR, GRACE), lease("me"), jsonl(dataDir));
    clock.set(W0_DUE);

    assertThatThrownBy(exporter::runOnce).isInstanceOf(UncheckedIOException.class);
    assertThat(errors("jsonl")).isEqualTo(1);
    assertThat(status().state()).isEqualTo(TaskHealth.State.FAILING);
    assertThat(status().cause()).as("this instance's disk").isEqualTo(TaskHealth.Cause.LOCAL);
    assertThat(health.ready()).isFalse();
    assertThat(records()).as("the ledger, written first, has them").hasSize(3);

    Files.delete(billing);
    clock.advance(Duration.ofSeconds(10));
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 0, 0, 0, 0));
    assertThat(health.ready()).isTrue();
    assertThat(jsonlIds(dataDir)).containsExactlyInAnyOrderElementsOf(records().stream().map(UsageRecord::id).toList());
  }

  @Test
  void ledgerDatabaseDownWhileTheJsonlFilesCatchUp_isTheDatabasesFailure_notTheDisks() throws IOException {
    applyW0Usage();
    JsonlSink files = jsonl(dataDir);
    AtomicBoolean breakDatabase = new AtomicBoolean(true);
    LedgerFollower databaseDiesFirst = new LedgerFollower() {
      @Override
      public String name() {
        return files.name();
      }

      @Override
      public int catchUp() {
        if (breakDatabase.get()) {
          ledgerOutage.down = true;
        }
        return files.catchUp();
      }
    };
    Exporter exporter = exporter(Exporter.Config.of(HOUR, GRACE), lease("me"), databaseDiesFirst);
    clock.set(W0_DUE);

    assertThatThrownBy(exporter::runOnce).isInstanceOf(BillingStoreException.class);
    assertThat(errors("jdbc")).isEqualTo(1);
    assertThat(errors("jsonl")).isZero();
    assertThat(status().cause()).isEqualTo(TaskHealth.Cause.DEPENDENCY);
    assertThat(health.ready()).as("a database outage must not take the instance out of rotation").isTrue();

    breakDatabase.set(false);
    ledgerOutage.down = false;
    clock.advance(Duration.ofSeconds(10));
    exporter.runOnce();
    assertThat(jsonlIds(dataDir)).hasSize(3);
    assertThat(status().state()).isEqualTo(TaskHealth.State.OK);
  }

  @Test
  void startedExporter_keepsRunningAfterFailedRuns_andCatchesUp() {
    applyW0Usage();
    clock.set(W0_DUE);
    ledgerOutage.down = true;
    Exporter.Config fast = new Exporter.Config(HOUR, GRACE, Duration.ofMillis(50), Duration.ofDays(7), 2000,
        Duration.ofMillis(200));
    exporter(fast, lease("me")).start();

    await().atMost(10, TimeUnit.SECONDS).until(() -> errors("jdbc") >= 3);
    assertThat(status().state()).isEqualTo(TaskHealth.State.FAILING);

    ledgerOutage.down = false;
    await().atMost(10, TimeUnit.SECONDS).until(() -> status().state() == TaskHealth.State.OK);
    assertW0ExportedExactly(records());
    assertThat(records()).hasSize(3);
  }

  @Test
  void runLongerThanTheStallDeadline_thatMakesProgress_neverCountsAsStalled() {
    for (int i = 0; i < 8; i++) {
      apply("b-" + i, new Sub("sub-" + i, "sku-call", false).at(at("10:0" + i), 1, 0, 0, 0));
    }
    // stalled after 3 x 10 s + 60 s + 60 s without a report
    Exporter exporter = exporter(Exporter.Config.of(HOUR, GRACE).withChunk(1), lease("me"));
    clock.set(W0_DUE.minusSeconds(10));
    exporter.runOnce();
    clock.set(W0_DUE);
    List<TaskHealth.State> seen = new ArrayList<>();
    source.beforeMinutes = () -> { // each subscription's chunk takes a minute: 8 in all
      clock.advance(Duration.ofMinutes(1));
      seen.add(status().state());
    };

    assertThat(exporter.runOnce().usageRecords()).isEqualTo(8);
    assertThat(seen).hasSize(8).containsOnly(TaskHealth.State.OK);
    assertThat(health.ready()).isTrue();
  }

  // ================================================================== 5. lag

  @Test
  void lag_isZeroWhileNothingIsDue_growsWhileADueWindowWaits_andIsZeroAfterARun() {
    Exporter exporter = exporter();
    assertThat(lag()).isZero();
    applyW0Usage();
    exporter.runOnce();
    assertThat(lag()).isZero();

    clock.set(W0_DUE.minusMillis(1));
    assertThat(lag()).isZero();
    clock.set(W0_DUE);
    assertThat(lag()).as("seconds since W0 ended").isEqualTo(120);
    clock.advance(Duration.ofSeconds(30));
    assertThat(lag()).isEqualTo(150);

    exporter.runOnce();
    assertThat(lag()).isZero();
    clock.advance(Duration.ofMinutes(10));
    assertThat(lag()).isZero();
  }

  @Test
  void lag_beforeTheFirstRun_growsOnceAWindowIsDue() {
    applyW0Usage();
    Exporter exporter = exporter();
    assertThat(lag()).isZero();

    clock.set(W0_DUE.plusSeconds(60));
    assertThat(lag()).as("W0 fell due after the exporter was made, and no run covered it").isEqualTo(180);
    exporter.runOnce();
    assertThat(lag()).isZero();
  }

  // ================================================================== 6. lease

  @Test
  void leaseHeldByAnotherHolder_doesNothing_staysHealthy_andShowsTheLag() {
    applyW0Usage();
    ExportLease other = lease("other");
    assertThat(other.tryAcquire()).isTrue();
    Exporter exporter = exporter();
    clock.set(W0_DUE);

    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(false, 0, 0, 0, 0));
    assertThat(exporter.runOnce().leaseHeld()).isFalse();
    assertThat(records()).isEmpty();
    assertThat(source.touched(W0.start())).as("marks left for the holder").hasSize(3);
    assertThat(status().state()).isEqualTo(TaskHealth.State.OK);
    assertThat(health.ready()).isTrue();
    assertThat(lag()).as("W0 is due and nobody exported it").isEqualTo(120);
    clock.advance(Duration.ofSeconds(60));
    assertThat(lag()).isEqualTo(180);

    other.close();
    assertThat(exporter.runOnce()).isEqualTo(new Exporter.Summary(true, 1, 0, 3, 0));
    assertThat(lag()).isZero();
    assertW0ExportedExactly(records());
  }

  @Test
  void leaseHeldByAnotherHolderThatExports_lagStaysZero() {
    applyW0Usage();
    Exporter holder = otherInstance(Exporter.Config.of(HOUR, GRACE), lease("other"));
    Exporter follower = exporter();
    clock.set(W0_DUE);

    assertThat(holder.runOnce().usageRecords()).isEqualTo(3);
    assertThat(follower.runOnce().leaseHeld()).isFalse();
    assertThat(lag()).as("the other holder exported W0").isZero();
  }

  // ================================================================== 7. two exporters at once

  @Test
  void twoExportersAtOnce_overManyWindows_exportEveryCallExactlyOnce() throws Exception {
    Duration minute = Duration.ofMinutes(1);
    useWindow(minute);
    clock.set(T0);
    Exporter.Config config = new Exporter.Config(minute, Duration.ofSeconds(5), Duration.ofSeconds(10),
        Duration.ofHours(2), 3, Duration.ofSeconds(1));
    Path dirA = dataDir.resolve("a");
    Path dirB = dataDir.resolve("b");
    // Both hold the lease: a lease that expired under a slow run lets two export at once.
    Exporter[] both = {
      otherInstance(config, ExportPricingProperties.alwaysHeld(), jsonl(dirA)),
      otherInstance(config, ExportPricingProperties.alwaysHeld(), jsonl(dirB)),
    };
    List<Sub> subs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      subs.add(new Sub("sub-" + i, i % 2 == 0 ? "sku-call" : "sku-tok", false));
    }
    Map<String, UsageCounts> used = new HashMap<>();
    Map<String, BigDecimal> owed = new HashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    AtomicInteger[] runs = {new AtomicInteger(), new AtomicInteger()};
    AtomicInteger[] written = {new AtomicInteger(), new AtomicInteger()};
    List<Thread> threads = new ArrayList<>();
    for (int e = 0; e < 2; e++) {
      Exporter exporter = both[e];
      AtomicInteger count = runs[e];
      AtomicInteger wrote = written[e];
      Thread t = new Thread(() -> {
        while (!stop.get()) {
          try {
            wrote.addAndGet(exporter.runOnce().records());
          } catch (RuntimeException | Error failure) {
            failures.add(failure);
          }
          count.incrementAndGet();
        }
      }, "exporter-" + e);
      threads.add(t);
      t.start();
    }
    Random random = new Random(7);
    List<UsageBatch> applied = new ArrayList<>();
    int rounds = 40;
    try {
      for (int round = 0; round < rounds; round++) {
        Instant now = T0.plus(minute.multipliedBy(round));
        for (int b = 0; b < 3; b++) {
          List<UsageCell> cells = new ArrayList<>();
          Set<String> inBatch = new HashSet<>();
          for (int c = 0; c < 4; c++) {
            Sub s = subs.get(random.nextInt(subs.size()));
            // mostly the current minute; sometimes late, for a window that may be exported already
            boolean late = round >= 3 && random.nextInt(4) == 0;
            Instant m = late ? now.minus(minute.multipliedBy(1 + random.nextInt(3))) : now;
            if (!inBatch.add(s.id() + m)) {
              continue;
            }
            UsageCell cell = s.at(m, 1 + random.nextInt(5), 100 + random.nextInt(900), random.nextInt(100),
                random.nextInt(500));
            cells.add(cell);
            used.merge(s.id(), cell.counts(), UsageCounts::plus);
            owed.merge(s.id(), price(s, m, cell.counts()), BigDecimal::add);
          }
          UsageBatch batch = new UsageBatch("r" + round + "-b" + b, cells);
          store.apply(List.of(batch));
          applied.add(batch);
        }
        if (random.nextInt(3) == 0) { // a journal replay: applied before, so nothing new
          store.apply(List.of(applied.get(random.nextInt(applied.size()))));
        }
        clock.advance(minute);
        // each exporter starts at least one whole run after this round's usage
        int a = runs[0].get();
        int b = runs[1].get();
        await().atMost(30, TimeUnit.SECONDS).until(() -> runs[0].get() >= a + 2 && runs[1].get() >= b + 2);
      }
    } finally {
      stop.set(true);
      for (Thread t : threads) {
        t.join(30_000);
      }
    }
    assertThat(failures).isEmpty();
    clock.advance(Duration.ofMinutes(10));
    int last = both[0].runOnce().records() + both[1].runOnce().records();
    assertThat(both[0].runOnce().records()).isZero();

    List<UsageRecord> all = records();
    assertThat(written[0].get() + written[1].get() + last).as("records each exporter says it wrote")
        .isEqualTo(all.size());
    assertNoDuplicates(all);
    for (Sub s : subs) {
      assertThat(counts(of(all, s.id()))).as(s.id()).isEqualTo(used.getOrDefault(s.id(), UsageCounts.ZERO));
      assertThat(amount(of(all, s.id()))).as(s.id())
          .isEqualTo(Pricing.plain(owed.getOrDefault(s.id(), BigDecimal.ZERO)));
    }
    assertThat(all.stream().filter(r -> r.kind() == RecordKind.ADJUSTMENT)).as("late usage was exported late")
        .isNotEmpty();
    List<String> ids = all.stream().map(UsageRecord::id).toList();
    assertThat(jsonlIds(dirA)).containsExactlyInAnyOrderElementsOf(ids);
    assertThat(jsonlIds(dirB)).containsExactlyInAnyOrderElementsOf(ids);
  }

  /** The price of a minute's usage, computed here from the price table above. */
  static BigDecimal price(Sub s, Instant minute, UsageCounts c) {
    if (s.sku().equals("sku-call")) {
      return new BigDecimal("0.002").multiply(BigDecimal.valueOf(c.calls()));
    }
    boolean second = !minute.isBefore(PRICE_CHANGE);
    BigDecimal input = new BigDecimal(second ? "0.30" : "0.15");
    BigDecimal cached = new BigDecimal(second ? "0.10" : "0.075");
    BigDecimal output = new BigDecimal(second ? "1.20" : "0.60");
    return input.multiply(BigDecimal.valueOf(c.inputTokens() - c.cachedInputTokens()))
        .add(cached.multiply(BigDecimal.valueOf(c.cachedInputTokens())))
        .add(output.multiply(BigDecimal.valueOf(c.outputTokens())))
        .divide(BigDecimal.valueOf(1_000_000));
  }
}
