package io.tollgate.gateway.catalog;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/** The {@code merchants} table: rows in, rows out; no rules. */
final class MerchantStore {

  private static final String COLUMNS = "id, name, created_at";

  private MerchantStore() {}

  static void insert(Connection c, Merchant m, String tokenHash) throws SQLException {
    try (var ps = c.prepareStatement("INSERT INTO merchants (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)")) {
      ps.setString(1, m.id());
      ps.setString(2, m.name());
      ps.setString(3, tokenHash);
      Jdbc.setInstant(ps, 4, m.createdAt());
      ps.executeUpdate();
    }
  }

  static Optional<Merchant> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM merchants WHERE id = ?", id, MerchantStore::merchant);
  }

  static Optional<Merchant> byTokenHash(Connection c, String tokenHash) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM merchants WHERE token_hash = ?", tokenHash,
        MerchantStore::merchant);
  }

  static boolean exists(Connection c, String id) throws SQLException {
    return Jdbc.exists(c, "SELECT 1 FROM merchants WHERE id = ?", id);
  }

  private static Merchant merchant(ResultSet rs) throws SQLException {
    return new Merchant(rs.getString("id"), rs.getString("name"), Jdbc.getInstant(rs, "created_at"));
  }
}
