package io.tollgate.gateway.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
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
          + " p.created_at AS p_created_at, p.status AS p_status, p.review_note AS p_review_note,"
          + " p.first_listed_at AS p_first_listed_at, p.licence_heartbeat_ms AS p_licence_heartbeat_ms,"
          + " p.licence_public_key AS p_licence_public_key";
  /** The columns of support failures {@code f}. */
  private static final String FAILURE_COLUMNS = "f.id, f.product_id, f.note, f.created_at";

  private ProductStore() {}

  static void insert(Connection c, Product p) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO products (name, protocol, endpoints, auth_type, auth_access_key,"
            + " auth_secret_key, connect_timeout_ms, response_timeout_ms, paths,"
            + " health_check_path, tokenizer, usage_pointers, licence_heartbeat_ms, id, merchant_id, created_at,"
            + " status, review_note, first_listed_at, licence_public_key)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      int i = bindFields(ps, p);
      ps.setString(i++, p.id());
      ps.setString(i++, p.merchantId());
      Jdbc.setInstant(ps, i++, p.createdAt());
      i = bindListing(ps, i, p.listing());
      ps.setString(i, p.licence() == null ? null : p.licence().publicKey());
      ps.executeUpdate();
    }
  }

  /** Replaces the listing state; the other fields stay. */
  static void setListing(Connection c, String id, Listing listing) throws SQLException {
    try (var ps = c.prepareStatement(
        "UPDATE products SET status = ?, review_note = ?, first_listed_at = ? WHERE id = ?")) {
      int i = bindListing(ps, 1, listing);
      ps.setString(i, id);
      ps.executeUpdate();
    }
  }

  private static int bindListing(PreparedStatement ps, int i, Listing listing) throws SQLException {
    ps.setString(i++, listing.status().name());
    ps.setString(i++, listing.reviewNote());
    Jdbc.setInstant(ps, i++, listing.firstListedAt());
    return i;
  }

  /** Replaces the editable fields; false if there is no such product. */
  static boolean update(Connection c, Product p) throws SQLException {
    try (var ps = c.prepareStatement(
        "UPDATE products SET name = ?, protocol = ?, endpoints = ?, auth_type = ?,"
            + " auth_access_key = ?, auth_secret_key = ?, connect_timeout_ms = ?,"
            + " response_timeout_ms = ?, paths = ?, health_check_path = ?, tokenizer = ?,"
            + " usage_pointers = ?, licence_heartbeat_ms = ? WHERE id = ?")) {
      int i = bindFields(ps, p);
      ps.setString(i, p.id());
      return ps.executeUpdate() > 0;
    }
  }

  static Optional<Product> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM products p WHERE p.id = ?", id, ProductStore::product);
  }

  /** The product, its row locked for the transaction; NOT_FOUND if there is none. */
  static Product lock(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM products p WHERE p.id = ? FOR UPDATE", id,
            ProductStore::product)
        .orElseThrow(() -> CatalogException.notFound("product", id));
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
   * A page of products, oldest first: one merchant's (null: everyone's), in one listing status
   * (null: any).
   *
   * @throws IllegalArgumentException when {@code page.after()} names no product of that selection
   */
  static Page<Product> page(Connection c, String merchantId, ListingStatus status, PageQuery page)
      throws SQLException {
    var where = new StringBuilder("FROM products p WHERE TRUE");
    var args = new java.util.ArrayList<Object>();
    if (merchantId != null) {
      where.append(" AND p.merchant_id = ?");
      args.add(merchantId);
    }
    if (status != null) {
      where.append(" AND p.status = ?");
      args.add(status.name());
    }
    return Keyset.page(c, COLUMNS, where.toString(), args, "p", page, ProductStore::product,
        new IllegalArgumentException("after names no product you can list: " + page.after()));
  }

  static Optional<String> merchantOf(Connection c, String productId) throws SQLException {
    return Jdbc.queryOne(c, "SELECT merchant_id FROM products WHERE id = ?", productId, rs -> rs.getString(1));
  }

  // ---------------------------------------------------------------- support failures

  static void insertSupportFailure(Connection c, SupportFailure f) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO product_support_failures (id, product_id, note, created_at) VALUES (?, ?, ?, ?)")) {
      ps.setString(1, f.id());
      ps.setString(2, f.productId());
      ps.setString(3, f.note());
      Jdbc.setInstant(ps, 4, f.createdAt());
      ps.executeUpdate();
    }
  }

  /** The product's support failures recorded after {@code after}. */
  static int countSupportFailuresAfter(Connection c, String productId, Instant after) throws SQLException {
    return Jdbc.queryList(c,
        "SELECT COUNT(*) AS n FROM product_support_failures WHERE product_id = ? AND created_at > ?",
        List.of(productId, after), rs -> rs.getInt("n")).get(0);
  }

  /**
   * A page of a product's support failures, oldest first.
   *
   * @throws IllegalArgumentException when {@code page.after()} names no failure of that product
   */
  static Page<SupportFailure> pageSupportFailures(Connection c, String productId, PageQuery page) throws SQLException {
    return Keyset.page(c, FAILURE_COLUMNS, "FROM product_support_failures f WHERE f.product_id = ?",
        List.of(productId), "f", page,
        rs -> new SupportFailure(rs.getString("id"), rs.getString("product_id"), rs.getString("note"),
            Jdbc.getInstant(rs, "created_at")),
        new IllegalArgumentException("after names no support failure of product " + productId + ": " + page.after()));
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
    if (p.licence() == null) {
      ps.setNull(i++, java.sql.Types.BIGINT);
    } else {
      ps.setLong(i++, p.licence().heartbeatInterval().toMillis());
    }
    return i;
  }

  /** Maps the {@link #COLUMNS} of the current row. */
  static Product product(ResultSet rs) throws SQLException {
    String pointers = rs.getString("p_usage_pointers");
    Protocol protocol = Protocol.parse(rs.getString("p_protocol"));
    long heartbeatMs = rs.getLong("p_licence_heartbeat_ms");
    Product.LicenceTerms licence = protocol != Protocol.LICENCE ? null
        : new Product.LicenceTerms(rs.wasNull() ? null : Duration.ofMillis(heartbeatMs),
            rs.getString("p_licence_public_key"));
    return new Product(
        rs.getString("p_id"),
        rs.getString("p_merchant_id"),
        rs.getString("p_name"),
        protocol,
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
        Jdbc.getInstant(rs, "p_created_at"),
        new Listing(ListingStatus.valueOf(rs.getString("p_status")), rs.getString("p_review_note"),
            Jdbc.getInstant(rs, "p_first_listed_at")),
        licence);
  }

  // ---------------------------------------------------------------- licence keys

  /** Stores a licence product's private key (base64 PKCS#8 DER). */
  static void insertLicenceKey(Connection c, String productId, String privateKey, Instant at) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO licence_keys (product_id, private_key, created_at) VALUES (?, ?, ?)")) {
      ps.setString(1, productId);
      ps.setString(2, privateKey);
      Jdbc.setInstant(ps, 3, at);
      ps.executeUpdate();
    }
  }

  /** A licence product's private key (base64 PKCS#8 DER), if it has one. */
  static Optional<String> licenceKey(Connection c, String productId) throws SQLException {
    return Jdbc.queryOne(c, "SELECT private_key FROM licence_keys WHERE product_id = ?", productId,
        rs -> rs.getString(1));
  }
}
