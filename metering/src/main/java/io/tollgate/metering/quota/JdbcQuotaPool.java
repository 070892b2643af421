package io.tollgate.metering.quota;

import io.tollgate.metering.store.MeterSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * {@link QuotaPool} over JDBC (H2, PostgreSQL): a row per subscription and period; a take is
 * {@code SELECT ... FOR UPDATE} then {@code UPDATE} in one transaction, so concurrent takes from
 * several instances serialise on the row and never drive it below zero.
 */
public final class JdbcQuotaPool implements QuotaPool {

  private final DataSource dataSource;
  private final String tablePrefix;
  private final String table;

  public JdbcQuotaPool(DataSource dataSource, String tablePrefix) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tablePrefix = MeterSchema.checkPrefix(tablePrefix);
    this.table = tablePrefix + "quota_pool";
  }

  /**
   * Creates or upgrades this pool's table, and every other metering table under its prefix, with
   * {@link MeterSchema#migrate}. Idempotent.
   *
   * @throws io.tollgate.metering.store.MeterStoreException if the database cannot be migrated
   */
  public JdbcQuotaPool migrate() {
    MeterSchema.migrate(dataSource, tablePrefix);
    return this;
  }

  @Override
  public void restore(String subscriptionId, String periodKey, long quota) {
    run(c -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table
          + " (subscription_id, period_key, remaining) SELECT ?, ?, ? FROM (VALUES (1)) v"
          + " WHERE NOT EXISTS (SELECT 1 FROM " + table
          + " WHERE subscription_id = ? AND period_key = ?)")) {
        ps.setString(1, subscriptionId);
        ps.setString(2, periodKey);
        ps.setLong(3, quota);
        ps.setString(4, subscriptionId);
        ps.setString(5, periodKey);
        ps.executeUpdate();
      } catch (SQLException e) {
        if (!"23505".equals(e.getSQLState())) { // a concurrent restore won: same effect
          throw e;
        }
      }
      return null;
    });
  }

  @Override
  public long take(String subscriptionId, String periodKey, long max) {
    return run(c -> {
      c.setAutoCommit(false);
      try {
        long remaining;
        try (PreparedStatement ps = c.prepareStatement("SELECT remaining FROM " + table
            + " WHERE subscription_id = ? AND period_key = ? FOR UPDATE")) {
          ps.setString(1, subscriptionId);
          ps.setString(2, periodKey);
          try (ResultSet rs = ps.executeQuery()) {
            remaining = rs.next() ? rs.getLong(1) : 0;
          }
        }
        long taken = Math.max(0, Math.min(max, remaining));
        if (taken > 0) {
          update(c, subscriptionId, periodKey, -taken);
        }
        c.commit();
        return taken;
      } catch (SQLException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    });
  }

  @Override
  public void giveBack(String subscriptionId, String periodKey, long amount) {
    if (amount > 0) {
      run(c -> {
        update(c, subscriptionId, periodKey, amount);
        return null;
      });
    }
  }

  @Override
  public long remaining(String subscriptionId, String periodKey) {
    return run(c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT remaining FROM " + table
          + " WHERE subscription_id = ? AND period_key = ?")) {
        ps.setString(1, subscriptionId);
        ps.setString(2, periodKey);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? rs.getLong(1) : -1L;
        }
      }
    });
  }

  private void update(Connection c, String sub, String period, long delta) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("UPDATE " + table
        + " SET remaining = remaining + ? WHERE subscription_id = ? AND period_key = ?")) {
      ps.setLong(1, delta);
      ps.setString(2, sub);
      ps.setString(3, period);
      ps.executeUpdate();
    }
  }

  private interface SqlWork<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T run(SqlWork<T> work) {
    try (Connection c = dataSource.getConnection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw new IllegalStateException("quota pool call failed: " + e.getMessage(), e);
    }
  }
}
