package io.tollgate.gateway.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code subscriptions} table, and the snapshot that joins a subscription to its SKU, product
 * and merchant: rows in, rows out; no rules.
 */
final class SubscriptionStore {

  static final String COLUMNS =
      "s.id AS s_id, s.sku_id AS s_sku_id, s.buyer_id AS s_buyer_id,"
          + " s.buyer_name AS s_buyer_name, s.status AS s_status, s.test AS s_test,"
          + " s.created_at AS s_created_at, s.period_start AS s_period_start,"
          + " s.expires_at AS s_expires_at, s.quota AS s_quota,"
          + " s.attributes AS s_attributes, s.quantities AS s_quantities";
  private static final String SNAPSHOT_FROM =
      " FROM subscriptions s JOIN skus k ON k.id = s.sku_id"
          + " JOIN products p ON p.id = k.product_id"
          + " JOIN merchants m ON m.id = p.merchant_id"
          + SkuStore.LATEST_PRICE_JOIN;
  private static final String SNAPSHOT_COLUMNS =
      COLUMNS + ", " + SkuStore.COLUMNS + ", " + ProductStore.COLUMNS + ", " + MerchantStore.COLUMNS;
  private static final String SNAPSHOT_SELECT = "SELECT " + SNAPSHOT_COLUMNS + SNAPSHOT_FROM;
  private static final TypeReference<Map<String, String>> ATTRIBUTES = new TypeReference<>() {};
  private static final TypeReference<Map<String, Long>> QUANTITIES = new TypeReference<>() {};

  private SubscriptionStore() {}

  static void insert(Connection c, Subscription sub, String keyHash) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO subscriptions (id, sku_id, buyer_id, buyer_name, status, test,"
            + " key_hash, created_at, period_start, expires_at, quota, attributes, quantities)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, sub.id());
      ps.setString(2, sub.skuId());
      ps.setString(3, sub.buyerId());
      ps.setString(4, sub.buyerName());
      ps.setString(5, sub.status().name());
      ps.setBoolean(6, sub.test());
      ps.setString(7, keyHash);
      Jdbc.setInstant(ps, 8, sub.createdAt());
      Jdbc.setInstant(ps, 9, sub.periodStart());
      Jdbc.setInstant(ps, 10, sub.expiresAt());
      Jdbc.setLong(ps, 11, sub.quota());
      ps.setString(12, Jdbc.toJson(sub.choices().attributes()));
      ps.setString(13, Jdbc.toJson(sub.choices().quantities()));
      ps.executeUpdate();
    }
  }

  static Optional<Subscription> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM subscriptions s WHERE s.id = ?", id,
        SubscriptionStore::subscription);
  }

  /** The subscription, its row locked for the transaction; NOT_FOUND if there is none. */
  static Subscription lock(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM subscriptions s WHERE s.id = ? FOR UPDATE", id,
            SubscriptionStore::subscription)
        .orElseThrow(() -> CatalogException.notFound("subscription", id));
  }

  static void setStatus(Connection c, String id, SubscriptionStatus status) throws SQLException {
    try (var ps = c.prepareStatement("UPDATE subscriptions SET status = ? WHERE id = ?")) {
      ps.setString(1, status.name());
      ps.setString(2, id);
      ps.executeUpdate();
    }
  }

  static void setPeriod(Connection c, Subscription s) throws SQLException {
    try (var ps = c.prepareStatement(
        "UPDATE subscriptions SET period_start = ?, expires_at = ?, quota = ? WHERE id = ?")) {
      Jdbc.setInstant(ps, 1, s.periodStart());
      Jdbc.setInstant(ps, 2, s.expiresAt());
      Jdbc.setLong(ps, 3, s.quota());
      ps.setString(4, s.id());
      ps.executeUpdate();
    }
  }

  static void setKeyHash(Connection c, String id, String keyHash) throws SQLException {
    try (var ps = c.prepareStatement("UPDATE subscriptions SET key_hash = ? WHERE id = ?")) {
      ps.setString(1, keyHash);
      ps.setString(2, id);
      ps.executeUpdate();
    }
  }

  /** Whether a buyer (not a merchant's test key) ever subscribed to the SKU. */
  static boolean hasBuyers(Connection c, String skuId) throws SQLException {
    return Jdbc.exists(c, "SELECT 1 FROM subscriptions WHERE sku_id = ? AND test = FALSE", skuId);
  }

  static Optional<SubscriptionSnapshot> snapshotByKeyHash(Connection c, String keyHash) throws SQLException {
    return Jdbc.queryOne(c, SNAPSHOT_SELECT + " WHERE s.key_hash = ?", keyHash, SubscriptionStore::snapshot);
  }

  static Optional<SubscriptionSnapshot> snapshotById(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, SNAPSHOT_SELECT + " WHERE s.id = ?", id, SubscriptionStore::snapshot);
  }

  /** The test subscriptions of {@code skuIds} that expire after {@code after}, by id. */
  static List<Subscription> testsExpiringAfter(Connection c, Collection<String> skuIds, Instant after)
      throws SQLException {
    String in = String.join(", ", Collections.nCopies(skuIds.size(), "?"));
    var args = new ArrayList<Object>();
    args.add(after);
    args.addAll(skuIds);
    return Jdbc.queryList(c, "SELECT " + COLUMNS + " FROM subscriptions s WHERE s.test = TRUE"
        + " AND s.expires_at > ? AND s.sku_id IN (" + in + ") ORDER BY s.id", args, SubscriptionStore::subscription);
  }

  /**
   * A page of subscriptions with their SKUs and products, oldest first, selected by {@code
   * filter}; {@code now} decides which are expired (ACTIVE past {@code expires_at}, as {@link
   * Subscription#statusAt} says).
   *
   * @throws IllegalArgumentException when {@code page.after()} names no subscription of that
   *     selection
   */
  static Page<SubscriptionSnapshot> page(Connection c, SubscriptionFilter filter, Instant now, PageQuery page)
      throws SQLException {
    var where = new StringBuilder(SNAPSHOT_FROM).append(" WHERE TRUE");
    var args = new ArrayList<Object>();
    filter(where, args, " AND p.merchant_id = ?", filter.merchantId());
    filter(where, args, " AND s.sku_id = ?", filter.skuId());
    filter(where, args, " AND k.product_id = ?", filter.productId());
    filter(where, args, " AND s.buyer_id = ?", filter.buyerId());
    filter(where, args, " AND s.test = ?", filter.test());
    if (filter.status() != null) {
      switch (filter.status()) {
        case ACTIVE -> filter(where, args, " AND s.status = 'ACTIVE' AND (s.expires_at IS NULL OR s.expires_at > ?)", now);
        case EXPIRED -> filter(where, args, " AND s.status = 'ACTIVE' AND s.expires_at <= ?", now);
        default -> filter(where, args, " AND s.status = ?", filter.status().name());
      }
    }
    return Keyset.page(c, SNAPSHOT_COLUMNS, where.toString(), args, "s", page, SubscriptionStore::snapshot,
        new IllegalArgumentException("after names no subscription you can list: " + page.after()));
  }

  private static void filter(StringBuilder where, List<Object> args, String condition, Object value) {
    if (value != null) {
      where.append(condition);
      args.add(value);
    }
  }

  static Subscription subscription(ResultSet rs) throws SQLException {
    return new Subscription(
        rs.getString("s_id"),
        rs.getString("s_sku_id"),
        rs.getString("s_buyer_id"),
        rs.getString("s_buyer_name"),
        SubscriptionStatus.valueOf(rs.getString("s_status")),
        rs.getBoolean("s_test"),
        Jdbc.getInstant(rs, "s_created_at"),
        Jdbc.getInstant(rs, "s_period_start"),
        Jdbc.getInstant(rs, "s_expires_at"),
        Jdbc.getLong(rs, "s_quota"),
        new PurchaseChoices(Jdbc.fromJson(rs.getString("s_attributes"), ATTRIBUTES),
            Jdbc.fromJson(rs.getString("s_quantities"), QUANTITIES)));
  }

  private static SubscriptionSnapshot snapshot(ResultSet rs) throws SQLException {
    return new SubscriptionSnapshot(subscription(rs), SkuStore.sku(rs), ProductStore.product(rs),
        MerchantStore.merchant(rs));
  }
}
