package io.tollgate.billing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.tollgate.metering.store.MeterSchema;
import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code usage_records} table (PostgreSQL, or H2 embedded): the ledger of every exported
 * record, the JDBC sink, and what the pull API and the JSONL files read.
 *
 * <ul>
 *   <li>Every writer of records ({@link #commitWindow}, {@link #commitPurchases}) takes the same
 *       lock (a counter row, {@code SELECT ... FOR UPDATE}) for its whole transaction and numbers
 *       its records from that counter: records are committed in {@code seq} order, so a reader
 *       that pages by {@code seq} never skips one committed late. (Without the lock, a writer that
 *       took seq 5 and committed after another's seq 6 was read would be behind that reader's
 *       cursor for good.) Readers take no lock: every commit they see has all smaller seqs
 *       committed before it.
 *   <li>Records are inserted by id and never updated; inserting an id that exists with other
 *       content is an error (two writers disagreed), never an overwrite; with the same content it
 *       is a no-op.
 *   <li>Tables are created by Flyway ({@code classpath:db/billing}, history table {@code
 *       billing_schema_history}), on H2 and PostgreSQL alike.
 *   <li>Nothing slow runs under the lock: purchases are priced before it is taken.
 * </ul>
 *
 * <p>Amounts are held without trailing zeros ({@code 0.00015}, not {@code 0.000150}), so a record
 * read back equals the one written. All methods block; call them off event loops.
 */
public final class RecordLedger {

  private static final Logger log = LoggerFactory.getLogger(RecordLedger.class);

  /** How many ids one existence check asks for, and how many rows one insert batch sends. */
  private static final int CHUNK = 500;

  static final String COLUMNS = "id, subscription_id, buyer_id, merchant_id, product_id, sku_id,"
      + " window_start, window_end, calls, input_tokens, cached_input_tokens, output_tokens,"
      + " estimated_tokens, billing_mode, amount, currency, test, kind, revision, exported_at";

  private static final String LOCK = "SELECT next_seq FROM billing_counter WHERE name = 'usage_records' FOR UPDATE";

  private final DataSource dataSource;
  private final Clock clock;
  private final Counter regressions;

  /** A ledger that stamps records with the system clock and counts into the global registry. */
  public RecordLedger(DataSource dataSource) {
    this(dataSource, Clock.systemUTC(), Metrics.globalRegistry);
  }

  /**
   * @param clock stamps {@code exportedAt}
   * @param registry gets {@code tollgate.export.regressions}: pairs whose usage went down after
   *     it was exported
   */
  public RecordLedger(DataSource dataSource, Clock clock, MeterRegistry registry) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.regressions = Counter.builder("tollgate.export.regressions")
        .description("Times a commit found a (subscription, SKU, window) whose metered usage is below what"
            + " was exported; nothing is exported for it until it catches up")
        .register(registry);
  }

  /**
   * Creates or upgrades the billing tables. Idempotent. On a database that already holds other
   * tables (the catalog's, the meter store's) the billing history starts empty and every billing
   * migration runs.
   */
  public RecordLedger migrate() {
    String decimal;
    try (Connection c = dataSource.getConnection()) {
      String product = c.getMetaData().getDatabaseProductName();
      decimal = switch (product) {
        case "PostgreSQL" -> "NUMERIC";
        case "H2" -> "DECFLOAT";
        default -> throw new BillingStoreException("the billing ledger runs on PostgreSQL or H2, not " + product);
      };
    } catch (SQLException e) {
      throw new BillingStoreException("cannot reach the billing database: " + e.getMessage(), e);
    }
    Flyway flyway = Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/billing")
        .table("billing_schema_history")
        // The schema is shared with the catalog's own Flyway history: not "empty", but ours.
        .baselineOnMigrate(true)
        .baselineVersion("0")
        .placeholders(Map.of("exact_decimal", decimal))
        .load();
    // Instances starting together may race to baseline the history table: retried.
    MeterSchema.migrateRetryingBaselineRace(flyway);
    return this;
  }

  /**
   * Brings the exported records of window {@code w} up to {@code current}, in one transaction:
   * reads what the window's records of each (subscription, SKU) add up to, and writes the
   * difference: a {@link RecordKind#USAGE} record (revision 0) for a pair with none yet, an
   * {@link RecordKind#ADJUSTMENT} (next revision) for a pair whose usage grew. Pairs that did not
   * change get nothing. Returns the records written.
   *
   * <p>A pair whose usage is below what was exported in any field (a meter store that lost data),
   * or whose difference is no valid usage (more cached than input tokens), is skipped whole: it
   * is logged at ERROR and counted in {@code tollgate.export.regressions}, and nothing is written
   * for it. A record is never negative, and a partial difference would carry an amount that is
   * not the price of its quantities; once every field has caught up with what was exported, the
   * next commit exports the exact difference.
   *
   * @throws IllegalArgumentException if {@code current} holds a (subscription, SKU) twice
   */
  public List<UsageRecord> commitWindow(ExportWindow w, Collection<WindowUsage> current) {
    Objects.requireNonNull(w, "w");
    Set<Pair> seen = new HashSet<>();
    for (WindowUsage u : current) {
      if (!seen.add(new Pair(u.subscriptionId(), u.skuId()))) {
        throw new IllegalArgumentException("usage of subscription " + u.subscriptionId() + " SKU "
            + u.skuId() + " is given twice for window " + w.start());
      }
    }
    if (current.isEmpty()) {
      return List.of();
    }
    return inTransaction("commit window " + w.start(), c -> {
      long nextSeq = lock(c);
      Map<Pair, Exported> exported = exported(c, w.start(), seen);
      Instant now = now();
      List<UsageRecord> records = new ArrayList<>();
      for (WindowUsage u : current) {
        UsageRecord r = difference(w, u, exported.get(new Pair(u.subscriptionId(), u.skuId())), now);
        if (r != null) {
          records.add(r);
        }
      }
      return insert(c, nextSeq, records);
    });
  }

  /**
   * Queues a purchase in the caller's transaction on this ledger's database (the catalog's), so a
   * purchase is recorded exactly when its subscription commits. Idempotent: the order is keyed by
   * its record id ({@link RecordIds#purchase}); queuing it again, even after it was recorded,
   * records nothing new. Neither commits nor changes the connection's settings.
   *
   * <p>Two transactions queuing the same purchase at once may fail one with a unique violation;
   * the catalog never does, as it holds the subscription's row lock while it creates or renews.
   */
  public static void enqueuePurchase(Connection c, PurchaseOrder order) {
    String id = RecordIds.purchase(order.subscriptionId(), order.periodStart());
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO billing_purchase_outbox (record_id,"
        + " subscription_id, sku_id, product_id, merchant_id, buyer_id, test, period_start, quantity)"
        + " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? FROM (VALUES (1)) v"
        + " WHERE NOT EXISTS (SELECT 1 FROM billing_purchase_outbox WHERE record_id = ?)")) {
      ps.setString(1, id);
      ps.setString(2, order.subscriptionId());
      ps.setString(3, order.skuId());
      ps.setString(4, order.productId());
      ps.setString(5, order.merchantId());
      ps.setString(6, order.buyerId());
      ps.setBoolean(7, order.test());
      ps.setObject(8, utc(order.periodStart()));
      ps.setLong(9, order.quantity());
      ps.setString(10, id);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw new BillingStoreException("cannot queue purchase " + id + ": " + e.getMessage(), e);
    }
  }

  /**
   * Turns queued purchases into records, priced by {@code prices}; returns the records written.
   * Each is priced with {@link Pricing#purchase} at its period start, in the currency of the
   * price in force then, with no calls or tokens, in the export window of length {@code window}
   * that holds its period start. The orders recorded are deleted in the same transaction.
   *
   * <p>Prices are read before the lock is taken (the price book may read the catalog); an order
   * queued in between waits for the next call.
   *
   * @throws BillingStoreException if a purchase was recorded before with other content (the
   *     order stays queued and nothing is written)
   */
  public List<UsageRecord> commitPurchases(PriceBook prices, Duration window) {
    Map<String, SkuTerms> terms = new HashMap<>();
    for (PurchaseOrder o : read("read queued purchases", RecordLedger::queued)) {
      terms.computeIfAbsent(o.skuId(), prices::terms);
    }
    if (terms.isEmpty()) {
      return List.of();
    }
    return inTransaction("commit purchases", c -> {
      long nextSeq = lock(c);
      Instant now = now();
      List<UsageRecord> records = new ArrayList<>();
      for (PurchaseOrder o : queued(c)) {
        SkuTerms t = terms.get(o.skuId());
        if (t != null) {
          records.add(purchase(o, t, window, now));
        }
      }
      List<UsageRecord> written = insert(c, nextSeq, records);
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM billing_purchase_outbox WHERE record_id = ?")) {
        for (UsageRecord r : records) { // written ones and those recorded before with this content
          ps.setString(1, r.id());
          ps.addBatch();
        }
        ps.executeBatch();
      }
      return written;
    });
  }

  /**
   * One page of records in export order (the pull API).
   *
   * @throws UnknownRecordException if {@code query.after()} names no record (of the query's
   *     merchant, when it has one)
   */
  public RecordPage page(RecordQuery query) {
    return read("page records", c -> {
      long after = 0;
      if (query.after() != null) {
        after = seqOf(c, query.after(), query.merchantId());
      }
      StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM usage_records WHERE seq > ?");
      List<Object> args = new ArrayList<>(List.of(after));
      filter(sql, args, "merchant_id = ?", query.merchantId());
      filter(sql, args, "subscription_id = ?", query.subscriptionId());
      filter(sql, args, "product_id = ?", query.productId());
      filter(sql, args, "window_start >= ?", query.from() == null ? null : utc(query.from()));
      filter(sql, args, "window_start < ?", query.to() == null ? null : utc(query.to()));
      filter(sql, args, "kind = ?", query.kind() == null ? null : query.kind().wireName());
      sql.append(" ORDER BY seq FETCH FIRST ? ROWS ONLY");
      args.add(query.limit() + 1); // one more than asked tells whether more follow
      List<UsageRecord> records = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
        for (int i = 0; i < args.size(); i++) {
          ps.setObject(i + 1, args.get(i));
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            records.add(record(rs));
          }
        }
      }
      boolean more = records.size() > query.limit();
      return new RecordPage(more ? records.subList(0, query.limit()) : records, more);
    });
  }

  /**
   * The records after {@code afterSeq} in export order, in whole commits: from the first commit
   * after it up to and including the commit of the {@code atLeast}-th record (all of them if
   * there are fewer). Whole commits keep a follower's batches the same whatever commits later.
   */
  List<LedgerEntry> follow(long afterSeq, int atLeast) {
    return read("read records after seq " + afterSeq, c -> {
      long lastCommit = Long.MAX_VALUE;
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT commit_seq FROM usage_records WHERE seq > ? ORDER BY seq OFFSET ? ROWS FETCH NEXT 1 ROWS ONLY")) {
        ps.setLong(1, afterSeq);
        ps.setInt(2, atLeast - 1);
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            lastCommit = rs.getLong(1);
          }
        }
      }
      List<LedgerEntry> entries = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + ", seq, commit_seq FROM usage_records"
          + " WHERE seq > ? AND commit_seq <= ? ORDER BY seq")) {
        ps.setLong(1, afterSeq);
        ps.setLong(2, lastCommit);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            entries.add(new LedgerEntry(rs.getLong(21), rs.getLong(22), record(rs)));
          }
        }
      }
      return entries;
    });
  }

  /** The last seq follower {@code name} has written; 0 before its first. */
  long cursor(String name) {
    return read("read cursor " + name, c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT seq FROM billing_follower WHERE name = ?")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? rs.getLong(1) : 0L;
        }
      }
    });
  }

  /** Moves follower {@code name}'s cursor to {@code seq}; never back. */
  void advanceCursor(String name, long seq) {
    inTransaction("advance cursor " + name, c -> {
      try (PreparedStatement ps = c.prepareStatement("UPDATE billing_follower SET seq = ? WHERE name = ? AND seq < ?")) {
        ps.setLong(1, seq);
        ps.setString(2, name);
        ps.setLong(3, seq);
        if (ps.executeUpdate() == 1) {
          return null;
        }
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO billing_follower (name, seq)"
          + " SELECT ?, ? FROM (VALUES (1)) v WHERE NOT EXISTS (SELECT 1 FROM billing_follower WHERE name = ?)")) {
        ps.setString(1, name);
        ps.setLong(2, seq);
        ps.setString(3, name);
        ps.executeUpdate();
      }
      return null;
    });
  }

  // ------------------------------------------------------------------------------ writing

  /** What a pair's records of one window add up to. */
  private record Exported(UsageCounts counts, BigDecimal amount, int lastRevision) {}

  private record Pair(String subscriptionId, String skuId) {}

  /** Takes the writers' lock; returns the next free seq. */
  private static long lock(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(LOCK);
        ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("billing_counter has no usage_records row: the ledger was not migrated");
      }
      return rs.getLong(1);
    }
  }

  /**
   * What the window's usage records of {@code pairs} add up to, per (subscription, SKU): only
   * theirs, so that a commit costs what it commits. (Summing the whole window made the exporter's
   * chunks quadratic: closing a window of 100,000 subscriptions in chunks of 2,000 spent 24 of its
   * 30 s here, on H2.) The ids are joined as an array, which both databases look up in the window
   * index one by one; H2 plans {@code subscription_id IN (...)} next to another condition on the
   * same index as a scan.
   */
  private static Map<Pair, Exported> exported(Connection c, Instant windowStart, Set<Pair> pairs)
      throws SQLException {
    Map<Pair, Exported> sums = new HashMap<>();
    List<String> ids = pairs.stream().map(Pair::subscriptionId).distinct().toList();
    try (PreparedStatement ps = c.prepareStatement("SELECT r.subscription_id, r.sku_id, SUM(r.calls),"
        + " SUM(r.input_tokens), SUM(r.cached_input_tokens), SUM(r.output_tokens), SUM(r.estimated_tokens),"
        + " SUM(r.amount), MAX(r.revision) FROM UNNEST(CAST(? AS VARCHAR ARRAY)) AS k(id)"
        + " JOIN usage_records r ON r.window_start = ? AND r.subscription_id = k.id WHERE r.kind <> ?"
        + " GROUP BY r.subscription_id, r.sku_id")) {
      for (int from = 0; from < ids.size(); from += CHUNK) {
        ps.setArray(1, c.createArrayOf("VARCHAR", ids.subList(from, Math.min(ids.size(), from + CHUNK)).toArray()));
        ps.setObject(2, utc(windowStart));
        ps.setString(3, RecordKind.PURCHASE.wireName());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            Pair p = new Pair(rs.getString(1), rs.getString(2));
            if (pairs.contains(p)) {
              sums.put(p, new Exported(
                  new UsageCounts(rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7)),
                  rs.getBigDecimal(8), rs.getInt(9)));
            }
          }
        }
      }
    }
    return sums;
  }

  /** The record that brings {@code e} up to {@code u}; null when there is none to write. */
  private UsageRecord difference(ExportWindow w, WindowUsage u, Exported e, Instant now) {
    UsageCounts was = e == null ? UsageCounts.ZERO : e.counts();
    BigDecimal wasAmount = e == null ? BigDecimal.ZERO : e.amount();
    UsageCounts is = u.counts();
    long[] d = {
      is.calls() - was.calls(),
      is.inputTokens() - was.inputTokens(),
      is.cachedInputTokens() - was.cachedInputTokens(),
      is.outputTokens() - was.outputTokens(),
      is.estimatedTokens() - was.estimatedTokens(),
    };
    BigDecimal amount = u.amount().subtract(wasAmount);
    boolean down = amount.signum() < 0 || d[2] > d[1];
    boolean up = amount.signum() > 0;
    for (long x : d) {
      down |= x < 0;
      up |= x > 0;
    }
    if (down) {
      regressions.increment();
      log.error("usage of subscription {} SKU {} in window {} is below what was exported (exported {} amount {},"
              + " now {} amount {}): nothing is exported for it until every field has caught up",
          u.subscriptionId(), u.skuId(), w.start(), was, Pricing.plain(wasAmount), is, Pricing.plain(u.amount()));
      return null;
    }
    if (!up) {
      return null;
    }
    int revision = e == null ? 0 : e.lastRevision() + 1;
    return new UsageRecord(RecordIds.usage(u.subscriptionId(), u.skuId(), w.start(), revision),
        u.subscriptionId(), u.buyerId(), u.merchantId(), u.productId(), u.skuId(), w.start(), w.end(),
        d[0], d[1], d[2], d[3], d[4], u.billingMode(), normal(amount), u.currency(), u.test(),
        e == null ? RecordKind.USAGE : RecordKind.ADJUSTMENT, revision, now);
  }

  private static UsageRecord purchase(PurchaseOrder o, SkuTerms terms, Duration window, Instant now) {
    ExportWindow w = ExportWindow.holding(o.periodStart(), window);
    return new UsageRecord(RecordIds.purchase(o.subscriptionId(), o.periodStart()), o.subscriptionId(),
        o.buyerId(), o.merchantId(), o.productId(), o.skuId(), w.start(), w.end(), /* calls and tokens */ 0, 0, 0, 0, 0,
        terms.mode(), normal(Pricing.purchase(terms, o.test(), o.periodStart(), o.quantity())),
        terms.at(o.periodStart()).currency(), o.test(), RecordKind.PURCHASE, /* revision= */ 0, now);
  }

  private static List<PurchaseOrder> queued(Connection c) throws SQLException {
    List<PurchaseOrder> orders = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT subscription_id, sku_id, product_id, merchant_id,"
        + " buyer_id, test, period_start, quantity FROM billing_purchase_outbox ORDER BY period_start, record_id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        orders.add(new PurchaseOrder(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
            rs.getString(5), rs.getBoolean(6), instant(rs, 7), rs.getLong(8)));
      }
    }
    return orders;
  }

  /**
   * Inserts {@code records} numbered from {@code nextSeq} and moves the counter past them. A
   * record whose id exists with the same content is left out (and returned by no one); with
   * other content it fails the transaction. Returns the records inserted.
   */
  private static List<UsageRecord> insert(Connection c, long nextSeq, List<UsageRecord> records) throws SQLException {
    Map<String, UsageRecord> existing = existing(c, records);
    List<UsageRecord> fresh = new ArrayList<>(records.size());
    for (UsageRecord r : records) {
      UsageRecord old = existing.get(r.id());
      if (old == null) {
        fresh.add(r);
      } else if (!sameContent(old, r)) {
        throw new BillingStoreException("record " + r.id() + " was exported with other content; two writers"
            + " disagree and exported records never change. Exported: " + old + "; now: " + r);
      }
    }
    if (fresh.isEmpty()) {
      return fresh;
    }
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO usage_records (" + COLUMNS + ", seq, commit_seq)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      long seq = nextSeq;
      for (UsageRecord r : fresh) {
        bind(ps, r);
        ps.setLong(21, seq++);
        ps.setLong(22, nextSeq);
        ps.addBatch();
        if ((seq - nextSeq) % CHUNK == 0) {
          ps.executeBatch();
        }
      }
      ps.executeBatch();
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE billing_counter SET next_seq = ? WHERE name = 'usage_records'")) {
      ps.setLong(1, nextSeq + fresh.size());
      ps.executeUpdate();
    }
    return fresh;
  }

  /** The records among {@code records}' ids that exist already. */
  private static Map<String, UsageRecord> existing(Connection c, List<UsageRecord> records) throws SQLException {
    Map<String, UsageRecord> found = new HashMap<>();
    for (int from = 0; from < records.size(); from += CHUNK) {
      List<UsageRecord> chunk = records.subList(from, Math.min(records.size(), from + CHUNK));
      String marks = "?,".repeat(chunk.size());
      try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM usage_records WHERE id IN ("
          + marks.substring(0, marks.length() - 1) + ")")) {
        for (int i = 0; i < chunk.size(); i++) {
          ps.setString(i + 1, chunk.get(i).id());
        }
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            UsageRecord r = record(rs);
            found.put(r.id(), r);
          }
        }
      }
    }
    return found;
  }

  /** Equal in everything but when they were written. */
  static boolean sameContent(UsageRecord a, UsageRecord b) {
    return withoutExportTime(a).equals(withoutExportTime(b));
  }

  private static UsageRecord withoutExportTime(UsageRecord r) {
    return new UsageRecord(r.id(), r.subscriptionId(), r.buyerId(), r.merchantId(), r.productId(), r.skuId(),
        r.windowStart(), r.windowEnd(), r.calls(), r.inputTokens(), r.cachedInputTokens(), r.outputTokens(),
        r.estimatedTokens(), r.billingMode(), normal(r.amount()), r.currency(), r.test(), r.kind(), r.revision(),
        Instant.EPOCH);
  }

  // ------------------------------------------------------------------------------ rows

  private static void bind(PreparedStatement ps, UsageRecord r) throws SQLException {
    ps.setString(1, r.id());
    ps.setString(2, r.subscriptionId());
    ps.setString(3, r.buyerId());
    ps.setString(4, r.merchantId());
    ps.setString(5, r.productId());
    ps.setString(6, r.skuId());
    ps.setObject(7, utc(r.windowStart()));
    ps.setObject(8, utc(r.windowEnd()));
    ps.setLong(9, r.calls());
    ps.setLong(10, r.inputTokens());
    ps.setLong(11, r.cachedInputTokens());
    ps.setLong(12, r.outputTokens());
    ps.setLong(13, r.estimatedTokens());
    ps.setString(14, r.billingMode().name());
    ps.setBigDecimal(15, r.amount());
    ps.setString(16, r.currency());
    ps.setBoolean(17, r.test());
    ps.setString(18, r.kind().wireName());
    ps.setInt(19, r.revision());
    ps.setObject(20, utc(r.exportedAt()));
  }

  /** The record in columns 1..20 ({@link #COLUMNS}). */
  private static UsageRecord record(ResultSet rs) throws SQLException {
    return new UsageRecord(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
        rs.getString(6), instant(rs, 7), instant(rs, 8), rs.getLong(9), rs.getLong(10), rs.getLong(11),
        rs.getLong(12), rs.getLong(13), BillingMode.valueOf(rs.getString(14)), normal(rs.getBigDecimal(15)),
        rs.getString(16), rs.getBoolean(17), RecordKind.parse(rs.getString(18)), rs.getInt(19), instant(rs, 20));
  }

  private static long seqOf(Connection c, String id, String merchantId) throws SQLException {
    String sql = "SELECT seq FROM usage_records WHERE id = ?" + (merchantId == null ? "" : " AND merchant_id = ?");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, id);
      if (merchantId != null) {
        ps.setString(2, merchantId);
      }
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new UnknownRecordException(id);
        }
        return rs.getLong(1);
      }
    }
  }

  private static void filter(StringBuilder sql, List<Object> args, String condition, Object value) {
    if (value != null) {
      sql.append(" AND ").append(condition);
      args.add(value);
    }
  }

  private static OffsetDateTime utc(Instant t) {
    return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
  }

  private static Instant instant(ResultSet rs, int column) throws SQLException {
    return rs.getObject(column, OffsetDateTime.class).toInstant();
  }

  /** No trailing zeros, so that what is read back equals what was written (databases keep scales differently). */
  private static BigDecimal normal(BigDecimal amount) {
    return amount.signum() == 0 ? BigDecimal.ZERO : amount.stripTrailingZeros();
  }

  /** Millisecond precision: both databases keep it, so a record read back equals the one written. */
  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }

  // ------------------------------------------------------------------------------ transactions

  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Runs {@code work} in one READ COMMITTED transaction: after the lock is taken, each statement
   * sees every commit made before it (a stricter level would read a snapshot from before the
   * lock wait, or fail the lock on PostgreSQL).
   */
  private <T> T inTransaction(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      int isolation = c.getTransactionIsolation();
      if (isolation != Connection.TRANSACTION_READ_COMMITTED) {
        c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      }
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException rollbackFailure) {
          e.addSuppressed(rollbackFailure);
        }
        throw e;
      } finally {
        if (!c.isClosed()) {
          c.setAutoCommit(autoCommit);
          if (isolation != Connection.TRANSACTION_READ_COMMITTED) {
            c.setTransactionIsolation(isolation);
          }
        }
      }
    } catch (SQLException e) {
      throw new BillingStoreException("cannot " + what + ": " + e.getMessage(), e);
    }
  }

  private <T> T read(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw new BillingStoreException("cannot " + what + ": " + e.getMessage(), e);
    }
  }
}
