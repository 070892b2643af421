package io.tollgate.metering.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;

/**
 * The DDL that {@code JdbcMeterStore.migrate()} and {@code JdbcQuotaPool.migrate()} ran before
 * the metering tables moved to Flyway ({@link MeterSchema}), copied verbatim: what an existing
 * database (an embedded data dir) holds, and the reference the migrations must reproduce.
 */
final class HandWrittenMeterDdl {

  private HandWrittenMeterDdl() {}

  /** The tables as the last hand-written DDL made them (meter store and quota pool). */
  static void create(DataSource db, String prefix) {
    execute(db, beforeExportMarks(prefix));
    execute(db, exportMarks(prefix));
  }

  /** The tables as they were before the export marks (commit c023ad1) added two. */
  static void createBeforeExportMarks(DataSource db, String prefix) {
    execute(db, beforeExportMarks(prefix));
  }

  private static List<String> beforeExportMarks(String prefix) {
    String cells = prefix + "usage_minute";
    String applied = prefix + "applied_batch";
    String table = prefix + "quota_pool";
    return List.of(
        "CREATE TABLE IF NOT EXISTS " + cells + " ("
            + "subscription_id VARCHAR(128) NOT NULL, sku_id VARCHAR(128) NOT NULL,"
            + " minute_start BIGINT NOT NULL, product_id VARCHAR(128), merchant_id VARCHAR(128),"
            + " buyer_id VARCHAR(128), test BOOLEAN NOT NULL, calls BIGINT NOT NULL,"
            + " input_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL,"
            + " output_tokens BIGINT NOT NULL, estimated_tokens BIGINT NOT NULL,"
            + " PRIMARY KEY (subscription_id, sku_id, minute_start))",
        "CREATE INDEX IF NOT EXISTS " + cells + "_sku ON " + cells + " (sku_id, minute_start)",
        "CREATE INDEX IF NOT EXISTS " + cells + "_product ON " + cells + " (product_id, minute_start)",
        "CREATE INDEX IF NOT EXISTS " + cells + "_merchant ON " + cells
            + " (merchant_id, minute_start)",
        "CREATE TABLE IF NOT EXISTS " + applied + " (batch_id VARCHAR(200) NOT NULL PRIMARY KEY,"
            + " applied_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS " + table + " (subscription_id VARCHAR(128) NOT NULL,"
            + " period_key VARCHAR(64) NOT NULL, remaining BIGINT NOT NULL,"
            + " PRIMARY KEY (subscription_id, period_key))");
  }

  private static List<String> exportMarks(String prefix) {
    String touched = prefix + "touched";
    return List.of(
        "CREATE TABLE IF NOT EXISTS " + touched + " (window_start BIGINT NOT NULL,"
            + " subscription_id VARCHAR(128) NOT NULL, sku_id VARCHAR(128) NOT NULL,"
            + " product_id VARCHAR(128), merchant_id VARCHAR(128), buyer_id VARCHAR(128),"
            + " test BOOLEAN NOT NULL, version BIGINT NOT NULL,"
            + " PRIMARY KEY (window_start, subscription_id, sku_id))",
        "CREATE SEQUENCE IF NOT EXISTS " + prefix + "touched_version");
  }

  static void execute(DataSource db, List<String> statements) {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }
}
