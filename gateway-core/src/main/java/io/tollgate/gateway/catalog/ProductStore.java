package io.tollgate.gateway.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The {@code products} table: rows in, rows out; no rules. */
final class ProductStore {

  private static final TypeReference<List<Endpoint>> ENDPOINTS = new TypeReference<>() {};
  private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {};

  /** The columns of products {@code p}, aliased {@code p_*} so they join with other tables'. */
  static final String COLUMNS =
      "p.id AS p_id, p.merchant_id AS p_merchant_id, p.name AS p_name, p.protocol AS p_protocol,"
          + " p.endpoints AS p_endpoints, p.auth_type AS p_auth_type,"
          + " p.auth_access_key AS p_auth_access_key, p.auth_secret_key AS p_auth_secret_key,"
          + " p.connect_timeout_ms AS p_connect_timeout_ms,"
          + " p.response_timeout_ms AS p_response_timeout_ms, p.paths AS p_paths,"
          + " p.health_check_path AS p_health_check_path, p.tokenizer AS p_tokenizer, p.usage_pointers AS p_usage_pointers,"
          + " p.created_at AS p_created_at";

  private ProductStore() {}

  static void insert(Connection c, Product p) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO products (name, protocol, endpoints, auth_type, auth_access_key,"
            + " auth_secret_key, connect_timeout_ms, response_timeout_ms, paths,"
            + " health_check_path, tokenizer, usage_pointers, id, merchant_id, created_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      int i = bindFields(ps, p);
      ps.setString(i++, p.id());
      ps.setString(i++, p.merchantId());
      Jdbc.setInstant(ps, i, p.createdAt());
      ps.executeUpdate();
    }
  }

  /** Replaces the editable fields; false if there is no such product. */
  static boolean update(Connection c, Product p) throws SQLException {
    try (var ps = c.prepareStatement(
        "UPDATE products SET name = ?, protocol = ?, endpoints = ?, auth_type = ?,"
            + " auth_access_key = ?, auth_secret_key = ?, connect_timeout_ms = ?,"
            + " response_timeout_ms = ?, paths = ?, health_check_path = ?, tokenizer = ?,"
            + " usage_pointers = ? WHERE id = ?")) {
      int i = bindFields(ps, p);
      ps.setString(i, p.id());
      return ps.executeUpdate() > 0;
    }
  }

  static Optional<Product> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM products p WHERE p.id = ?", id, ProductStore::product);
  }

  static boolean exists(Connection c, String id) throws SQLException {
    return Jdbc.exists(c, "SELECT 1 FROM products WHERE id = ?", id);
  }

  /** Every product, or one merchant's (null: all), oldest first. */
  static List<Product> list(Connection c, String merchantId) throws SQLException {
    return merchantId == null
        ? Jdbc.queryList(c, "SELECT " + COLUMNS + " FROM products p ORDER BY p.created_at, p.id", List.of(),
            ProductStore::product)
        : Jdbc.queryList(c, "SELECT " + COLUMNS + " FROM products p WHERE p.merchant_id = ?"
            + " ORDER BY p.created_at, p.id", List.of(merchantId), ProductStore::product);
  }

  /**
   * A page of products, oldest first: one merchant's (null: everyone's).
   *
   * @throws IllegalArgumentException when {@code page.after()} names no product of that selection
   */
  static Page<Product> page(Connection c, String merchantId, PageQuery page) throws SQLException {
    var where = new StringBuilder("FROM products p WHERE TRUE");
    var args = new java.util.ArrayList<Object>();
    if (merchantId != null) {
      where.append(" AND p.merchant_id = ?");
      args.add(merchantId);
    }
    return Keyset.page(c, COLUMNS, where.toString(), args, "p", page, ProductStore::product,
        new IllegalArgumentException("after names no product you can list: " + page.after()));
  }

  static Optional<String> merchantOf(Connection c, String productId) throws SQLException {
    return Jdbc.queryOne(c, "SELECT merchant_id FROM products WHERE id = ?", productId, rs -> rs.getString(1));
  }

  private static int bindFields(PreparedStatement ps, Product p) throws SQLException {
    int i = 1;
    ps.setString(i++, p.name());
    ps.setString(i++, p.protocol().wireName());
    ps.setString(i++, Jdbc.toJson(p.endpoints()));
    ps.setString(i++, p.auth().type().name());
    ps.setString(i++, p.auth().accessKey());
    ps.setString(i++, p.auth().secretKey());
    ps.setLong(i++, p.connectTimeout().toMillis());
    ps.setLong(i++, p.responseTimeout().toMillis());
    ps.setString(i++, Jdbc.toJson(p.paths()));
    ps.setString(i++, p.healthCheckPath());
    ps.setString(i++, p.tokenizer());
    ps.setString(i++, Jdbc.toJson(p.usagePointers()));
    return i;
  }

  /** Maps the {@link #COLUMNS} of the current row. */
  static Product product(ResultSet rs) throws SQLException {
    String pointers = rs.getString("p_usage_pointers");
    return new Product(
        rs.getString("p_id"),
        rs.getString("p_merchant_id"),
        rs.getString("p_name"),
        Protocol.parse(rs.getString("p_protocol")),
        Jdbc.fromJson(rs.getString("p_endpoints"), ENDPOINTS),
        new UpstreamAuth(
            UpstreamAuth.Type.valueOf(rs.getString("p_auth_type")),
            rs.getString("p_auth_access_key"),
            rs.getString("p_auth_secret_key")),
        Duration.ofMillis(rs.getLong("p_connect_timeout_ms")),
        Duration.ofMillis(rs.getLong("p_response_timeout_ms")),
        Jdbc.fromJson(rs.getString("p_paths"), STRINGS),
        rs.getString("p_health_check_path"),
        rs.getString("p_tokenizer"),
        pointers == null ? List.of() : Jdbc.fromJson(pointers, STRINGS),
        Jdbc.getInstant(rs, "p_created_at"));
  }
}
