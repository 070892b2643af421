package io.tollgate.metering.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import javax.sql.DataSource;

/**
 * {@link MeterStore} over plain JDBC: H2 2.x (the embedded default) and PostgreSQL.
 *
 * <p>Exactly-once: a batch's id is inserted into {@code <prefix>applied_batch} (primary key) in
 * the same transaction as its counter upserts. A second apply of the id hits the primary key and
 * rolls back; two concurrent applies of one id serialise on the key's lock, and the loser sees the
 * violation. A transaction that fails on a cell race (two batches inserting the same new cell on
 * H2, whose MERGE is not race-free) is retried whole, which is safe for the same reason.
 *
 * <p>Applied ids are kept forever unless the operator calls {@link #forgetAppliedBefore}: a row
 * is ~100 bytes and a gateway writes at most 5 per second per stripe, and keeping them makes a
 * journal replay after any downtime exact.
 *
 * <p>Export marks ({@link ExportSource}): {@code <prefix>touched} holds one row per (export window,
 * subscription, SKU) that an applied batch touched, upserted in the same transaction as the cells
 * and only when the batch is really applied, so a mark and its usage commit together. Every upsert
 * sets {@code version} to a fresh value of the sequence {@code <prefix>touched_version}: a value
 * no mark ever had, so a clear that compares versions can never mistake a mark re-created after
 * another exporter cleared it for the one it read (a per-row counter would restart at 1). Marks
 * are locked in one order, (window, subscription, SKU), by applies (after their cells) and by
 * clears, so neither adds a lock cycle.
 *
 * <p>{@link #migrate()} creates the tables with the Flyway migrations of {@link MeterSchema}.
 */
public final class JdbcMeterStore implements MeterStore, ExportSource {

  private static final int MAX_ATTEMPTS = 5;
  /** Subscriptions per minutes query and marks per clear transaction. */
  private static final int CHUNK = 500;

  private final DataSource dataSource;
  private final String tablePrefix;
  private final String cells;
  private final String applied;
  private final String touched;
  private final String touchedVersion;
  private final Clock clock;
  private final Duration exportWindow;
  private final long windowMillis;
  private volatile Boolean postgres;

  /**
   * @param tablePrefix lower-case letters, digits and underscores, e.g. {@code tg_} (the default
   *     of {@link #JdbcMeterStore(DataSource)})
   */
  public JdbcMeterStore(DataSource dataSource, String tablePrefix, Clock clock) {
    this(dataSource, tablePrefix, clock, ExportWindows.DEFAULT);
  }

  private JdbcMeterStore(DataSource dataSource, String tablePrefix, Clock clock, Duration exportWindow) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tablePrefix = MeterSchema.checkPrefix(tablePrefix);
    this.cells = tablePrefix + "usage_minute";
    this.applied = tablePrefix + "applied_batch";
    this.touched = tablePrefix + "touched";
    this.touchedVersion = tablePrefix + "touched_version";
    this.clock = Objects.requireNonNull(clock, "clock");
    this.exportWindow = ExportWindows.check(exportWindow);
    this.windowMillis = exportWindow.toMillis();
  }

  public JdbcMeterStore(DataSource dataSource) {
    this(dataSource, MeterSchema.DEFAULT_PREFIX, Clock.systemUTC());
  }

  /**
   * The same store with export windows of {@code window}: whole minutes from 1 minute to 7 days,
   * aligned to the epoch. Defaults to 1 hour. Every instance writing to the same tables must use
   * the same window.
   */
  public JdbcMeterStore withExportWindow(Duration window) {
    return new JdbcMeterStore(dataSource, tablePrefix, clock, window);
  }

  /**
   * Creates or upgrades this store's tables, and every other metering table under its prefix, with
   * {@link MeterSchema#migrate}. Idempotent.
   *
   * @throws MeterStoreException if the database cannot be migrated
   */
  public JdbcMeterStore migrate() {
    MeterSchema.migrate(dataSource, tablePrefix);
    return this;
  }

  @Override
  public void apply(List<UsageBatch> batches) {
    for (UsageBatch batch : batches) {
      applyOne(batch);
    }
  }

  private void applyOne(UsageBatch batch) {
    SQLException last = null;
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try (Connection c = dataSource.getConnection()) {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
          if (markApplied(c, batch.id())) {
            upsertCells(c, batch.cells());
            markTouched(c, batch.cells());
          }
          c.commit();
          return;
        } catch (SQLException e) {
          // A lost connection (the database crashed) fails the rollback too, and the pool has
          // closed it by then: keep the first failure as the cause, not "Connection is closed".
          try {
            c.rollback();
          } catch (SQLException rollbackFailure) {
            e.addSuppressed(rollbackFailure);
            throw e;
          }
          if (!isRace(e)) {
            throw e;
          }
          last = e;
        } finally {
          if (!c.isClosed()) {
            c.setAutoCommit(autoCommit);
          }
        }
      } catch (SQLException e) {
        throw new MeterStoreException("cannot apply batch " + batch.id() + ": " + e.getMessage(), e);
      }
    }
    throw new MeterStoreException("batch " + batch.id() + " kept racing; giving up for now", last);
  }

  /** False when the batch was applied before; its insert then rolled back with the transaction. */
  private boolean markApplied(Connection c, String batchId) throws SQLException {
    String sql =
        isPostgres(c)
            ? "INSERT INTO " + applied + " (batch_id, applied_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
            : "INSERT INTO " + applied + " (batch_id, applied_at) SELECT ?, ? FROM (VALUES (1)) v"
                + " WHERE NOT EXISTS (SELECT 1 FROM " + applied + " WHERE batch_id = ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, batchId);
      ps.setLong(2, clock.millis());
      if (!isPostgres(c)) {
        ps.setString(3, batchId);
      }
      return ps.executeUpdate() == 1;
    }
  }

  private void upsertCells(Connection c, List<UsageCell> batchCells) throws SQLException {
    String sql =
        isPostgres(c)
            ? "INSERT INTO " + cells + " (subscription_id, sku_id, minute_start, product_id,"
                + " merchant_id, buyer_id, test, calls, input_tokens, cached_input_tokens,"
                + " output_tokens, estimated_tokens) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                + " ON CONFLICT (subscription_id, sku_id, minute_start) DO UPDATE SET"
                + " calls = " + cells + ".calls + EXCLUDED.calls,"
                + " input_tokens = " + cells + ".input_tokens + EXCLUDED.input_tokens,"
                + " cached_input_tokens = " + cells + ".cached_input_tokens + EXCLUDED.cached_input_tokens,"
                + " output_tokens = " + cells + ".output_tokens + EXCLUDED.output_tokens,"
                + " estimated_tokens = " + cells + ".estimated_tokens + EXCLUDED.estimated_tokens"
            : "MERGE INTO " + cells + " t USING (VALUES (CAST(? AS VARCHAR(128)),"
                + " CAST(? AS VARCHAR(128)), CAST(? AS BIGINT), CAST(? AS VARCHAR(128)),"
                + " CAST(? AS VARCHAR(128)), CAST(? AS VARCHAR(128)), CAST(? AS BOOLEAN),"
                + " CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT),"
                + " CAST(? AS BIGINT))) AS s (v_sub, v_sku, v_minute, v_product, v_merchant, v_buyer, v_test,"
                + " v_calls, v_input, v_cached, v_output, v_estimated)"
                + " ON t.subscription_id = s.v_sub AND t.sku_id = s.v_sku AND t.minute_start = s.v_minute"
                + " WHEN MATCHED THEN UPDATE SET calls = t.calls + s.v_calls,"
                + " input_tokens = t.input_tokens + s.v_input,"
                + " cached_input_tokens = t.cached_input_tokens + s.v_cached,"
                + " output_tokens = t.output_tokens + s.v_output,"
                + " estimated_tokens = t.estimated_tokens + s.v_estimated"
                + " WHEN NOT MATCHED THEN INSERT (subscription_id, sku_id, minute_start, product_id,"
                + " merchant_id, buyer_id, test, calls, input_tokens, cached_input_tokens,"
                + " output_tokens, estimated_tokens) VALUES (s.v_sub, s.v_sku, s.v_minute, s.v_product,"
                + " s.v_merchant, s.v_buyer, s.v_test, s.v_calls, s.v_input, s.v_cached, s.v_output, s.v_estimated)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (UsageCell cell : batchCells) {
        UsageCounts n = cell.counts();
        ps.setString(1, cell.subscriptionId());
        ps.setString(2, cell.skuId());
        ps.setLong(3, cell.minuteStart());
        ps.setString(4, cell.productId());
        ps.setString(5, cell.merchantId());
        ps.setString(6, cell.buyerId());
        ps.setBoolean(7, cell.test());
        ps.setLong(8, n.calls());
        ps.setLong(9, n.inputTokens());
        ps.setLong(10, n.cachedInputTokens());
        ps.setLong(11, n.outputTokens());
        ps.setLong(12, n.estimatedTokens());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** Upserts the batch's marks with fresh versions, in key order (see the class comment). */
  private void markTouched(Connection c, List<UsageCell> batchCells) throws SQLException {
    TreeMap<MarkKey, UsageCell> marks = new TreeMap<>();
    for (UsageCell cell : batchCells) {
      marks.putIfAbsent(
          new MarkKey(ExportWindows.start(cell.minuteStart(), windowMillis), cell.subscriptionId(),
              cell.skuId()),
          cell);
    }
    if (marks.isEmpty()) {
      return;
    }
    String sql =
        isPostgres(c)
            ? "INSERT INTO " + touched + " (window_start, subscription_id, sku_id, product_id,"
                + " merchant_id, buyer_id, test, version) VALUES (?,?,?,?,?,?,?, nextval('"
                + touchedVersion + "')) ON CONFLICT (window_start, subscription_id, sku_id)"
                + " DO UPDATE SET version = EXCLUDED.version"
            : "MERGE INTO " + touched + " t USING (VALUES (CAST(? AS BIGINT), CAST(? AS VARCHAR(128)),"
                + " CAST(? AS VARCHAR(128)), CAST(? AS VARCHAR(128)), CAST(? AS VARCHAR(128)),"
                + " CAST(? AS VARCHAR(128)), CAST(? AS BOOLEAN), NEXT VALUE FOR " + touchedVersion
                + ")) AS s (v_window, v_sub, v_sku, v_product, v_merchant, v_buyer, v_test, v_version)"
                + " ON t.window_start = s.v_window AND t.subscription_id = s.v_sub AND t.sku_id = s.v_sku"
                + " WHEN MATCHED THEN UPDATE SET version = s.v_version"
                + " WHEN NOT MATCHED THEN INSERT (window_start, subscription_id, sku_id, product_id,"
                + " merchant_id, buyer_id, test, version) VALUES (s.v_window, s.v_sub, s.v_sku,"
                + " s.v_product, s.v_merchant, s.v_buyer, s.v_test, s.v_version)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Map.Entry<MarkKey, UsageCell> mark : marks.entrySet()) {
        UsageCell cell = mark.getValue();
        ps.setLong(1, mark.getKey().windowStart());
        ps.setString(2, cell.subscriptionId());
        ps.setString(3, cell.skuId());
        ps.setString(4, cell.productId());
        ps.setString(5, cell.merchantId());
        ps.setString(6, cell.buyerId());
        ps.setBoolean(7, cell.test());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private record MarkKey(long windowStart, String subscriptionId, String skuId)
      implements Comparable<MarkKey> {

    @Override
    public int compareTo(MarkKey o) {
      int c = Long.compare(windowStart, o.windowStart);
      if (c == 0) {
        c = subscriptionId.compareTo(o.subscriptionId);
      }
      return c != 0 ? c : skuId.compareTo(o.skuId);
    }
  }

  @Override
  public Duration exportWindow() {
    return exportWindow;
  }

  @Override
  public List<Instant> touchedWindows(Instant from, Instant to) {
    // One index probe per marked window (a loose index scan), not a scan of every mark.
    String sql =
        "SELECT window_start FROM " + touched + " WHERE window_start >= ? AND window_start < ?"
            + " ORDER BY window_start FETCH FIRST 1 ROWS ONLY";
    List<Instant> windows = new ArrayList<>();
    long end = ExportWindows.ceilMillis(to);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (long next = ExportWindows.ceilMillis(from); next < end; ) {
        ps.setLong(1, next);
        ps.setLong(2, end);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            break;
          }
          long start = rs.getLong(1);
          windows.add(Instant.ofEpochMilli(start));
          next = start + 1;
        }
      }
    } catch (SQLException e) {
      throw new MeterStoreException("touched windows query failed: " + e.getMessage(), e);
    }
    return windows;
  }

  @Override
  public List<TouchedKey> touched(Instant windowStart) {
    long start = ExportWindows.checkStart(windowStart, windowMillis);
    String sql =
        "SELECT subscription_id, sku_id, product_id, merchant_id, buyer_id, test, version FROM "
            + touched + " WHERE window_start = ? ORDER BY subscription_id, sku_id";
    List<TouchedKey> keys = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, start);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          keys.add(new TouchedKey(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
              rs.getString(5), rs.getBoolean(6), rs.getLong(7)));
        }
      }
    } catch (SQLException e) {
      throw new MeterStoreException("touched query failed: " + e.getMessage(), e);
    }
    return keys;
  }

  @Override
  public Map<String, List<MinuteUsage>> minutes(
      Collection<String> subscriptionIds, Instant from, Instant to) {
    List<String> ids = new ArrayList<>(new LinkedHashSet<>(subscriptionIds));
    Map<String, List<MinuteUsage>> out = new HashMap<>();
    long fromMs = ExportWindows.ceilMillis(from);
    long toMs = ExportWindows.ceilMillis(to);
    if (ids.isEmpty() || toMs <= fromMs) {
      return out;
    }
    try (Connection c = dataSource.getConnection()) {
      boolean postgres = isPostgres(c);
      for (int i = 0; i < ids.size(); i += CHUNK) {
        List<String> chunk = ids.subList(i, Math.min(ids.size(), i + CHUNK));
        try (PreparedStatement ps = c.prepareStatement(postgres ? minutesInList(chunk.size()) : minutesJoined())) {
          int p = 1;
          if (postgres) {
            for (String id : chunk) {
              ps.setString(p++, id);
            }
          } else {
            ps.setArray(p++, c.createArrayOf("VARCHAR", chunk.toArray()));
          }
          ps.setLong(p++, fromMs);
          ps.setLong(p, toMs);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              UsageCounts n =
                  new UsageCounts(rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7));
              if (!n.isZero()) {
                out.computeIfAbsent(rs.getString(1), id -> new ArrayList<>())
                    .add(new MinuteUsage(rs.getLong(2), n));
              }
            }
          }
        }
      }
    } catch (SQLException e) {
      throw new MeterStoreException("minutes query failed: " + e.getMessage(), e);
    }
    return out;
  }

  /** PostgreSQL: one index scan for the whole list. */
  private String minutesInList(int ids) {
    return "SELECT subscription_id, minute_start, SUM(calls), SUM(input_tokens),"
        + " SUM(cached_input_tokens), SUM(output_tokens), SUM(estimated_tokens) FROM " + cells
        + " WHERE subscription_id IN (" + "?,".repeat(ids - 1) + "?)"
        + " AND minute_start >= ? AND minute_start < ?"
        + " GROUP BY subscription_id, minute_start ORDER BY subscription_id, minute_start";
  }

  /**
   * H2: the ids as an array joined to the cells, each one index lookup. H2 plans the IN list
   * together with the minute range as a scan of the whole table that checks every row against
   * the list: a full scan per 500 ids, so reading one window grew with the square of its
   * subscriptions and with the table's history (20,000 subscriptions of 5 minutes: 25-35 s; joined,
   * 100,000 take 1.3-3.4 s, {@code ExportSourceLoadTest}). PostgreSQL reads the list well and a
   * little faster (1.9 s against 2.8 s for 100,000).
   */
  private String minutesJoined() {
    return "SELECT t.subscription_id, t.minute_start, SUM(t.calls), SUM(t.input_tokens),"
        + " SUM(t.cached_input_tokens), SUM(t.output_tokens), SUM(t.estimated_tokens)"
        + " FROM UNNEST(CAST(? AS VARCHAR ARRAY)) AS k(id) JOIN " + cells
        + " t ON t.subscription_id = k.id WHERE t.minute_start >= ? AND t.minute_start < ?"
        + " GROUP BY t.subscription_id, t.minute_start ORDER BY t.subscription_id, t.minute_start";
  }

  @Override
  public void clearTouched(Instant windowStart, List<TouchedKey> seen) {
    long start = ExportWindows.checkStart(windowStart, windowMillis);
    if (seen.isEmpty()) {
      return;
    }
    // A mark whose version moved since it was read (an apply committed in between, or is
    // committing: the delete waits for its row lock and re-checks) is not deleted.
    List<TouchedKey> sorted = seen.stream().sorted(ExportWindows.KEY_ORDER).toList();
    String sql =
        "DELETE FROM " + touched
            + " WHERE window_start = ? AND subscription_id = ? AND sku_id = ? AND version = ?";
    try (Connection c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (int i = 0; i < sorted.size(); i++) {
          TouchedKey key = sorted.get(i);
          ps.setLong(1, start);
          ps.setString(2, key.subscriptionId());
          ps.setString(3, key.skuId());
          ps.setLong(4, key.version());
          ps.addBatch();
          if ((i + 1) % CHUNK == 0 || i == sorted.size() - 1) {
            ps.executeBatch();
            c.commit();
          }
        }
      } catch (SQLException e) {
        try {
          c.rollback();
        } catch (SQLException rollbackFailure) {
          e.addSuppressed(rollbackFailure);
        }
        throw e;
      } finally {
        if (!c.isClosed()) {
          c.setAutoCommit(autoCommit);
        }
      }
    } catch (SQLException e) {
      throw new MeterStoreException("cannot clear marks of window " + windowStart + ": " + e.getMessage(), e);
    }
  }

  @Override
  public List<UsageBucket> usage(
      UsageSelector selector, Instant from, Instant to, Granularity granularity) {
    String column =
        switch (selector.dimension()) {
          case SUBSCRIPTION -> "subscription_id";
          case SKU -> "sku_id";
          case PRODUCT -> "product_id";
          case MERCHANT -> "merchant_id";
        };
    String sql =
        "SELECT minute_start, SUM(calls), SUM(input_tokens), SUM(cached_input_tokens),"
            + " SUM(output_tokens), SUM(estimated_tokens) FROM " + cells + " WHERE " + column
            + " = ? AND minute_start >= ? AND minute_start < ? GROUP BY minute_start";
    Map<Long, UsageCounts> perMinute = new HashMap<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, selector.id());
      ps.setLong(2, from.toEpochMilli());
      ps.setLong(3, to.toEpochMilli());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          perMinute.put(
              rs.getLong(1),
              new UsageCounts(rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6)));
        }
      }
    } catch (SQLException e) {
      throw new MeterStoreException("usage query failed: " + e.getMessage(), e);
    }
    return MeterStore.buckets(perMinute, granularity);
  }

  /** Deletes applied-batch ids older than {@code cutoff}; replays of older journals then count. */
  public int forgetAppliedBefore(Instant cutoff) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("DELETE FROM " + applied + " WHERE applied_at < ?")) {
      ps.setLong(1, cutoff.toEpochMilli());
      return ps.executeUpdate();
    } catch (SQLException e) {
      throw new MeterStoreException("cannot prune applied batch ids: " + e.getMessage(), e);
    }
  }

  private boolean isPostgres(Connection c) throws SQLException {
    Boolean pg = postgres;
    if (pg == null) {
      pg = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT).contains("postgres");
      postgres = pg;
    }
    return pg;
  }

  /** Unique violation (a concurrent insert of the same new cell) or serialization failure. */
  private static boolean isRace(SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s
          && ("23505".equals(s.getSQLState()) || "40001".equals(s.getSQLState()))) {
        return true;
      }
    }
    return false;
  }
}
