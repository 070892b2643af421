package io.tollgate.gateway.catalog;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Optional;

/** The {@code idempotency_keys} table: rows in, rows out; no rules. */
final class IdempotencyStore {

  /** A stored key: the request it was first sent with, and its answer once there is one. */
  record Row(String requestSha256, Integer status, String response, Instant createdAt) {}

  private IdempotencyStore() {}

  /**
   * Inserts an unanswered row (the request in progress); false, and nothing written, if the key
   * already has one. Run in auto-commit mode: the row is visible to every other request at once.
   */
  static boolean insert(Connection c, String caller, String route, String key, String requestSha256, Instant now)
      throws SQLException {
    try (var ps = c.prepareStatement("INSERT INTO idempotency_keys (caller_id, route, idempotency_key,"
        + " request_sha256, created_at) VALUES (?, ?, ?, ?, ?)")) {
      ps.setString(1, caller);
      ps.setString(2, route);
      ps.setString(3, key);
      ps.setString(4, requestSha256);
      Jdbc.setInstant(ps, 5, now);
      ps.executeUpdate();
      return true;
    } catch (SQLException e) {
      if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
        return false;
      }
      throw e;
    }
  }

  static Optional<Row> find(Connection c, String caller, String route, String key) throws SQLException {
    try (var ps = c.prepareStatement("SELECT request_sha256, status, response, created_at FROM idempotency_keys"
        + " WHERE caller_id = ? AND route = ? AND idempotency_key = ?")) {
      ps.setString(1, caller);
      ps.setString(2, route);
      ps.setString(3, key);
      try (var rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(new Row(rs.getString("request_sha256"), Jdbc.getInt(rs, "status"),
            rs.getString("response"), Jdbc.getInstant(rs, "created_at")));
      }
    }
  }

  /** Restarts an unanswered row created at {@code createdAt}; false if it changed meanwhile. */
  static boolean restart(Connection c, String caller, String route, String key, Instant createdAt, Instant now)
      throws SQLException {
    try (var ps = c.prepareStatement("UPDATE idempotency_keys SET created_at = ? WHERE caller_id = ?"
        + " AND route = ? AND idempotency_key = ? AND status IS NULL AND created_at = ?")) {
      Jdbc.setInstant(ps, 1, now);
      ps.setString(2, caller);
      ps.setString(3, route);
      ps.setString(4, key);
      Jdbc.setInstant(ps, 5, createdAt);
      return ps.executeUpdate() > 0;
    }
  }

  /** Stores the answer of an unanswered row. */
  static void answer(Connection c, String caller, String route, String key, int status, String response)
      throws SQLException {
    try (var ps = c.prepareStatement("UPDATE idempotency_keys SET status = ?, response = ? WHERE caller_id = ?"
        + " AND route = ? AND idempotency_key = ? AND status IS NULL")) {
      ps.setInt(1, status);
      ps.setString(2, response);
      ps.setString(3, caller);
      ps.setString(4, route);
      ps.setString(5, key);
      ps.executeUpdate();
    }
  }

  /** Deletes an unanswered row. */
  static void deleteUnanswered(Connection c, String caller, String route, String key) throws SQLException {
    try (var ps = c.prepareStatement("DELETE FROM idempotency_keys WHERE caller_id = ? AND route = ?"
        + " AND idempotency_key = ? AND status IS NULL")) {
      ps.setString(1, caller);
      ps.setString(2, route);
      ps.setString(3, key);
      ps.executeUpdate();
    }
  }

  /** Deletes every row created at or before {@code cutoff}. */
  static int deleteCreatedBefore(Connection c, Instant cutoff) throws SQLException {
    try (var ps = c.prepareStatement("DELETE FROM idempotency_keys WHERE created_at <= ?")) {
      Jdbc.setInstant(ps, 1, cutoff);
      return ps.executeUpdate();
    }
  }
}
