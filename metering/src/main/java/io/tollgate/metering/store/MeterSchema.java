package io.tollgate.metering.store;

import java.util.Map;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

/**
 * The metering module's JDBC tables under one table prefix, made and upgraded by the Flyway
 * migrations in {@code classpath:db/metering}, on H2 and PostgreSQL alike: the meter store's
 * {@code <prefix>usage_minute} (with its three indexes), {@code <prefix>applied_batch}, {@code
 * <prefix>touched} and the sequence {@code <prefix>touched_version}, and the quota pool's {@code
 * <prefix>quota_pool}. {@link JdbcMeterStore#migrate()} and {@code JdbcQuotaPool.migrate()} both
 * run this whole tree: the gateway keeps both in the same database, or neither.
 *
 * <p>One history table per prefix, {@code <prefix>metering_schema_history}. The prefix is a
 * placeholder of the scripts, so a history shared by two prefixes would record V1 for the first
 * and never create the second's tables. The history is also apart from the catalog's ({@code
 * flyway_schema_history}) and the billing ledger's ({@code billing_schema_history}) in the same
 * database, so each tree is versioned on its own.
 *
 * <p>A database whose metering tables came from the hand-written DDL used before Flyway (an
 * existing embedded data dir) has them but no history table: Flyway baselines the non-empty
 * schema at version 0 and runs V1, whose {@code IF NOT EXISTS} statements keep every table and row
 * and add only what an older version lacked (the export marks). Later versions are plain DDL.
 *
 * <p>Idempotent, and safe while other instances migrate the same database: Flyway serialises
 * migrations on a lock (an advisory lock on PostgreSQL). Blocking; call it off event loops.
 */
public final class MeterSchema {

  /** The table prefix of the gateway's metering tables. */
  public static final String DEFAULT_PREFIX = "tg_";

  /** Short enough for PostgreSQL's 63-byte names with the longest suffix. */
  private static final Pattern PREFIX = Pattern.compile("[a-z][a-z0-9_]{0,30}");

  private static final int ATTEMPTS = 3;

  private MeterSchema() {}

  /**
   * Creates or upgrades the metering tables under {@code tablePrefix}.
   *
   * @throws IllegalArgumentException if {@code tablePrefix} is not lower-case letters, digits and
   *     underscores starting with a letter, at most 31 characters
   * @throws MeterStoreException if the database cannot be migrated
   */
  public static void migrate(DataSource dataSource, String tablePrefix) {
    checkPrefix(tablePrefix);
    try {
      migrateRetryingBaselineRace(flyway(dataSource, tablePrefix));
    } catch (FlywayException e) {
      throw new MeterStoreException(
          "cannot create or upgrade the metering tables " + tablePrefix + "*: " + e.getMessage(), e);
    }
  }

  /**
   * {@code flyway.migrate()}, tried up to three times. Flyway serialises the migrations themselves
   * on its lock, but instances starting together on a database with no history table yet may race
   * to create and baseline it ({@code baselineOnMigrate}); the loser fails with "already exists,
   * and is empty". Its next attempt finds the history and migrates (or finds nothing left to do).
   * A failure that is not that race fails the same way on the last attempt, which is thrown. For
   * every Flyway tree of tollgate (the metering tables, the billing ledger). Blocking.
   */
  public static void migrateRetryingBaselineRace(Flyway flyway) {
    for (int attempt = 1; ; attempt++) {
      try {
        flyway.migrate();
        return;
      } catch (FlywayException e) {
        if (attempt == ATTEMPTS) {
          throw e;
        }
        pause(attempt, e);
      }
    }
  }

  private static Flyway flyway(DataSource dataSource, String tablePrefix) {
    return Flyway.configure(MeterSchema.class.getClassLoader())
        .dataSource(dataSource)
        .locations("classpath:db/metering")
        .table(historyTable(tablePrefix))
        // The database may hold other tables (the catalog's, another prefix's): not "empty".
        .baselineOnMigrate(true)
        .baselineVersion("0")
        .placeholders(Map.of("table_prefix", tablePrefix))
        .load();
  }

  private static void pause(int attempt, FlywayException failed) {
    try {
      Thread.sleep(100L * attempt + java.util.concurrent.ThreadLocalRandom.current().nextLong(100));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failed;
    }
  }

  /** The Flyway history table of the metering tables under {@code tablePrefix}. */
  public static String historyTable(String tablePrefix) {
    return checkPrefix(tablePrefix) + "metering_schema_history";
  }

  /**
   * Returns {@code tablePrefix} if it is a valid table prefix (see {@link #migrate}).
   *
   * @throws IllegalArgumentException otherwise
   */
  public static String checkPrefix(String tablePrefix) {
    if (tablePrefix == null || !PREFIX.matcher(tablePrefix).matches()) {
      throw new IllegalArgumentException("tablePrefix must match " + PREFIX + ": " + tablePrefix);
    }
    return tablePrefix;
  }
}
