package io.tollgate.gateway.catalog;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/** The {@code audit_events} table: appended to, never updated. */
final class AuditStore {

  private static final String COLUMNS = "a.id, a.created_at, a.actor, a.action, a.object_id, a.merchant_id, a.changes";

  private AuditStore() {}

  /** A new event id, {@code aud_} and 20 digits from {@code audit_seq}: ids sort in the order events are kept. */
  static String nextId(Connection c) throws SQLException {
    try (var ps = c.prepareStatement("SELECT nextval('audit_seq')"); var rs = ps.executeQuery()) {
      rs.next();
      return String.format("aud_%020d", rs.getLong(1));
    }
  }

  static void insert(Connection c, AuditEvent e) throws SQLException {
    try (var ps = c.prepareStatement("INSERT INTO audit_events (id, created_at, actor, action, object_id,"
        + " merchant_id, changes) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, e.id());
      Jdbc.setInstant(ps, 2, e.createdAt());
      ps.setString(3, e.actor());
      ps.setString(4, e.action());
      ps.setString(5, e.objectId());
      ps.setString(6, e.merchantId());
      ps.setString(7, e.changes());
      ps.executeUpdate();
    }
  }

  /** A page of events, oldest first, of one object and/or one owning merchant (null: any). */
  static Page<AuditEvent> page(Connection c, String objectId, String merchantId, PageQuery page) throws SQLException {
    var where = new StringBuilder("FROM audit_events a WHERE TRUE");
    var args = new ArrayList<Object>();
    if (objectId != null) {
      where.append(" AND a.object_id = ?");
      args.add(objectId);
    }
    if (merchantId != null) {
      where.append(" AND a.merchant_id = ?");
      args.add(merchantId);
    }
    return Keyset.page(c, COLUMNS, where.toString(), args, "a", page, AuditStore::event,
        new IllegalArgumentException("after names no audit event you can list: " + page.after()));
  }

  /** The merchant owning the object {@code id} names, by its prefix; null for a merchant-less id. */
  static String ownerOf(Connection c, String id) throws SQLException {
    if (id == null) {
      return null;
    }
    List<String> owner;
    if (id.startsWith("mer_")) {
      return id;
    } else if (id.startsWith("prod_")) {
      owner = Jdbc.queryList(c, "SELECT merchant_id FROM products WHERE id = ?", List.of(id), rs -> rs.getString(1));
    } else if (id.startsWith("sku_")) {
      owner = Jdbc.queryList(c, "SELECT p.merchant_id FROM skus k JOIN products p ON p.id = k.product_id"
          + " WHERE k.id = ?", List.of(id), rs -> rs.getString(1));
    } else if (id.startsWith("sub_")) {
      owner = Jdbc.queryList(c, "SELECT p.merchant_id FROM subscriptions s JOIN skus k ON k.id = s.sku_id"
          + " JOIN products p ON p.id = k.product_id WHERE s.id = ?", List.of(id), rs -> rs.getString(1));
    } else {
      return null;
    }
    return owner.isEmpty() ? null : owner.get(0);
  }

  private static AuditEvent event(ResultSet rs) throws SQLException {
    return new AuditEvent(rs.getString("id"), Jdbc.getInstant(rs, "created_at"), rs.getString("actor"),
        rs.getString("action"), rs.getString("object_id"), rs.getString("merchant_id"), rs.getString("changes"));
  }
}
