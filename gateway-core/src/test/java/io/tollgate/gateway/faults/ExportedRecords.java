package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.RecordPage;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.BuyerLoad.Totals;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The billing ledger as a billing job reads it ({@link RecordLedger#page}, in export order), and
 * the invariant the export fault tests check: for every subscription, the exported records
 * (usage plus adjustments) add up to its metered usage and to what its buyers received, and the
 * records are well formed (one usage record and consecutive adjustments per subscription, SKU and
 * window; every id once).
 */
final class ExportedRecords {

  private final RecordLedger ledger;

  ExportedRecords(String jdbcUrl, String user) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(jdbcUrl);
    ds.setUser(user);
    this.ledger = new RecordLedger(ds);
  }

  RecordLedger ledger() {
    return ledger;
  }

  /** Every record, in export order, paged as a billing job pages. */
  List<UsageRecord> all() {
    List<UsageRecord> all = new ArrayList<>();
    RecordQuery q = RecordQuery.all(500);
    while (true) {
      RecordPage page = ledger.page(q);
      all.addAll(page.records());
      if (!page.hasMore()) {
        return all;
      }
      q = q.after(page.lastId());
    }
  }

  /** Calls and tokens of the usage and adjustment records of each subscription. */
  static Map<String, Totals> usage(List<UsageRecord> records) {
    Map<String, Totals> sums = new LinkedHashMap<>();
    for (UsageRecord r : records) {
      if (r.kind() != RecordKind.PURCHASE) {
        sums.merge(r.subscriptionId(), new Totals(r.calls(), r.inputTokens(), r.outputTokens()),
            (a, b) -> new Totals(a.calls() + b.calls(), a.inputTokens() + b.inputTokens(),
                a.outputTokens() + b.outputTokens()));
      }
    }
    return sums;
  }

  /**
   * Every id once; per (subscription, SKU, window) exactly one usage record (revision 0) and
   * adjustments numbered 1, 2, ... without a gap; at most one purchase per subscription here.
   */
  static void assertWellFormed(List<UsageRecord> records) {
    Set<String> ids = new HashSet<>();
    Map<String, TreeSet<Integer>> revisions = new HashMap<>();
    Map<String, Integer> purchases = new HashMap<>();
    for (UsageRecord r : records) {
      assertThat(ids.add(r.id())).as("record id %s exported twice", r.id()).isTrue();
      if (r.kind() == RecordKind.PURCHASE) {
        purchases.merge(r.subscriptionId(), 1, Integer::sum);
        continue;
      }
      String key = r.subscriptionId() + "/" + r.skuId() + "/" + r.windowStart();
      assertThat(revisions.computeIfAbsent(key, k -> new TreeSet<>()).add(r.revision()))
          .as("revision %s of %s written twice", r.revision(), key).isTrue();
    }
    revisions.forEach((key, revs) -> assertThat(List.copyOf(revs)).as("revisions of %s", key)
        .isEqualTo(java.util.stream.IntStream.range(0, revs.size()).boxed().toList()));
    assertThat(purchases.values()).as("a package is bought once: one purchase record").allMatch(n -> n == 1);
  }

  /**
   * The invariant: per subscription, exported records = metered usage = what its buyers
   * received. Call once metering has caught up ({@link MeteredUsage#assertEqualsReceived}) and
   * an export after it completed.
   */
  void assertEqualsMeteredAndReceived(AdminClient admin, List<BuyerLoad> loads, List<Buyer> buyers) throws Exception {
    List<UsageRecord> records = all();
    assertWellFormed(records);
    Map<String, Totals> exported = usage(records);
    Map<String, Totals> receivedBy = MeteredUsage.received(loads, buyers);
    for (Buyer b : buyers) {
      Totals received = receivedBy.get(b.subscriptionId());
      assertThat(received.calls()).as("buyers of %s received calls", b.subscriptionId()).isPositive();
      assertThat(admin.metered(b.subscriptionId())).as("metered usage of %s equals what its buyers received",
          b.subscriptionId()).isEqualTo(received);
      assertThat(exported.getOrDefault(b.subscriptionId(), Totals.ZERO))
          .as("exported records of %s (usage + adjustments) equal what its buyers received; records: %s",
              b.subscriptionId(), records.stream().filter(r -> r.subscriptionId().equals(b.subscriptionId())).toList())
          .isEqualTo(received);
    }
  }

  /** The ids in the JSONL files under {@code <dataDir>/billing}, each line once; fails on a repeated id. */
  static List<String> jsonlIds(Path dataDir) throws IOException {
    List<String> ids = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    Path dir = dataDir.resolve("billing");
    if (!Files.isDirectory(dir)) {
      return ids;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".jsonl")).sorted().toList()) {
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
          String id = new JsonObject(line).getString("id");
          assertThat(seen.add(id)).as("record %s written twice to the JSONL files (%s)", id, f.getFileName()).isTrue();
          ids.add(id);
        }
      }
    }
    return ids;
  }

  /** Records exported at {@code --now} {@code at} (their {@code exportedAt}). */
  static List<UsageRecord> exportedAt(List<UsageRecord> records, Instant at) {
    return records.stream().filter(r -> r.exportedAt().equals(at)).toList();
  }
}
