package io.tollgate.billing;

import io.tollgate.metering.testing.Services;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;

/** A database a test owns: H2 in memory, or a schema of its own on the shared PostgreSQL. */
final class TestDatabase implements AutoCloseable {

  /** The settings the gateway opens its H2 catalog database with ({@code CatalogRepository.H2_SETTINGS}). */
  static final String GATEWAY_H2_SETTINGS = "MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";

  private final DataSource dataSource;
  private final Runnable drop;

  private TestDatabase(DataSource dataSource, Runnable drop) {
    this.dataSource = dataSource;
    this.drop = drop;
  }

  /** H2 as the gateway runs it (PostgreSQL mode). */
  static TestDatabase h2() {
    return h2(";" + GATEWAY_H2_SETTINGS);
  }

  /** H2 in its own (regular) mode. */
  static TestDatabase h2RegularMode() {
    return h2("");
  }

  private static TestDatabase h2(String settings) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1" + settings);
    return new TestDatabase(ds, () -> execute(ds, "SHUTDOWN"));
  }

  static TestDatabase postgres() {
    String schema = Services.uniquePrefix();
    return new TestDatabase(Services.postgresSchema(schema), () -> Services.dropSchema(schema));
  }

  DataSource dataSource() {
    return dataSource;
  }

  static void execute(DataSource ds, String sql) {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    drop.run();
  }
}
