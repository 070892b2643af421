package io.tollgate.gateway.catalog;

import com.fasterxml.jackson.core.type.TypeReference;
import io.tollgate.billing.BillingMode;
import io.tollgate.billing.PriceEntry;
import io.tollgate.billing.SkuTerms;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code skus} and {@code sku_prices} tables: rows in, rows out; no rules. A SKU is read with
 * the price row in force now, its latest.
 */
final class SkuStore {

  private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {};
  private static final TypeReference<Map<String, List<String>>> ATTRIBUTES = new TypeReference<>() {};
  private static final TypeReference<Map<String, Sku.QuantityRange>> QUANTITIES = new TypeReference<>() {};

  /** The columns of a price row {@code pr}, aliased {@code pr_*}. */
  static final String PRICE_COLUMNS =
      "pr.effective_from AS pr_effective_from, pr.currency AS pr_currency,"
          + " pr.input_price_per_million AS pr_input,"
          + " pr.cached_input_price_per_million AS pr_cached_input,"
          + " pr.output_price_per_million AS pr_output,"
          + " pr.price_per_call AS pr_per_call, pr.price AS pr_price";
  /** The columns of SKU {@code k}, aliased {@code k_*}, and its price row {@code pr}. */
  static final String COLUMNS =
      "k.id AS k_id, k.product_id AS k_product_id, k.name AS k_name,"
          + " k.attributes AS k_attributes, k.models AS k_models, k.mode AS k_mode,"
          + " k.quota AS k_quota, k.period AS k_period, k.rpm AS k_rpm, k.tpm AS k_tpm,"
          + " k.quantities AS k_quantities, k.created_at AS k_created_at, "
          + PRICE_COLUMNS;
  /** Joins a SKU {@code k} to its latest price row {@code pr}: the one in force now. */
  static final String LATEST_PRICE_JOIN =
      " JOIN sku_prices pr ON pr.sku_id = k.id AND pr.effective_from ="
          + " (SELECT MAX(x.effective_from) FROM sku_prices x WHERE x.sku_id = k.id)";

  private SkuStore() {}

  static void insert(Connection c, Sku s) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO skus (name, attributes, models, mode, quota, period, rpm, tpm,"
            + " quantities, id, product_id, created_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      int i = bindFields(ps, s);
      ps.setString(i++, s.id());
      ps.setString(i++, s.productId());
      Jdbc.setInstant(ps, i, s.createdAt());
      ps.executeUpdate();
    }
    insertPrices(c, s.id(), s.prices());
  }

  static void update(Connection c, Sku s) throws SQLException {
    try (var ps = c.prepareStatement(
        "UPDATE skus SET name = ?, attributes = ?, models = ?, mode = ?, quota = ?,"
            + " period = ?, rpm = ?, tpm = ?, quantities = ? WHERE id = ?")) {
      int i = bindFields(ps, s);
      ps.setString(i, s.id());
      ps.executeUpdate();
    }
  }

  /** Locks the SKU's row for the transaction; NOT_FOUND if there is none. */
  static void lock(Connection c, String id) throws SQLException {
    Jdbc.lockRow(c, "SELECT id FROM skus WHERE id = ? FOR UPDATE", id, "sku");
  }

  static boolean exists(Connection c, String id) throws SQLException {
    return Jdbc.exists(c, "SELECT 1 FROM skus WHERE id = ?", id);
  }

  static Optional<Sku> byId(Connection c, String id) throws SQLException {
    return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN + " WHERE k.id = ?", id,
        SkuStore::sku);
  }

  static Sku require(Connection c, String id) throws SQLException {
    return byId(c, id).orElseThrow(() -> CatalogException.notFound("sku", id));
  }

  /** The SKUs of a product, oldest first. */
  static List<Sku> ofProduct(Connection c, String productId) throws SQLException {
    return Jdbc.queryList(c, "SELECT " + COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN
        + " WHERE k.product_id = ? ORDER BY k.created_at, k.id", List.of(productId), SkuStore::sku);
  }

  static List<String> allIds(Connection c) throws SQLException {
    return Jdbc.queryList(c, "SELECT k.id FROM skus k ORDER BY k.created_at, k.id", List.of(), rs -> rs.getString(1));
  }

  /** A page of a product's SKUs, oldest first. */
  static Page<Sku> page(Connection c, String productId, PageQuery page) throws SQLException {
    return Keyset.page(c, COLUMNS, "FROM skus k" + LATEST_PRICE_JOIN + " WHERE k.product_id = ?", List.of(productId),
        "k", page, SkuStore::sku, new IllegalArgumentException("after names no SKU of this product: " + page.after()));
  }

  /** How many SKUs a product has. */
  static int countOfProduct(Connection c, String productId) throws SQLException {
    return Jdbc.queryList(c, "SELECT COUNT(*) AS n FROM skus WHERE product_id = ?", List.of(productId),
        rs -> rs.getInt("n")).get(0);
  }

  /** The ids of every SKU of a merchant's products. */
  static List<String> idsOfMerchant(Connection c, String merchantId) throws SQLException {
    return Jdbc.queryList(c, "SELECT k.id FROM skus k JOIN products p ON p.id = k.product_id"
        + " WHERE p.merchant_id = ? ORDER BY k.created_at, k.id", List.of(merchantId), rs -> rs.getString(1));
  }

  static void insertPrices(Connection c, String skuId, Prices p) throws SQLException {
    try (var ps = c.prepareStatement(
        "INSERT INTO sku_prices (sku_id, effective_from, currency, input_price_per_million,"
            + " cached_input_price_per_million, output_price_per_million, price_per_call, price)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, skuId);
      Jdbc.setInstant(ps, 2, p.effectiveFrom());
      ps.setString(3, p.currency());
      ps.setBigDecimal(4, p.inputPricePerMillion());
      ps.setBigDecimal(5, p.cachedInputPricePerMillion());
      ps.setBigDecimal(6, p.outputPricePerMillion());
      ps.setBigDecimal(7, p.pricePerCall());
      ps.setBigDecimal(8, p.price());
      ps.executeUpdate();
    }
  }

  static void deletePrices(Connection c, String skuId, Instant effectiveFrom) throws SQLException {
    try (var ps = c.prepareStatement("DELETE FROM sku_prices WHERE sku_id = ? AND effective_from = ?")) {
      ps.setString(1, skuId);
      Jdbc.setInstant(ps, 2, effectiveFrom);
      ps.executeUpdate();
    }
  }

  /** The price row in force at {@code at} (already in microseconds): the latest not after it. */
  static Optional<Prices> pricesAt(Connection c, String skuId, Instant at) throws SQLException {
    try (var ps = c.prepareStatement("SELECT " + PRICE_COLUMNS + " FROM sku_prices pr"
        + " WHERE pr.sku_id = ? AND pr.effective_from <= ? ORDER BY pr.effective_from DESC LIMIT 1")) {
      ps.setString(1, skuId);
      Jdbc.setInstant(ps, 2, at);
      try (var rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(prices(rs)) : Optional.empty();
      }
    }
  }

  static List<Prices> priceHistory(Connection c, String skuId) throws SQLException {
    return Jdbc.queryList(c, "SELECT " + PRICE_COLUMNS
        + " FROM sku_prices pr WHERE pr.sku_id = ? ORDER BY pr.effective_from", List.of(skuId), SkuStore::prices);
  }

  /** A SKU's billing mode and whole price history, in one statement. */
  static SkuTerms terms(Connection c, String skuId) throws SQLException {
    try (var ps = c.prepareStatement("SELECT k.mode AS k_mode, " + PRICE_COLUMNS
        + " FROM skus k JOIN sku_prices pr ON pr.sku_id = k.id WHERE k.id = ? ORDER BY pr.effective_from")) {
      ps.setString(1, skuId);
      try (var rs = ps.executeQuery()) {
        BillingMode mode = null;
        var history = new ArrayList<PriceEntry>();
        while (rs.next()) {
          mode = BillingMode.valueOf(rs.getString("k_mode"));
          history.add(prices(rs).entry());
        }
        if (mode == null) {
          throw CatalogException.notFound("sku", skuId);
        }
        return new SkuTerms(skuId, mode, history);
      }
    }
  }

  private static int bindFields(PreparedStatement ps, Sku s) throws SQLException {
    int i = 1;
    ps.setString(i++, s.name());
    ps.setString(i++, Jdbc.toJson(s.attributes()));
    ps.setString(i++, Jdbc.toJson(s.models()));
    ps.setString(i++, s.mode().name());
    Jdbc.setLong(ps, i++, s.quota());
    ps.setString(i++, s.period() == null ? null : s.period().name());
    Jdbc.setInt(ps, i++, s.rpm());
    Jdbc.setInt(ps, i++, s.tpm());
    ps.setString(i++, Jdbc.toJson(s.quantities()));
    return i;
  }

  static Prices prices(ResultSet rs) throws SQLException {
    return new Prices(
        Jdbc.getInstant(rs, "pr_effective_from"),
        rs.getString("pr_currency"),
        Jdbc.money(rs, "pr_input"),
        Jdbc.money(rs, "pr_cached_input"),
        Jdbc.money(rs, "pr_output"),
        Jdbc.money(rs, "pr_per_call"),
        Jdbc.money(rs, "pr_price"));
  }

  /** Maps the {@link #COLUMNS} of the current row. */
  static Sku sku(ResultSet rs) throws SQLException {
    String period = rs.getString("k_period");
    return new Sku(
        rs.getString("k_id"),
        rs.getString("k_product_id"),
        rs.getString("k_name"),
        Jdbc.fromJson(rs.getString("k_attributes"), ATTRIBUTES),
        Jdbc.fromJson(rs.getString("k_models"), STRINGS),
        BillingMode.valueOf(rs.getString("k_mode")),
        prices(rs),
        Jdbc.getLong(rs, "k_quota"),
        period == null ? null : Period.valueOf(period),
        Jdbc.getInt(rs, "k_rpm"),
        Jdbc.getInt(rs, "k_tpm"),
        Jdbc.fromJson(rs.getString("k_quantities"), QUANTITIES),
        Jdbc.getInstant(rs, "k_created_at"));
  }
}
