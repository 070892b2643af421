package io.tollgate.gateway.catalog;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.tollgate.billing.RecordLedger;
import io.tollgate.gateway.catalog.Jdbc.SqlFunction;
import io.tollgate.metering.store.MeterSchema;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * The database behind the catalog: its connection pool, the migrations of every JDBC table it
 * holds, and transactions. PostgreSQL, or H2 in PostgreSQL mode for the embedded store: the same
 * SQL runs on both.
 *
 * <p>Every method blocks on JDBC: call it from a worker thread, never an event loop.
 */
public final class CatalogDatabase implements AutoCloseable {

  /** Default pgjdbc {@code socketTimeout}: longer than any catalog or usage query should run. */
  static final String POSTGRES_SOCKET_TIMEOUT_SECONDS = "30";

  /** The H2 settings the migrations and queries are tested with. */
  public static final String H2_SETTINGS =
      "MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";

  private final DataSource dataSource;
  private final AutoCloseable owned;

  /** A database over an already migrated data source; the caller keeps ownership of it. */
  public CatalogDatabase(DataSource dataSource) {
    this(dataSource, null);
  }

  private CatalogDatabase(DataSource dataSource, AutoCloseable owned) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.owned = owned;
  }

  /**
   * Opens a pooled (HikariCP) connection to {@code jdbcUrl} and applies the migrations; {@link
   * #close()} closes the pool. For the embedded store use {@link #h2FileUrl}; for PostgreSQL
   * {@code jdbc:postgresql://host:5432/db}.
   *
   * @throws CatalogException of kind UNAVAILABLE, naming the URL (never the password), when the
   *     database cannot be reached or migrated
   */
  public static CatalogDatabase open(String jdbcUrl, String user, String password) {
    return open(jdbcUrl, user, password, false);
  }

  /**
   * As {@link #open(String, String, String)}; with {@code meterTables}, the JDBC meter store's and
   * quota pool's tables are migrated too (where usage is kept in this database, not in Redis).
   */
  public static CatalogDatabase open(String jdbcUrl, String user, String password, boolean meterTables) {
    HikariDataSource ds = pool(jdbcUrl, user, password);
    try {
      migrate(ds, meterTables);
    } catch (RuntimeException e) {
      ds.close();
      throw new CatalogException(
          CatalogException.Kind.UNAVAILABLE,
          "catalog migration failed on " + jdbcUrl + ": " + Jdbc.rootMessage(e),
          e);
    }
    return new CatalogDatabase(ds, ds);
  }

  /**
   * Connects to {@code jdbcUrl} as {@link #open} does, and closes again: changes nothing (no
   * migration). For {@code tollgate check}.
   *
   * @throws CatalogException of kind UNAVAILABLE, with the message {@link #open} would give, when
   *     the database cannot be reached
   */
  public static void reach(String jdbcUrl, String user, String password) {
    pool(jdbcUrl, user, password).close();
  }

  /** The connection pool, with one connection made (or a {@link CatalogException} saying why not). */
  private static HikariDataSource pool(String jdbcUrl, String user, String password) {
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    var config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setPoolName("tollgate-catalog");
    config.setMaximumPoolSize(8);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(5_000);
    config.setInitializationFailTimeout(5_000);
    if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      // pgjdbc waits on a socket without limit by default, so a network partition could hang a
      // pooled connection, and the usage flusher on it, for good. Parameters in the URL win.
      config.addDataSourceProperty("socketTimeout", POSTGRES_SOCKET_TIMEOUT_SECONDS);
      config.addDataSourceProperty("tcpKeepAlive", "true");
    }
    HikariDataSource ds;
    try {
      ds = new HikariDataSource(config);
    } catch (RuntimeException e) {
      throw new CatalogException(
          CatalogException.Kind.UNAVAILABLE,
          "catalog database unreachable at " + jdbcUrl
              + " (is it installed and running? for PostgreSQL: start `postgresql`): " + Jdbc.rootMessage(e),
          e);
    }
    return ds;
  }

  /**
   * The embedded store's URL: the H2 file database {@code <dataDir>/tollgate} in PostgreSQL mode.
   * {@code WRITE_DELAY=0}: a commit reaches the file (the page cache) before it returns, as the
   * meter store's acknowledgements need. H2's default keeps commits in memory for 500 ms, and a
   * {@code kill -9} in that window lost acknowledged usage whose journal segment was already
   * trimmed (found by {@code GatewayKillTest}).
   */
  public static String h2FileUrl(String dataDir) {
    return "jdbc:h2:file:" + dataDir + "/tollgate;" + H2_SETTINGS + ";WRITE_DELAY=0";
  }

  /**
   * Applies the catalog migrations ({@code classpath:db/migration}) to {@code dataSource}, then the
   * billing ledger's: subscription writes queue purchases in the ledger's outbox table.
   */
  public static void migrate(DataSource dataSource) {
    migrate(dataSource, false);
  }

  /**
   * The one place every JDBC table of a deployment is created or upgraded, all by Flyway, in this
   * order: the catalog ({@code classpath:db/migration}, history {@code flyway_schema_history}),
   * with {@code meterTables} the meter store and quota pool ({@link MeterSchema}, prefix {@value
   * MeterSchema#DEFAULT_PREFIX}, history {@code tg_metering_schema_history}), and the billing
   * ledger ({@code classpath:db/billing}, history {@code billing_schema_history}). Each tree keeps
   * its own history because each module also migrates alone in its own tests.
   */
  public static void migrate(DataSource dataSource, boolean meterTables) {
    Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/migration")
        .load()
        .migrate();
    if (meterTables) {
      MeterSchema.migrate(dataSource, MeterSchema.DEFAULT_PREFIX);
    }
    new RecordLedger(dataSource).migrate();
  }

  /** The pooled data source; the JDBC meter store shares it on the embedded setup. */
  public DataSource dataSource() {
    return dataSource;
  }

  /**
   * Checks that the database answers, for {@code /health/ready}.
   *
   * @throws CatalogException of kind UNAVAILABLE when it does not
   */
  public void ping() {
    try (var c = dataSource.getConnection()) {
      if (!c.isValid(2)) {
        throw new CatalogException(CatalogException.Kind.UNAVAILABLE, "catalog database did not answer", null);
      }
    } catch (SQLException e) {
      throw new CatalogException(CatalogException.Kind.UNAVAILABLE, "catalog database unreachable: " + e.getMessage(), e);
    }
  }

  /** Runs {@code work} on a pooled connection in auto-commit mode. */
  <T> T read(SqlFunction<Connection, T> work) {
    try (var c = dataSource.getConnection()) {
      return work.apply(c);
    } catch (SQLException e) {
      throw Jdbc.translate(e);
    }
  }

  /** Runs {@code work} in one transaction: committed if it returns, rolled back if it throws. */
  <T> T inTransaction(SqlFunction<Connection, T> work) {
    try (var c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.apply(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw Jdbc.translate(e);
    }
  }

  @Override
  public void close() {
    if (owned != null) {
      try {
        owned.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing the catalog pool failed", e);
      }
    }
  }
}
