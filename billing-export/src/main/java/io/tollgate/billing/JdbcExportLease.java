package io.tollgate.billing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * {@link ExportLease} as a row of {@code billing_export_lease} (created by {@link
 * RecordLedger#migrate}): holder and expiry, taken or renewed by one conditional {@code UPDATE}
 * ("mine, or expired"), which the database serialises on the row lock, so two instances never
 * both succeed. Works on PostgreSQL and H2.
 *
 * <p>Expiry is compared on the caller's clock: instances whose clocks disagree by more than a
 * small part of {@code ttl} may overlap briefly, which costs duplicate work only (see {@link
 * ExportLease}). Renew ({@link #tryAcquire}) well within {@code ttl}.
 */
public final class JdbcExportLease implements ExportLease {

  private final DataSource dataSource;
  private final String name;
  private final String holder;
  private final long ttlMillis;
  private final Clock clock;

  /**
   * @param name the lease (one row per name)
   * @param holder this instance, unique among those that share the database
   */
  public JdbcExportLease(DataSource dataSource, String name, String holder, Duration ttl, Clock clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.name = Objects.requireNonNull(name, "name");
    this.holder = Objects.requireNonNull(holder, "holder");
    this.clock = Objects.requireNonNull(clock, "clock");
    if (ttl.toMillis() < 1) {
      throw new IllegalArgumentException("ttl must be at least 1 ms: " + ttl);
    }
    this.ttlMillis = ttl.toMillis();
  }

  @Override
  public boolean tryAcquire() {
    long now = clock.millis();
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      try (PreparedStatement ps = c.prepareStatement("UPDATE billing_export_lease SET holder = ?, expires_at = ?"
          + " WHERE name = ? AND (holder = ? OR expires_at <= ?)")) {
        ps.setString(1, holder);
        ps.setLong(2, now + ttlMillis);
        ps.setString(3, name);
        ps.setString(4, holder);
        ps.setLong(5, now);
        if (ps.executeUpdate() == 1) {
          return true;
        }
      }
      // The first take of this lease: there is no row yet (or another holder has it).
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO billing_export_lease (name, holder, expires_at)"
          + " SELECT ?, ?, ? FROM (VALUES (1)) v WHERE NOT EXISTS (SELECT 1 FROM billing_export_lease WHERE name = ?)")) {
        ps.setString(1, name);
        ps.setString(2, holder);
        ps.setLong(3, now + ttlMillis);
        ps.setString(4, name);
        return ps.executeUpdate() == 1;
      } catch (SQLException e) {
        if ("23505".equals(e.getSQLState())) {
          return false; // another instance inserted it first
        }
        throw e;
      }
    } catch (SQLException e) {
      throw new BillingStoreException("cannot take export lease " + name + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      try (PreparedStatement ps = c.prepareStatement("UPDATE billing_export_lease SET holder = NULL, expires_at = 0"
          + " WHERE name = ? AND holder = ?")) {
        ps.setString(1, name);
        ps.setString(2, holder);
        ps.executeUpdate();
      }
    } catch (SQLException e) {
      throw new BillingStoreException("cannot release export lease " + name + ": " + e.getMessage(), e);
    }
  }
}
