package io.tollgate.gateway.catalog;

import io.tollgate.billing.BillingMode;
import io.tollgate.billing.PriceEntry;
import io.tollgate.billing.PurchaseOrder;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.SkuTerms;
import com.github.benmanes.caffeine.cache.Ticker;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/**
 * The catalog's single store: merchants, products, SKUs with their price history, and
 * subscriptions, over JDBC on PostgreSQL or H2 (same SQL, same Flyway migrations).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Keys and tokens are stored only as SHA-256; the plain value leaves this class once, in
 *       {@link IssuedKey} or {@link CreatedMerchant}.
 *   <li>{@link #findSnapshotByKeyHash} resolves a key to subscription, SKU (with the prices in
 *       force) and product in one statement: it is the buyer port's cache loader, so a miss costs
 *       one round trip.
 *   <li>Once a SKU has a (non-test) subscription, its name, billing mode, currency, quota and
 *       period are fixed; its prices may change, from the moment of the change on, and every past
 *       price stays queryable by time ({@link #pricesAt}). Price rows are only appended.
 *   <li>Subscription writes run in a transaction that locks the row (and SKU writes lock the SKU
 *       row, as does subscribing), so a SKU cannot change billing mode while it is being bought.
 *   <li>Buying or renewing a package SKU queues a {@link PurchaseOrder} in the billing ledger's
 *       outbox in the same transaction ({@link RecordLedger#enqueuePurchase}): a purchase is
 *       recorded exactly when its subscription period commits, never without it.
 * </ul>
 *
 * <p>Every method blocks on JDBC: call it from a worker thread, never an event loop. Times are
 * stored with microsecond precision (PostgreSQL's), so instants are truncated to microseconds.
 */
public final class CatalogRepository implements AutoCloseable {

  /** How long a merchant's test subscription lasts (and each renewal of it). */
  public static final Duration TEST_PERIOD = Duration.ofDays(7);

  /** The quota of a test subscription of a token-metered SKU. */
  public static final long TEST_TOKEN_QUOTA = 100_000;

  /** The quota of a test subscription of a call-metered SKU. */
  public static final long TEST_CALL_QUOTA = 1_000;

  /** Money columns are NUMERIC(38,18). */
  public static final int MONEY_SCALE = 18;

  private static final int MONEY_INTEGER_DIGITS = 38 - MONEY_SCALE;
  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<List<Endpoint>> ENDPOINTS = new TypeReference<>() {};
  private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {};
  private static final TypeReference<Map<String, List<String>>> ATTRIBUTES = new TypeReference<>() {};
  private static final TypeReference<Map<String, Sku.QuantityRange>> QUANTITIES =
      new TypeReference<>() {};

  private static final String PRODUCT_COLUMNS =
      "p.id AS p_id, p.merchant_id AS p_merchant_id, p.name AS p_name, p.protocol AS p_protocol,"
          + " p.endpoints AS p_endpoints, p.auth_type AS p_auth_type,"
          + " p.auth_access_key AS p_auth_access_key, p.auth_secret_key AS p_auth_secret_key,"
          + " p.connect_timeout_ms AS p_connect_timeout_ms,"
          + " p.response_timeout_ms AS p_response_timeout_ms, p.paths AS p_paths,"
          + " p.health_check_path AS p_health_check_path, p.tokenizer AS p_tokenizer, p.usage_pointers AS p_usage_pointers,"
          + " p.created_at AS p_created_at";
  private static final String PRICE_COLUMNS =
      "pr.effective_from AS pr_effective_from, pr.currency AS pr_currency,"
          + " pr.input_price_per_million AS pr_input,"
          + " pr.cached_input_price_per_million AS pr_cached_input,"
          + " pr.output_price_per_million AS pr_output,"
          + " pr.price_per_call AS pr_per_call, pr.price AS pr_price";
  private static final String SKU_COLUMNS =
      "k.id AS k_id, k.product_id AS k_product_id, k.name AS k_name,"
          + " k.attributes AS k_attributes, k.models AS k_models, k.mode AS k_mode,"
          + " k.quota AS k_quota, k.period AS k_period, k.rpm AS k_rpm, k.tpm AS k_tpm,"
          + " k.quantities AS k_quantities, k.created_at AS k_created_at, "
          + PRICE_COLUMNS;
  /** Joins a SKU {@code k} to its latest price row {@code pr}: the one in force now. */
  private static final String LATEST_PRICE_JOIN =
      " JOIN sku_prices pr ON pr.sku_id = k.id AND pr.effective_from ="
          + " (SELECT MAX(x.effective_from) FROM sku_prices x WHERE x.sku_id = k.id)";
  private static final String SUBSCRIPTION_COLUMNS =
      "s.id AS s_id, s.sku_id AS s_sku_id, s.buyer_id AS s_buyer_id,"
          + " s.buyer_name AS s_buyer_name, s.status AS s_status, s.test AS s_test,"
          + " s.created_at AS s_created_at, s.period_start AS s_period_start,"
          + " s.expires_at AS s_expires_at, s.quota AS s_quota";
  private static final String SNAPSHOT_SELECT =
      "SELECT " + SUBSCRIPTION_COLUMNS + ", " + SKU_COLUMNS + ", " + PRODUCT_COLUMNS
          + " FROM subscriptions s JOIN skus k ON k.id = s.sku_id"
          + " JOIN products p ON p.id = k.product_id"
          + LATEST_PRICE_JOIN;

  private final DataSource dataSource;
  private final Clock clock;
  private final AutoCloseable owned;
  private final CatalogPriceBook priceBook;
  private volatile PurchaseOutbox purchases = RecordLedger::enqueuePurchase;

  /** Where purchases are queued, in the transaction of the subscription write that makes them. */
  @FunctionalInterface
  interface PurchaseOutbox {
    void enqueue(Connection c, PurchaseOrder order) throws SQLException;
  }

  /**
   * A repository over an already migrated data source (see {@link #migrate}); the caller keeps
   * ownership of the data source.
   */
  public CatalogRepository(DataSource dataSource, Clock clock) {
    this(dataSource, clock, null);
  }

  private CatalogRepository(DataSource dataSource, Clock clock, AutoCloseable owned) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.owned = owned;
    this.priceBook = new CatalogPriceBook(this::skuTerms, CatalogPriceBook.DEFAULT_MAX_AGE, Ticker.systemTicker());
  }

  /** Default pgjdbc {@code socketTimeout}: longer than any catalog or usage query should run. */
  static final String POSTGRES_SOCKET_TIMEOUT_SECONDS = "30";

  /**
   * Opens a pooled (HikariCP) connection to {@code jdbcUrl}, applies the migrations and returns a
   * repository that closes the pool on {@link #close()}. For the embedded store use {@link
   * #h2FileUrl}; for PostgreSQL {@code jdbc:postgresql://host:5432/db}.
   *
   * @throws CatalogException of kind UNAVAILABLE, naming the URL (never the password), when the
   *     database cannot be reached or migrated
   */
  public static CatalogRepository open(String jdbcUrl, String user, String password, Clock clock) {
    Objects.requireNonNull(jdbcUrl, "jdbcUrl");
    var config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setPoolName("tollgate-catalog");
    config.setMaximumPoolSize(8);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(5_000);
    config.setInitializationFailTimeout(5_000);
    if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      // pgjdbc waits on a socket without limit by default, so a network partition could hang a
      // pooled connection, and the usage flusher on it, for good. Parameters in the URL win.
      config.addDataSourceProperty("socketTimeout", POSTGRES_SOCKET_TIMEOUT_SECONDS);
      config.addDataSourceProperty("tcpKeepAlive", "true");
    }
    HikariDataSource ds;
    try {
      ds = new HikariDataSource(config);
    } catch (RuntimeException e) {
      throw new CatalogException(
          CatalogException.Kind.UNAVAILABLE,
          "catalog database unreachable at "
              + jdbcUrl
              + " (is it installed and running? for PostgreSQL: start `postgresql`): "
              + rootMessage(e),
          e);
    }
    try {
      migrate(ds);
    } catch (RuntimeException e) {
      ds.close();
      throw new CatalogException(
          CatalogException.Kind.UNAVAILABLE,
          "catalog migration failed on " + jdbcUrl + ": " + rootMessage(e),
          e);
    }
    return new CatalogRepository(ds, clock, ds);
  }

  /**
   * The embedded store's URL: the H2 file database {@code <dataDir>/tollgate} in PostgreSQL mode,
   * so that the same SQL runs on both. {@code WRITE_DELAY=0}: a commit reaches the file (the page
   * cache) before it returns, as the meter store's acknowledgements need. H2's default keeps
   * commits in memory for 500 ms, and a {@code kill -9} in that window lost acknowledged usage
   * whose journal segment was already trimmed (found by {@code GatewayKillTest}).
   */
  public static String h2FileUrl(String dataDir) {
    return "jdbc:h2:file:" + dataDir + "/tollgate;" + H2_SETTINGS + ";WRITE_DELAY=0";
  }

  /** The H2 settings the migrations and queries are tested with. */
  public static final String H2_SETTINGS =
      "MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";

  /**
   * Applies the catalog migrations ({@code classpath:db/migration}) to {@code dataSource}, then the
   * billing ledger's: subscription writes queue purchases in the ledger's outbox table.
   */
  public static void migrate(DataSource dataSource) {
    Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/migration")
        .load()
        .migrate();
    new RecordLedger(dataSource).migrate();
  }

  /** The pooled data source; the JDBC meter store shares it on the embedded setup. */
  public DataSource dataSource() {
    return dataSource;
  }

  /**
   * Checks that the database answers, for {@code /health/ready}.
   *
   * @throws CatalogException of kind UNAVAILABLE when it does not
   */
  public void ping() {
    try (var c = dataSource.getConnection()) {
      if (!c.isValid(2)) {
        throw new CatalogException(CatalogException.Kind.UNAVAILABLE, "catalog database did not answer", null);
      }
    } catch (java.sql.SQLException e) {
      throw new CatalogException(CatalogException.Kind.UNAVAILABLE, "catalog database unreachable: " + e.getMessage(), e);
    }
  }

  /**
   * The SKUs' billing modes and price histories, cached; the exporter and the usage views price
   * with it. Writes through this repository invalidate it (see {@link CatalogPriceBook}).
   */
  public CatalogPriceBook priceBook() {
    return priceBook;
  }

  /** Queues purchases with {@code outbox} instead of the ledger; for tests of this class. */
  void purchasesTo(PurchaseOutbox outbox) {
    this.purchases = Objects.requireNonNull(outbox, "outbox");
  }

  /** The clock that stamps creation times, price changes and subscription periods. */
  public Clock clock() {
    return clock;
  }

  @Override
  public void close() {
    if (owned != null) {
      try {
        owned.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing the catalog pool failed", e);
      }
    }
  }

  // ---------------------------------------------------------------- merchants

  /** Creates a merchant with a new admin token, returned once. */
  public CreatedMerchant createMerchant(String name) {
    requireText(name, "name");
    String token = ApiKeys.newMerchantToken();
    var merchant = new Merchant(ApiKeys.newId("mer"), name, now());
    inTransaction(
        c -> {
          try (var ps =
              c.prepareStatement(
                  "INSERT INTO merchants (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)")) {
            ps.setString(1, merchant.id());
            ps.setString(2, merchant.name());
            ps.setString(3, ApiKeys.sha256Hex(token));
            setInstant(ps, 4, merchant.createdAt());
            ps.executeUpdate();
          }
          return null;
        });
    return new CreatedMerchant(merchant, token);
  }

  public Optional<Merchant> getMerchant(String id) {
    return queryOne(
        "SELECT id, name, created_at FROM merchants WHERE id = ?", id, CatalogRepository::merchant);
  }

  /** The merchant whose token hashes to {@code tokenHash} (lower-case hex SHA-256). */
  public Optional<Merchant> findMerchantByTokenHash(String tokenHash) {
    if (tokenHash == null || !SHA256_HEX.matcher(tokenHash).matches()) {
      return Optional.empty();
    }
    return queryOne(
        "SELECT id, name, created_at FROM merchants WHERE token_hash = ?",
        tokenHash,
        CatalogRepository::merchant);
  }

  // ---------------------------------------------------------------- products

  /**
   * Stores a new product as given (its id chosen by the caller, e.g. {@link ApiKeys#newId}); a
   * null {@code createdAt} is stamped now.
   *
   * @throws CatalogException NOT_FOUND if the merchant does not exist, CONFLICT if the id is taken
   */
  public Product createProduct(Product product) {
    Instant createdAt =
        product.createdAt() == null ? now() : micros(product.createdAt());
    var stored = withCreatedAt(product, createdAt);
    inTransaction(
        c -> {
          if (!exists(c, "SELECT 1 FROM merchants WHERE id = ?", stored.merchantId())) {
            throw CatalogException.notFound("merchant", stored.merchantId());
          }
          if (exists(c, "SELECT 1 FROM products WHERE id = ?", stored.id())) {
            throw CatalogException.conflict("product id already exists: " + stored.id());
          }
          try (var ps =
              c.prepareStatement(
                  "INSERT INTO products (name, protocol, endpoints, auth_type, auth_access_key,"
                      + " auth_secret_key, connect_timeout_ms, response_timeout_ms, paths,"
                      + " health_check_path, tokenizer, usage_pointers, id, merchant_id, created_at)"
                      + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            int i = bindProductFields(ps, stored);
            ps.setString(i++, stored.id());
            ps.setString(i++, stored.merchantId());
            setInstant(ps, i, stored.createdAt());
            ps.executeUpdate();
          }
          return null;
        });
    return stored;
  }

  public Optional<Product> getProduct(String id) {
    return queryOne(
        "SELECT " + PRODUCT_COLUMNS + " FROM products p WHERE p.id = ?",
        id,
        CatalogRepository::product);
  }

  /** Every product, oldest first. */
  public List<Product> listProducts() {
    return queryList(
        "SELECT " + PRODUCT_COLUMNS + " FROM products p ORDER BY p.created_at, p.id",
        null,
        CatalogRepository::product);
  }

  /** The products of one merchant, oldest first. */
  public List<Product> listProductsOf(String merchantId) {
    return queryList(
        "SELECT " + PRODUCT_COLUMNS
            + " FROM products p WHERE p.merchant_id = ? ORDER BY p.created_at, p.id",
        merchantId,
        CatalogRepository::product);
  }

  /**
   * Replaces the product's fields with {@code product}'s; its merchant and creation time stay
   * those stored.
   *
   * @return the stored product
   * @throws CatalogException NOT_FOUND if there is no such product
   */
  public Product updateProduct(Product product) {
    inTransaction(
        c -> {
          try (var ps =
              c.prepareStatement(
                  "UPDATE products SET name = ?, protocol = ?, endpoints = ?, auth_type = ?,"
                      + " auth_access_key = ?, auth_secret_key = ?, connect_timeout_ms = ?,"
                      + " response_timeout_ms = ?, paths = ?, health_check_path = ?, tokenizer = ?,"
                      + " usage_pointers = ? WHERE id = ?")) {
            int i = bindProductFields(ps, product);
            ps.setString(i, product.id());
            if (ps.executeUpdate() == 0) {
              throw CatalogException.notFound("product", product.id());
            }
          }
          return null;
        });
    return getProduct(product.id()).orElseThrow(() -> CatalogException.notFound("product", product.id()));
  }

  // ---------------------------------------------------------------- SKUs

  /**
   * Stores a new SKU as given, its prices as the first entry of its price history (in force from
   * {@code sku.prices().effectiveFrom()}); a null {@code createdAt} is stamped now.
   *
   * @throws CatalogException NOT_FOUND if the product does not exist, CONFLICT if the id is taken
   */
  public Sku createSku(Sku sku) {
    checkMoney(sku.prices());
    Instant createdAt = sku.createdAt() == null ? now() : micros(sku.createdAt());
    var stored = withPricesAndCreatedAt(sku, normalized(sku.prices()), createdAt);
    inTransaction(
        c -> {
          if (!exists(c, "SELECT 1 FROM products WHERE id = ?", stored.productId())) {
            throw CatalogException.notFound("product", stored.productId());
          }
          if (exists(c, "SELECT 1 FROM skus WHERE id = ?", stored.id())) {
            throw CatalogException.conflict("sku id already exists: " + stored.id());
          }
          try (var ps =
              c.prepareStatement(
                  "INSERT INTO skus (name, attributes, models, mode, quota, period, rpm, tpm,"
                      + " quantities, id, product_id, created_at)"
                      + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            int i = bindSkuFields(ps, stored);
            ps.setString(i++, stored.id());
            ps.setString(i++, stored.productId());
            setInstant(ps, i, stored.createdAt());
            ps.executeUpdate();
          }
          insertPrices(c, stored.id(), stored.prices());
          return null;
        });
    return stored;
  }

  /** The SKU with the prices in force now (its latest price entry). */
  public Optional<Sku> getSku(String id) {
    return queryOne(
        "SELECT " + SKU_COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN + " WHERE k.id = ?",
        id,
        CatalogRepository::sku);
  }

  /** The SKUs of a product, oldest first. */
  public List<Sku> listSkus(String productId) {
    return queryList(
        "SELECT " + SKU_COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN
            + " WHERE k.product_id = ? ORDER BY k.created_at, k.id",
        productId,
        CatalogRepository::sku);
  }

  /**
   * Replaces the SKU's fields with {@code sku}'s (its product and creation time stay those
   * stored). If its prices differ from those in force, they become a new history entry in force
   * from {@code sku.prices().effectiveFrom()}, which must not precede the entry in force: the past
   * is never rewritten (an entry at the very same instant is replaced).
   *
   * @throws CatalogException NOT_FOUND if there is no such SKU; CONFLICT naming the field if the
   *     SKU has subscriptions and its name, billing mode, currency, quota or period would change,
   *     or if the new prices would be back-dated
   */
  public Sku updateSku(Sku sku) {
    checkMoney(sku.prices());
    Prices newPrices = normalized(sku.prices());
    inTransaction(
        c -> {
          lockRow(c, "SELECT id FROM skus WHERE id = ? FOR UPDATE", sku.id(), "sku");
          Sku old =
              queryOne(
                      c,
                      "SELECT " + SKU_COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN
                          + " WHERE k.id = ?",
                      sku.id(),
                      CatalogRepository::sku)
                  .orElseThrow(() -> CatalogException.notFound("sku", sku.id()));
          if (exists(c, "SELECT 1 FROM subscriptions WHERE sku_id = ? AND test = FALSE", sku.id())) {
            refuseChange("name", old.name(), sku.name());
            refuseChange("billing.mode", old.mode(), sku.mode());
            refuseChange("billing.currency", old.prices().currency(), newPrices.currency());
            refuseChange("billing.quota", old.quota(), sku.quota());
            refuseChange("billing.period", old.period(), sku.period());
          }
          try (var ps =
              c.prepareStatement(
                  "UPDATE skus SET name = ?, attributes = ?, models = ?, mode = ?, quota = ?,"
                      + " period = ?, rpm = ?, tpm = ?, quantities = ? WHERE id = ?")) {
            int i = bindSkuFields(ps, sku);
            ps.setString(i, sku.id());
            ps.executeUpdate();
          }
          if (!samePrices(old.prices(), newPrices)) {
            Instant inForceFrom = old.prices().effectiveFrom();
            if (newPrices.effectiveFrom().isBefore(inForceFrom)) {
              throw CatalogException.conflict(
                  "prices cannot be back-dated: the prices in force since "
                      + inForceFrom
                      + " stay as they were");
            }
            if (newPrices.effectiveFrom().equals(inForceFrom)) {
              try (var ps =
                  c.prepareStatement(
                      "DELETE FROM sku_prices WHERE sku_id = ? AND effective_from = ?")) {
                ps.setString(1, sku.id());
                setInstant(ps, 2, inForceFrom);
                ps.executeUpdate();
              }
            }
            insertPrices(c, sku.id(), newPrices);
          }
          return null;
        });
    priceBook.invalidate(sku.id());
    return getSku(sku.id()).orElseThrow(() -> CatalogException.notFound("sku", sku.id()));
  }

  /** The prices in force at {@code at}: the latest entry not after it; empty before the first. */
  public Optional<Prices> pricesAt(String skuId, Instant at) {
    return withConnection(
        c -> {
          try (var ps =
              c.prepareStatement(
                  "SELECT " + PRICE_COLUMNS + " FROM sku_prices pr"
                      + " WHERE pr.sku_id = ? AND pr.effective_from <= ?"
                      + " ORDER BY pr.effective_from DESC LIMIT 1")) {
            ps.setString(1, skuId);
            // Stored times have microseconds; flooring t keeps "effective_from <= t" exact where
            // the driver would otherwise round a finer t up to the next microsecond.
            setInstant(ps, 2, micros(at));
            try (var rs = ps.executeQuery()) {
              return rs.next() ? Optional.of(prices(rs)) : Optional.<Prices>empty();
            }
          }
        });
  }

  /** Every price entry of a SKU, oldest first; each is in force until the next one's start. */
  public List<Prices> priceHistory(String skuId) {
    return queryList(
        "SELECT " + PRICE_COLUMNS
            + " FROM sku_prices pr WHERE pr.sku_id = ? ORDER BY pr.effective_from",
        skuId,
        CatalogRepository::prices);
  }

  /** A SKU's billing mode and whole price history, read in one statement: the price book's loader. */
  SkuTerms skuTerms(String skuId) {
    return withConnection(
        c -> {
          try (var ps =
              c.prepareStatement(
                  "SELECT k.mode AS k_mode, " + PRICE_COLUMNS
                      + " FROM skus k JOIN sku_prices pr ON pr.sku_id = k.id"
                      + " WHERE k.id = ? ORDER BY pr.effective_from")) {
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
        });
  }

  /** The ids of every SKU of a merchant's products. */
  public List<String> listSkuIdsOfMerchant(String merchantId) {
    return queryList(
        "SELECT k.id FROM skus k JOIN products p ON p.id = k.product_id WHERE p.merchant_id = ?"
            + " ORDER BY k.created_at, k.id",
        merchantId,
        rs -> rs.getString(1));
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribes a buyer to a SKU and issues its API key. A package SKU's subscription gets the
   * SKU's quota and a period from now; pay-as-you-go has neither. A test subscription lasts
   * {@link #TEST_PERIOD} with {@link #TEST_TOKEN_QUOTA} tokens or {@link #TEST_CALL_QUOTA} calls
   * (or the package quota if smaller). Buying a package queues its purchase (see {@link
   * #queuePurchase}).
   *
   * @throws CatalogException NOT_FOUND if the SKU does not exist
   */
  public IssuedKey createSubscription(String skuId, String buyerId, String buyerName, boolean test) {
    requireText(buyerId, "buyerId");
    String key = ApiKeys.newBuyerKey();
    Instant now = now();
    return inTransaction(
        c -> {
          lockRow(c, "SELECT id FROM skus WHERE id = ? FOR UPDATE", skuId, "sku");
          Sku sku = skuIn(c, skuId);
          Instant expiresAt;
          Long quota;
          if (test) {
            expiresAt = now.plus(TEST_PERIOD);
            quota = testQuota(sku);
          } else {
            expiresAt = sku.period() == null ? null : sku.period().after(now);
            quota = sku.quota();
          }
          var sub =
              new Subscription(
                  ApiKeys.newId("sub"),
                  skuId,
                  buyerId,
                  buyerName,
                  SubscriptionStatus.ACTIVE,
                  test,
                  now,
                  now,
                  expiresAt,
                  quota);
          try (var ps =
              c.prepareStatement(
                  "INSERT INTO subscriptions (id, sku_id, buyer_id, buyer_name, status, test,"
                      + " key_hash, created_at, period_start, expires_at, quota)"
                      + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, sub.id());
            ps.setString(2, sub.skuId());
            ps.setString(3, sub.buyerId());
            ps.setString(4, sub.buyerName());
            ps.setString(5, sub.status().name());
            ps.setBoolean(6, sub.test());
            ps.setString(7, ApiKeys.sha256Hex(key));
            setInstant(ps, 8, sub.createdAt());
            setInstant(ps, 9, sub.periodStart());
            setInstant(ps, 10, sub.expiresAt());
            setLong(ps, 11, sub.quota());
            ps.executeUpdate();
          }
          queuePurchase(c, sub, sku);
          return new IssuedKey(sub, key);
        });
  }

  public Optional<Subscription> getSubscription(String id) {
    return queryOne(
        "SELECT " + SUBSCRIPTION_COLUMNS + " FROM subscriptions s WHERE s.id = ?",
        id,
        CatalogRepository::subscription);
  }

  /**
   * Moves a subscription to SUSPENDED, ACTIVE (resume) or CANCELLED. Setting the status it
   * already has is a no-op; CANCELLED is final.
   *
   * @throws CatalogException NOT_FOUND; CONFLICT when leaving CANCELLED
   * @throws IllegalArgumentException for EXPIRED, which only time sets
   */
  public Subscription setStatus(String id, SubscriptionStatus status) {
    if (status == SubscriptionStatus.EXPIRED) {
      throw new IllegalArgumentException("EXPIRED follows from expiresAt and cannot be set");
    }
    return inTransaction(
        c -> {
          Subscription sub = lockSubscription(c, id);
          if (sub.status() == status) {
            return sub;
          }
          if (sub.status() == SubscriptionStatus.CANCELLED) {
            throw CatalogException.conflict("subscription " + id + " is cancelled");
          }
          try (var ps = c.prepareStatement("UPDATE subscriptions SET status = ? WHERE id = ?")) {
            ps.setString(1, status.name());
            ps.setString(2, id);
            ps.executeUpdate();
          }
          return withStatus(sub, status);
        });
  }

  /**
   * Starts a new period now with the full quota restored. The expiry moves one period past the
   * later of now and the old expiry, so renewing early loses no paid time; a test subscription
   * runs {@link #TEST_PERIOD} from now. The status is left as it is (a suspended subscription
   * stays suspended). Renewing a package queues its purchase (see {@link #queuePurchase}).
   *
   * @throws CatalogException NOT_FOUND; CONFLICT if the subscription is cancelled
   */
  public Subscription renew(String id) {
    Instant now = now();
    return inTransaction(
        c -> {
          Subscription sub = lockSubscription(c, id);
          if (sub.status() == SubscriptionStatus.CANCELLED) {
            throw CatalogException.conflict("subscription " + id + " is cancelled and cannot be renewed");
          }
          Sku sku = skuIn(c, sub.skuId());
          Instant expiresAt;
          Long quota;
          if (sub.test()) {
            expiresAt = now.plus(TEST_PERIOD);
            quota = testQuota(sku);
          } else if (sku.period() != null) {
            Instant from =
                sub.expiresAt() != null && sub.expiresAt().isAfter(now) ? sub.expiresAt() : now;
            expiresAt = sku.period().after(from);
            quota = sku.quota();
          } else {
            expiresAt = sub.expiresAt();
            quota = sub.quota();
          }
          try (var ps =
              c.prepareStatement(
                  "UPDATE subscriptions SET period_start = ?, expires_at = ?, quota = ?"
                      + " WHERE id = ?")) {
            setInstant(ps, 1, now);
            setInstant(ps, 2, expiresAt);
            setLong(ps, 3, quota);
            ps.setString(4, id);
            ps.executeUpdate();
          }
          var renewed = new Subscription(
              sub.id(), sub.skuId(), sub.buyerId(), sub.buyerName(), sub.status(), sub.test(),
              sub.createdAt(), now, expiresAt, quota);
          queuePurchase(c, renewed, sku);
          return renewed;
        });
  }

  /**
   * Issues a new key for a subscription; from the commit on, the old key resolves to nothing.
   *
   * @throws CatalogException NOT_FOUND; CONFLICT if the subscription is cancelled
   */
  public IssuedKey rotateKey(String id) {
    String key = ApiKeys.newBuyerKey();
    return inTransaction(
        c -> {
          Subscription sub = lockSubscription(c, id);
          if (sub.status() == SubscriptionStatus.CANCELLED) {
            throw CatalogException.conflict("subscription " + id + " is cancelled");
          }
          try (var ps = c.prepareStatement("UPDATE subscriptions SET key_hash = ? WHERE id = ?")) {
            ps.setString(1, ApiKeys.sha256Hex(key));
            ps.setString(2, id);
            ps.executeUpdate();
          }
          return new IssuedKey(sub, key);
        });
  }

  /**
   * Resolves an API key's SHA-256 (lower-case hex) to its subscription, SKU (prices in force now)
   * and product, in one statement. The buyer port's cache calls this on a miss.
   */
  public Optional<SubscriptionSnapshot> findSnapshotByKeyHash(String keyHash) {
    if (keyHash == null || !SHA256_HEX.matcher(keyHash).matches()) {
      return Optional.empty();
    }
    return queryOne(SNAPSHOT_SELECT + " WHERE s.key_hash = ?", keyHash, CatalogRepository::snapshot);
  }

  /** A subscription with its SKU and product, by subscription id. */
  public Optional<SubscriptionSnapshot> findSnapshotById(String subscriptionId) {
    return queryOne(SNAPSHOT_SELECT + " WHERE s.id = ?", subscriptionId, CatalogRepository::snapshot);
  }

  /**
   * The test subscriptions of {@code skuIds} that expire after {@code after}: all that can have
   * usage at or after it (a call is admitted only before its subscription's expiry, and its
   * minute starts no later than the call).
   */
  public List<Subscription> listTestSubscriptions(Collection<String> skuIds, Instant after) {
    if (skuIds.isEmpty()) {
      return List.of();
    }
    String in = String.join(", ", Collections.nCopies(skuIds.size(), "?"));
    return withConnection(
        c -> {
          try (var ps =
              c.prepareStatement(
                  "SELECT " + SUBSCRIPTION_COLUMNS + " FROM subscriptions s WHERE s.test = TRUE"
                      + " AND s.expires_at > ? AND s.sku_id IN (" + in + ") ORDER BY s.id")) {
            setInstant(ps, 1, after);
            int i = 2;
            for (String skuId : skuIds) {
              ps.setString(i++, skuId);
            }
            try (var rs = ps.executeQuery()) {
              var out = new ArrayList<Subscription>();
              while (rs.next()) {
                out.add(subscription(rs));
              }
              return List.copyOf(out);
            }
          }
        });
  }

  // ---------------------------------------------------------------- internals

  /**
   * Queues the purchase of a package period that starts at {@code sub.periodStart()}, in the
   * caller's transaction; pay-as-you-go SKUs are paid by their usage and buy nothing. A test
   * subscription's purchase is queued too, marked test (it costs 0, and merchants see it).
   *
   * <p>Quantity 1: quantity attributes chosen at purchase (e.g. seats) are not recorded on
   * subscriptions yet; when they are, the order carries their product.
   */
  private void queuePurchase(Connection c, Subscription sub, Sku sku) throws SQLException {
    if (!sku.mode().isPackage()) {
      return;
    }
    String merchantId =
        queryOne(c, "SELECT merchant_id FROM products WHERE id = ?", sku.productId(), rs -> rs.getString(1))
            .orElseThrow(() -> CatalogException.notFound("product", sku.productId()));
    purchases.enqueue(c, new PurchaseOrder(sub.id(), sku.id(), sku.productId(), merchantId, sub.buyerId(),
        sub.test(), sub.periodStart(), /* quantity= */ 1));
  }

  private Instant now() {
    return micros(clock.instant());
  }

  private static Instant micros(Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
  }

  private static long testQuota(Sku sku) {
    long q = sku.mode().countsTokens() ? TEST_TOKEN_QUOTA : TEST_CALL_QUOTA;
    return sku.quota() != null ? Math.min(q, sku.quota()) : q;
  }

  private static void refuseChange(String field, Object old, Object proposed) {
    if (!Objects.equals(old, proposed)) {
      throw CatalogException.conflict(
          field + " cannot change once the SKU has subscriptions (is " + old + ")");
    }
  }

  private static boolean samePrices(Prices a, Prices b) {
    return a.currency().equals(b.currency())
        && sameMoney(a.inputPricePerMillion(), b.inputPricePerMillion())
        && sameMoney(a.cachedInputPricePerMillion(), b.cachedInputPricePerMillion())
        && sameMoney(a.outputPricePerMillion(), b.outputPricePerMillion())
        && sameMoney(a.pricePerCall(), b.pricePerCall())
        && sameMoney(a.price(), b.price());
  }

  private static boolean sameMoney(BigDecimal a, BigDecimal b) {
    return a == null ? b == null : b != null && a.compareTo(b) == 0;
  }

  private static void checkMoney(Prices p) {
    for (BigDecimal v :
        new BigDecimal[] {p.inputPricePerMillion(), p.cachedInputPricePerMillion(), p.outputPricePerMillion(),
            p.pricePerCall(), p.price()}) {
      if (v != null
          && (v.stripTrailingZeros().scale() > MONEY_SCALE
              || v.precision() - v.scale() > MONEY_INTEGER_DIGITS)) {
        throw new IllegalArgumentException(
            "money needs at most " + MONEY_INTEGER_DIGITS + " integer and " + MONEY_SCALE
                + " fractional digits: " + v.toPlainString());
      }
    }
  }

  private static void requireText(String s, String field) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException(field + " must not be blank");
    }
  }

  private static Product withCreatedAt(Product p, Instant createdAt) {
    return new Product(p.id(), p.merchantId(), p.name(), p.protocol(), p.endpoints(), p.auth(),
        p.connectTimeout(), p.responseTimeout(), p.paths(), p.healthCheckPath(), p.tokenizer(),
        p.usagePointers(), createdAt);
  }

  private static Sku withPricesAndCreatedAt(Sku s, Prices prices, Instant createdAt) {
    return new Sku(s.id(), s.productId(), s.name(), s.attributes(), s.models(), s.mode(), prices,
        s.quota(), s.period(), s.rpm(), s.tpm(), s.quantities(), createdAt);
  }

  /** Prices as they read back: times in microseconds, money in its shortest exact form. */
  private static Prices normalized(Prices p) {
    return new Prices(micros(p.effectiveFrom()), p.currency(), shortest(p.inputPricePerMillion()),
        shortest(p.cachedInputPricePerMillion()), shortest(p.outputPricePerMillion()),
        shortest(p.pricePerCall()), shortest(p.price()));
  }

  private static BigDecimal shortest(BigDecimal v) {
    if (v == null) {
      return null;
    }
    v = v.stripTrailingZeros();
    return v.scale() < 0 ? v.setScale(0) : v;
  }

  private static Subscription withStatus(Subscription s, SubscriptionStatus status) {
    return new Subscription(s.id(), s.skuId(), s.buyerId(), s.buyerName(), status, s.test(),
        s.createdAt(), s.periodStart(), s.expiresAt(), s.quota());
  }

  private static int bindProductFields(PreparedStatement ps, Product p) throws SQLException {
    int i = 1;
    ps.setString(i++, p.name());
    ps.setString(i++, p.protocol().wireName());
    ps.setString(i++, toJson(p.endpoints()));
    ps.setString(i++, p.auth().type().name());
    ps.setString(i++, p.auth().accessKey());
    ps.setString(i++, p.auth().secretKey());
    ps.setLong(i++, p.connectTimeout().toMillis());
    ps.setLong(i++, p.responseTimeout().toMillis());
    ps.setString(i++, toJson(p.paths()));
    ps.setString(i++, p.healthCheckPath());
    ps.setString(i++, p.tokenizer());
    ps.setString(i++, toJson(p.usagePointers()));
    return i;
  }

  private static int bindSkuFields(PreparedStatement ps, Sku s) throws SQLException {
    int i = 1;
    ps.setString(i++, s.name());
    ps.setString(i++, toJson(s.attributes()));
    ps.setString(i++, toJson(s.models()));
    ps.setString(i++, s.mode().name());
    setLong(ps, i++, s.quota());
    ps.setString(i++, s.period() == null ? null : s.period().name());
    setInt(ps, i++, s.rpm());
    setInt(ps, i++, s.tpm());
    ps.setString(i++, toJson(s.quantities()));
    return i;
  }

  private static void insertPrices(Connection c, String skuId, Prices p) throws SQLException {
    try (var ps =
        c.prepareStatement(
            "INSERT INTO sku_prices (sku_id, effective_from, currency, input_price_per_million,"
                + " cached_input_price_per_million, output_price_per_million, price_per_call, price)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, skuId);
      setInstant(ps, 2, p.effectiveFrom());
      ps.setString(3, p.currency());
      ps.setBigDecimal(4, p.inputPricePerMillion());
      ps.setBigDecimal(5, p.cachedInputPricePerMillion());
      ps.setBigDecimal(6, p.outputPricePerMillion());
      ps.setBigDecimal(7, p.pricePerCall());
      ps.setBigDecimal(8, p.price());
      ps.executeUpdate();
    }
  }

  private static Sku skuIn(Connection c, String skuId) throws SQLException {
    return queryOne(
            c,
            "SELECT " + SKU_COLUMNS + " FROM skus k" + LATEST_PRICE_JOIN + " WHERE k.id = ?",
            skuId,
            CatalogRepository::sku)
        .orElseThrow(() -> CatalogException.notFound("sku", skuId));
  }

  private static Subscription lockSubscription(Connection c, String id) throws SQLException {
    return queryOne(
            c,
            "SELECT " + SUBSCRIPTION_COLUMNS + " FROM subscriptions s WHERE s.id = ? FOR UPDATE",
            id,
            CatalogRepository::subscription)
        .orElseThrow(() -> CatalogException.notFound("subscription", id));
  }

  private static void lockRow(Connection c, String sql, String id, String what) throws SQLException {
    if (!exists(c, sql, id)) {
      throw CatalogException.notFound(what, id);
    }
  }

  private static boolean exists(Connection c, String sql, String arg) throws SQLException {
    try (var ps = c.prepareStatement(sql)) {
      ps.setString(1, arg);
      try (var rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  // -- row mappers

  private static Merchant merchant(ResultSet rs) throws SQLException {
    return new Merchant(rs.getString("id"), rs.getString("name"), getInstant(rs, "created_at"));
  }

  private static Product product(ResultSet rs) throws SQLException {
    String authType = rs.getString("p_auth_type");
    return new Product(
        rs.getString("p_id"),
        rs.getString("p_merchant_id"),
        rs.getString("p_name"),
        Protocol.parse(rs.getString("p_protocol")),
        fromJson(rs.getString("p_endpoints"), ENDPOINTS),
        new UpstreamAuth(
            UpstreamAuth.Type.valueOf(authType),
            rs.getString("p_auth_access_key"),
            rs.getString("p_auth_secret_key")),
        Duration.ofMillis(rs.getLong("p_connect_timeout_ms")),
        Duration.ofMillis(rs.getLong("p_response_timeout_ms")),
        fromJson(rs.getString("p_paths"), STRINGS),
        rs.getString("p_health_check_path"),
        rs.getString("p_tokenizer"),
        rs.getString("p_usage_pointers") == null ? List.of() : fromJson(rs.getString("p_usage_pointers"), STRINGS),
        getInstant(rs, "p_created_at"));
  }

  private static Prices prices(ResultSet rs) throws SQLException {
    return new Prices(
        getInstant(rs, "pr_effective_from"),
        rs.getString("pr_currency"),
        money(rs, "pr_input"),
        money(rs, "pr_cached_input"),
        money(rs, "pr_output"),
        money(rs, "pr_per_call"),
        money(rs, "pr_price"));
  }

  private static Sku sku(ResultSet rs) throws SQLException {
    String period = rs.getString("k_period");
    return new Sku(
        rs.getString("k_id"),
        rs.getString("k_product_id"),
        rs.getString("k_name"),
        fromJson(rs.getString("k_attributes"), ATTRIBUTES),
        fromJson(rs.getString("k_models"), STRINGS),
        BillingMode.valueOf(rs.getString("k_mode")),
        prices(rs),
        getLong(rs, "k_quota"),
        period == null ? null : Period.valueOf(period),
        getInt(rs, "k_rpm"),
        getInt(rs, "k_tpm"),
        fromJson(rs.getString("k_quantities"), QUANTITIES),
        getInstant(rs, "k_created_at"));
  }

  private static Subscription subscription(ResultSet rs) throws SQLException {
    return new Subscription(
        rs.getString("s_id"),
        rs.getString("s_sku_id"),
        rs.getString("s_buyer_id"),
        rs.getString("s_buyer_name"),
        SubscriptionStatus.valueOf(rs.getString("s_status")),
        rs.getBoolean("s_test"),
        getInstant(rs, "s_created_at"),
        getInstant(rs, "s_period_start"),
        getInstant(rs, "s_expires_at"),
        getLong(rs, "s_quota"));
  }

  private static SubscriptionSnapshot snapshot(ResultSet rs) throws SQLException {
    return new SubscriptionSnapshot(subscription(rs), sku(rs), product(rs));
  }

  // -- JDBC plumbing

  @FunctionalInterface
  private interface SqlFunction<T, R> {
    R apply(T t) throws SQLException;
  }

  private <T> Optional<T> queryOne(String sql, String arg, SqlFunction<ResultSet, T> mapper) {
    return withConnection(c -> queryOne(c, sql, arg, mapper));
  }

  private static <T> Optional<T> queryOne(
      Connection c, String sql, String arg, SqlFunction<ResultSet, T> mapper) throws SQLException {
    try (var ps = c.prepareStatement(sql)) {
      ps.setString(1, arg);
      try (var rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(mapper.apply(rs)) : Optional.empty();
      }
    }
  }

  private <T> List<T> queryList(String sql, String arg, SqlFunction<ResultSet, T> mapper) {
    return withConnection(
        c -> {
          try (var ps = c.prepareStatement(sql)) {
            if (arg != null) {
              ps.setString(1, arg);
            }
            try (var rs = ps.executeQuery()) {
              var out = new ArrayList<T>();
              while (rs.next()) {
                out.add(mapper.apply(rs));
              }
              return List.copyOf(out);
            }
          }
        });
  }

  private <T> T withConnection(SqlFunction<Connection, T> work) {
    try (var c = dataSource.getConnection()) {
      return work.apply(c);
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  private <T> T inTransaction(SqlFunction<Connection, T> work) {
    try (var c = dataSource.getConnection()) {
      boolean autoCommit = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        T result = work.apply(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(autoCommit);
      }
    } catch (SQLException e) {
      throw translate(e);
    }
  }

  private static RuntimeException translate(SQLException e) {
    String state = e.getSQLState();
    if (e instanceof SQLTransientConnectionException
        || e instanceof SQLNonTransientConnectionException
        || state != null && state.startsWith("08")) {
      return new CatalogException(
          CatalogException.Kind.UNAVAILABLE, "catalog database unavailable: " + e.getMessage(), e);
    }
    if (state != null && state.startsWith("23")) {
      return new CatalogException(
          CatalogException.Kind.CONFLICT, "conflicts with stored data: " + e.getMessage(), e);
    }
    return new IllegalStateException("catalog query failed: " + e.getMessage(), e);
  }

  private static void setInstant(PreparedStatement ps, int i, Instant t) throws SQLException {
    if (t == null) {
      ps.setNull(i, Types.TIMESTAMP_WITH_TIMEZONE);
    } else {
      ps.setObject(i, OffsetDateTime.ofInstant(t, ZoneOffset.UTC));
    }
  }

  private static Instant getInstant(ResultSet rs, String col) throws SQLException {
    OffsetDateTime t = rs.getObject(col, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }

  private static void setLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) {
      ps.setNull(i, Types.BIGINT);
    } else {
      ps.setLong(i, v);
    }
  }

  private static void setInt(PreparedStatement ps, int i, Integer v) throws SQLException {
    if (v == null) {
      ps.setNull(i, Types.INTEGER);
    } else {
      ps.setInt(i, v);
    }
  }

  private static Long getLong(ResultSet rs, String col) throws SQLException {
    long v = rs.getLong(col);
    return rs.wasNull() ? null : v;
  }

  private static Integer getInt(ResultSet rs, String col) throws SQLException {
    int v = rs.getInt(col);
    return rs.wasNull() ? null : v;
  }

  /** Reads NUMERIC(38,18) back as the shortest exact decimal: 0.150000... becomes 0.15. */
  private static BigDecimal money(ResultSet rs, String col) throws SQLException {
    return shortest(rs.getBigDecimal(col));
  }

  private static String toJson(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode catalog field", e);
    }
  }

  private static <T> T fromJson(String json, TypeReference<T> type) {
    try {
      return JSON.readValue(json, type);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("corrupt catalog field", e);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
