package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.metering.quota.JdbcQuotaPool;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link MeterSchema} on each database the metering tables live on. The reference for "the same
 * schema" is {@link HandWrittenMeterDdl}, run on a fresh database of the same kind: tables,
 * columns (type, size, nullability, order), primary keys, indexes and the sequence are compared
 * as read back through JDBC metadata.
 */
abstract class MeterSchemaContract {

  static final String TG = MeterSchema.DEFAULT_PREFIX;
  static final Instant W10 = Instant.parse("2025-03-01T10:00:00Z");
  static final Instant W12 = Instant.parse("2025-03-01T12:00:00Z");
  static final List<String> TABLES = List.of("applied_batch", "quota_pool", "touched", "usage_minute");

  /** A fresh, empty database (or schema) of this kind; each call a new one. */
  abstract DataSource newDatabase();

  /** Drops what {@link #newDatabase} made. */
  abstract void dropDatabases();

  @AfterEach
  void drop() {
    dropDatabases();
  }

  @Test
  void freshDatabase_getsExactlyTheTablesOfTheHandWrittenDdl() {
    DataSource migrated = newDatabase();
    MeterSchema.migrate(migrated, TG);

    Schema expected = reference(TG);
    assertThat(expected.tables()).as("the reference must hold every metering table").isEqualTo(TABLES);
    assertThat(expected.sequences()).as("the reference must hold the marks' sequence").hasSize(1);
    assertThat(Schema.of(migrated, TG)).isEqualTo(expected);
    assertThat(history(migrated, TG)).containsExactly("1 SQL");
  }

  @Test
  void handWrittenTablesWithRows_migrateKeepingEveryRowAndTheSequence() {
    DataSource db = newDatabase();
    // As in a gateway's database: the catalog's tables and its own Flyway history are there too.
    HandWrittenMeterDdl.execute(db, List.of(
        "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY)",
        "CREATE TABLE products (id VARCHAR(64) PRIMARY KEY)"));
    HandWrittenMeterDdl.create(db, TG);
    JdbcMeterStore before = new JdbcMeterStore(db, TG, Clock.systemUTC());
    before.apply(List.of(batch("b1", "s1", "2025-03-01T10:15:00Z", 2), batch("b2", "s2", "2025-03-01T11:15:00Z", 1)));
    JdbcQuotaPool poolBefore = new JdbcQuotaPool(db, TG);
    poolBefore.restore("s1", "2025-03", 100);
    assertThat(poolBefore.take("s1", "2025-03", 30)).isEqualTo(30);
    List<TouchedKey> marksBefore = before.touched(W10);
    long lastVersion = maxVersion(before);

    JdbcMeterStore store = new JdbcMeterStore(db, TG, Clock.systemUTC()).migrate();
    JdbcQuotaPool pool = new JdbcQuotaPool(db, TG).migrate();

    assertThat(history(db, TG)).as("baselined at 0, then V1").containsExactly("0 BASELINE", "1 SQL");
    assertThat(Schema.of(db, TG)).isEqualTo(reference(TG));
    assertThat(store.totals("s1", W10, W12).calls()).isEqualTo(2);
    assertThat(store.touchedWindows(W10, W12)).containsExactly(W10, W10.plusSeconds(3600));
    assertThat(store.touched(W10)).as("marks keep their versions").isEqualTo(marksBefore);
    assertThat(pool.remaining("s1", "2025-03")).isEqualTo(70);
    store.apply(List.of(batch("b1", "s1", "2025-03-01T10:15:00Z", 2)));
    assertThat(store.totals("s1", W10, W12).calls())
        .as("applied batch ids survive the migration: a replay counts once")
        .isEqualTo(2);
    store.apply(List.of(batch("b3", "s3", "2025-03-01T10:20:00Z", 1)));
    assertThat(maxVersion(store))
        .as("the sequence goes on from where it was, so no mark version repeats")
        .isGreaterThan(lastVersion);
  }

  @Test
  void handWrittenTablesFromBeforeTheExportMarks_gainTheMarks() {
    DataSource db = newDatabase();
    HandWrittenMeterDdl.createBeforeExportMarks(db, TG);
    // what a store of that version wrote: cells and the batch id, no marks
    HandWrittenMeterDdl.execute(db, List.of(
        "INSERT INTO tg_usage_minute VALUES ('s1', 'k1', " + W10.plusSeconds(900).toEpochMilli()
            + ", 'p1', 'm1', 'b', FALSE, 4, 40, 0, 4, 0)",
        "INSERT INTO tg_applied_batch VALUES ('b1', 0)"));

    JdbcMeterStore store = new JdbcMeterStore(db, TG, Clock.systemUTC()).migrate();

    assertThat(Schema.of(db, TG)).isEqualTo(reference(TG));
    assertThat(store.totals("s1", W10, W12).calls()).isEqualTo(4);
    store.apply(List.of(batch("b1", "s1", "2025-03-01T10:15:00Z", 4), batch("b2", "s2", "2025-03-01T10:15:00Z", 1)));
    assertThat(store.totals("s1", W10, W12).calls()).as("b1 was applied before").isEqualTo(4);
    assertThat(store.touched(W10)).extracting(TouchedKey::subscriptionId).containsExactly("s2");
  }

  @Test
  void migrateAgain_isANoOpThatKeepsTheRows() {
    DataSource db = newDatabase();
    JdbcMeterStore store = new JdbcMeterStore(db, TG, Clock.systemUTC()).migrate();
    store.apply(List.of(batch("b1", "s1", "2025-03-01T10:15:00Z", 3)));

    store.migrate();
    new JdbcQuotaPool(db, TG).migrate();
    MeterSchema.migrate(db, TG);

    assertThat(history(db, TG)).containsExactly("1 SQL");
    assertThat(store.totals("s1", W10, W12).calls()).isEqualTo(3);
    assertThat(Schema.of(db, TG)).isEqualTo(reference(TG));
  }

  @Test
  void twoPrefixes_sideBySide_haveTheirOwnTablesAndHistory() {
    DataSource db = newDatabase();
    JdbcMeterStore first = new JdbcMeterStore(db, "tg_", Clock.systemUTC()).migrate();
    JdbcMeterStore second = new JdbcMeterStore(db, "t2_", Clock.systemUTC()).migrate();
    JdbcQuotaPool firstPool = new JdbcQuotaPool(db, "tg_").migrate();
    JdbcQuotaPool secondPool = new JdbcQuotaPool(db, "t2_").migrate();

    assertThat(Schema.of(db, "tg_")).isEqualTo(reference("tg_"));
    assertThat(Schema.of(db, "t2_")).isEqualTo(reference("t2_"));
    assertThat(history(db, "tg_")).containsExactly("1 SQL");
    assertThat(history(db, "t2_"))
        .as("the second prefix is not \"empty\" (the first's tables are there): baselined, then V1")
        .containsExactly("0 BASELINE", "1 SQL");
    first.apply(List.of(batch("b1", "s1", "2025-03-01T10:15:00Z", 5)));
    firstPool.restore("s1", "p", 10);
    assertThat(second.totals("s1", W10, W12).calls()).isZero();
    assertThat(second.touchedWindows(W10, W12)).isEmpty();
    assertThat(secondPool.remaining("s1", "p")).isEqualTo(-1);
    assertThat(first.totals("s1", W10, W12).calls()).isEqualTo(5);
  }

  @Test
  void instancesStartingTogether_migrateOnce() throws Exception {
    DataSource db = newDatabase();
    int instances = 4;
    CyclicBarrier start = new CyclicBarrier(instances);
    ExecutorService threads = Executors.newFixedThreadPool(instances);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < instances; i++) {
        done.add(threads.submit(() -> {
          start.await();
          return new JdbcMeterStore(db, TG, Clock.systemUTC()).migrate();
        }));
      }
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }

    assertThat(history(db, TG))
        .as("V1 ran once, and nothing failed (a baseline row depends on who came first)")
        .filteredOn(row -> row.startsWith("1 ") || row.endsWith("failed"))
        .containsExactly("1 SQL");
    assertThat(Schema.of(db, TG)).isEqualTo(reference(TG));
  }

  @Test
  void badPrefix_isRefusedBeforeTouchingTheDatabase() throws SQLException {
    DataSource db = newDatabase();

    for (String bad : new String[] {"TG_", "tg-", "1tg_", "tg_\"; DROP", "t" + "x".repeat(31)}) {
      assertThatThrownBy(() -> MeterSchema.migrate(db, bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("tablePrefix");
    }
    try (Connection c = db.getConnection()) {
      assertThat(Schema.tableNames(c)).as("not even a history table").isEmpty();
    }
  }

  // ---------------------------------------------------------------------------- helpers

  static UsageBatch batch(String id, String sub, String minute, long calls) {
    return new UsageBatch(id, List.of(new UsageCell(sub, "k1", "p1", "m1", "buyer-" + sub, false,
        Instant.parse(minute).toEpochMilli(), new UsageCounts(calls, 10 * calls, 0, calls, 0))));
  }

  /** The schema the hand-written DDL makes under {@code prefix}, on a fresh database. */
  Schema reference(String prefix) {
    DataSource db = newDatabase();
    HandWrittenMeterDdl.create(db, prefix);
    return Schema.of(db, prefix);
  }

  private static long maxVersion(JdbcMeterStore store) {
    long max = 0;
    for (Instant w : store.touchedWindows(W10.minusSeconds(86_400), W12.plusSeconds(86_400))) {
      for (TouchedKey k : store.touched(w)) {
        max = Math.max(max, k.version());
      }
    }
    return max;
  }

  /**
   * The prefix's Flyway history: "version type" (and "failed" when it did not succeed), in the
   * order applied; without the marker row H2 gets when the history table is made.
   */
  static List<String> history(DataSource db, String prefix) {
    String sql = "SELECT \"version\", \"type\", \"success\" FROM \"" + MeterSchema.historyTable(prefix)
        + "\" WHERE \"version\" IS NOT NULL ORDER BY \"installed_rank\"";
    List<String> rows = new ArrayList<>();
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        rows.add(rs.getString(1) + " " + rs.getString(2) + (rs.getBoolean(3) ? "" : " failed"));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    return rows;
  }

  /**
   * The metering objects under a prefix, read through JDBC metadata, with the prefix cut off
   * every name (so two prefixes compare) and without the Flyway history table. Names the database
   * makes up (H2's primary key indexes) are left out; PostgreSQL's {@code _pkey} names stay.
   */
  record Schema(List<String> tables, List<String> details, List<String> sequences) {

    static Schema of(DataSource db, String prefix) {
      String history = MeterSchema.historyTable(prefix);
      try (Connection c = db.getConnection()) {
        DatabaseMetaData md = c.getMetaData();
        String schema = c.getSchema();
        List<String> tables = new ArrayList<>();
        for (String name : tableNames(c)) {
          String lower = name.toLowerCase(Locale.ROOT);
          if (lower.startsWith(prefix) && !lower.equals(history)) {
            tables.add(name);
          }
        }
        TreeSet<String> details = new TreeSet<>();
        List<String> shortNames = new ArrayList<>();
        for (String tableName : tables) {
          String t = strip(tableName, prefix);
          // getColumns takes a pattern, where '_' would match any character; the others a name
          String pattern = tableName.replace("_", md.getSearchStringEscape() + "_");
          shortNames.add(t);
          try (ResultSet rs = md.getColumns(null, schema, pattern, "%")) {
            while (rs.next()) {
              details.add("column " + t + "." + rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT)
                  + " #" + rs.getInt("ORDINAL_POSITION") + " " + rs.getString("TYPE_NAME")
                  + "(" + rs.getInt("COLUMN_SIZE") + ") nullable=" + rs.getInt("NULLABLE")
                  + " default=" + rs.getString("COLUMN_DEF"));
            }
          }
          TreeMap<Integer, String> key = new TreeMap<>();
          try (ResultSet rs = md.getPrimaryKeys(null, schema, tableName)) {
            while (rs.next()) {
              key.put(rs.getInt("KEY_SEQ"), rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT));
            }
          }
          details.add("primary key " + t + " " + key.values());
          Map<String, TreeMap<Integer, String>> indexes = new TreeMap<>();
          Map<String, Boolean> unique = new TreeMap<>();
          try (ResultSet rs = md.getIndexInfo(null, schema, tableName, false, false)) {
            while (rs.next()) {
              String name = rs.getString("INDEX_NAME");
              if (name == null) {
                continue; // table statistics
              }
              String index = name.toLowerCase(Locale.ROOT).startsWith(prefix) ? strip(name, prefix) : "(named by the database)";
              indexes.computeIfAbsent(index, k -> new TreeMap<>())
                  .put(rs.getInt("ORDINAL_POSITION"), rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT));
              unique.put(index, !rs.getBoolean("NON_UNIQUE"));
            }
          }
          indexes.forEach((name, cols) ->
              details.add("index " + t + "." + name + " unique=" + unique.get(name) + " " + cols.values()));
        }
        List<String> sequences = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT sequence_name, data_type, start_value,"
            + " minimum_value, maximum_value, increment, cycle_option FROM information_schema.sequences"
            + " WHERE sequence_schema = ? ORDER BY sequence_name")) {
          ps.setString(1, schema);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              String name = rs.getString(1);
              if (name.toLowerCase(Locale.ROOT).startsWith(prefix)) {
                sequences.add(strip(name, prefix) + " " + rs.getString(2) + " start=" + rs.getString(3)
                    + " min=" + rs.getString(4) + " max=" + rs.getString(5) + " increment=" + rs.getString(6)
                    + " cycle=" + rs.getString(7));
              }
            }
          }
        }
        shortNames.sort(null);
        return new Schema(shortNames, new ArrayList<>(details), sequences);
      } catch (SQLException e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }

    /** Every table of the connection's current schema. */
    static List<String> tableNames(Connection c) throws SQLException {
      List<String> names = new ArrayList<>();
      try (ResultSet rs = c.getMetaData().getTables(null, c.getSchema(), "%", new String[] {"TABLE"})) {
        while (rs.next()) {
          names.add(rs.getString("TABLE_NAME"));
        }
      }
      return names;
    }

    private static String strip(String name, String prefix) {
      return name.toLowerCase(Locale.ROOT).substring(prefix.length());
    }
  }
}
