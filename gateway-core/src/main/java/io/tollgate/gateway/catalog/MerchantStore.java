package io.tollgate.gateway.catalog;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/** The {@code merchants} table: rows in, rows out; no rules. */
final class MerchantStore {

  /** The columns of merchants {@code m}, aliased {@code m_*} so they join with other tables'. */
  static final String COLUMNS =
      "m.id AS m_id, m.name AS m_name, m.support_phone AS m_support_phone,"
          + " m.support_email AS m_support_email, m.created_at AS m_created_at";

  private MerchantStore() {}

  static void insert(Connection c, Merchant m, String tokenHash) throws SQLException {
    try (var ps = c.prepareStatement("INSERT INTO merchants (id, name, token_hash, support_phone, support_email,"
        + " created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, m.id());
      ps.setString(2, m.name());
      ps.setString(3, tokenHash);
      ps.setString(4, m.support().phone());
      ps.setString(5, m.support().email());
      Jdbc.setInstant(ps, 6, m.createdAt());
      ps.executeUpdate();
    }
  }

  static Optional<Merchant> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM merchants m WHERE m.id = ?", id, MerchantStore::merchant);
  }

  /** The merchant, its row locked for the transaction; NOT_FOUND if there is none. */
  static Merchant lock(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM merchants m WHERE m.id = ? FOR UPDATE", id,
            MerchantStore::merchant)
        .orElseThrow(() -> CatalogException.notFound("merchant", id));
  }

  static Optional<Merchant> byTokenHash(Connection c, String tokenHash) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM merchants m WHERE m.token_hash = ?", tokenHash,
        MerchantStore::merchant);
  }

  static boolean exists(Connection c, String id) throws SQLException {
    return Jdbc.exists(c, "SELECT 1 FROM merchants WHERE id = ?", id);
  }

  static void setSupport(Connection c, String id, SupportContact support) throws SQLException {
    try (var ps = c.prepareStatement("UPDATE merchants SET support_phone = ?, support_email = ? WHERE id = ?")) {
      ps.setString(1, support.phone());
      ps.setString(2, support.email());
      ps.setString(3, id);
      ps.executeUpdate();
    }
  }

  /**
   * A page of every merchant, oldest first.
   *
   * @throws IllegalArgumentException when {@code page.after()} names no merchant
   */
  static Page<Merchant> page(Connection c, PageQuery page) throws SQLException {
    return Keyset.page(c, COLUMNS, "FROM merchants m WHERE TRUE", List.of(), "m", page, MerchantStore::merchant,
        new IllegalArgumentException("after names no merchant: " + page.after()));
  }

  /** Maps the {@link #COLUMNS} of the current row. */
  static Merchant merchant(ResultSet rs) throws SQLException {
    return new Merchant(rs.getString("m_id"), rs.getString("m_name"),
        new SupportContact(rs.getString("m_support_phone"), rs.getString("m_support_email")),
        Jdbc.getInstant(rs, "m_created_at"));
  }
}
