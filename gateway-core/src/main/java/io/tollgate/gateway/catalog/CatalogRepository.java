package io.tollgate.gateway.catalog;

import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.billing.PurchaseOrder;
import io.tollgate.billing.RecordLedger;
import io.tollgate.billing.SkuTerms;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * The catalog: merchants, products, SKUs with their price history, and subscriptions. Each
 * operation is one transaction over the stores of the aggregates it touches ({@link
 * MerchantStore}, {@link ProductStore}, {@link SkuStore}, {@link SubscriptionStore}), with the
 * business rules in their own classes ({@link ListingRules}, {@link SkuRules}, {@link
 * SubscriptionTerms}); the pool, migrations and transactions are the {@link CatalogDatabase}'s.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Keys and tokens are stored only as SHA-256; the plain value leaves this class once, in
 *       {@link IssuedKey} or {@link CreatedMerchant}.
 *   <li>{@link #findSnapshotByKeyHash} resolves a key to subscription, SKU (with the prices in
 *       force) and product in one statement: it is the buyer port's cache loader, so a miss costs
 *       one round trip.
 *   <li>Subscription writes run in a transaction that locks the row (and SKU writes lock the SKU
 *       row, as does subscribing), so a SKU cannot change billing mode while it is being bought.
 *   <li>Listing changes lock the product's row, as do purchases, renewals and SKU writes after
 *       their own row: a purchase commits before a delisting of its product or is refused, and a
 *       SKU edit cannot slip past the approval that freezes it. Locks are taken subscription, SKU,
 *       product, in that order, never the other way.
 *   <li>Buying or renewing a package SKU queues a {@link PurchaseOrder} in the billing ledger's
 *       outbox in the same transaction ({@link RecordLedger#enqueuePurchase}): a purchase is
 *       recorded exactly when its subscription period commits, never without it.
 * </ul>
 *
 * <p>Every method blocks on JDBC: call it from a worker thread, never an event loop. Times are
 * stored with microsecond precision (PostgreSQL's), so instants are truncated to microseconds.
 */
public final class CatalogRepository implements AutoCloseable {

  /** How long a merchant's test subscription runs. */
  public static final Duration TEST_PERIOD = Duration.ofDays(7);

  /** A test subscription's token quota (or the package's, if smaller). */
  public static final long TEST_TOKEN_QUOTA = 100_000;

  /** A test subscription's call quota (or the package's, if smaller). */
  public static final long TEST_CALL_QUOTA = 1_000;

  /** Fractional digits of stored money: NUMERIC(38,18). */
  public static final int MONEY_SCALE = 18;

  /** Integer digits of stored money. */
  static final int MONEY_INTEGER_DIGITS = 38 - MONEY_SCALE;

  /** The H2 settings the migrations and queries are tested with. */
  public static final String H2_SETTINGS = CatalogDatabase.H2_SETTINGS;

  /** Default pgjdbc {@code socketTimeout}: longer than any catalog or usage query should run. */
  static final String POSTGRES_SOCKET_TIMEOUT_SECONDS = CatalogDatabase.POSTGRES_SOCKET_TIMEOUT_SECONDS;

  private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

  private final CatalogDatabase db;
  private final Clock clock;
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
    this(new CatalogDatabase(dataSource), clock);
  }

  /** A repository over {@code db}; {@link #close()} closes it. */
  public CatalogRepository(CatalogDatabase db, Clock clock) {
    this.db = Objects.requireNonNull(db, "db");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.priceBook = new CatalogPriceBook(this::skuTerms, CatalogPriceBook.DEFAULT_MAX_AGE, Ticker.systemTicker());
  }

  /**
   * Opens the database at {@code jdbcUrl} (see {@link CatalogDatabase#open}) and returns a
   * repository that closes it on {@link #close()}.
   *
   * @throws CatalogException of kind UNAVAILABLE, naming the URL (never the password), when the
   *     database cannot be reached or migrated
   */
  public static CatalogRepository open(String jdbcUrl, String user, String password, Clock clock) {
    return new CatalogRepository(CatalogDatabase.open(jdbcUrl, user, password), clock);
  }

  /** As {@link #open(String, String, String, Clock)}, migrating the meter tables too: see {@link CatalogDatabase#migrate(DataSource, boolean)}. */
  public static CatalogRepository open(String jdbcUrl, String user, String password, Clock clock,
      boolean meterTables) {
    return new CatalogRepository(CatalogDatabase.open(jdbcUrl, user, password, meterTables), clock);
  }

  /** The embedded store's URL: see {@link CatalogDatabase#h2FileUrl}. */
  public static String h2FileUrl(String dataDir) {
    return CatalogDatabase.h2FileUrl(dataDir);
  }

  /** Applies every migration of the catalog's database: see {@link CatalogDatabase#migrate}. */
  public static void migrate(DataSource dataSource) {
    CatalogDatabase.migrate(dataSource);
  }

  /** The pooled data source; the JDBC meter store shares it on the embedded setup. */
  public DataSource dataSource() {
    return db.dataSource();
  }

  /** Checks that the database answers, for {@code /health/ready}; see {@link CatalogDatabase#ping}. */
  public void ping() {
    db.ping();
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
    db.close();
  }

  // ---------------------------------------------------------------- merchants

  /** Creates a merchant without a support contact, with a new admin token, returned once. */
  public CreatedMerchant createMerchant(String name) {
    return createMerchant(name, SupportContact.NONE);
  }

  /** Creates a merchant with a new admin token, returned once. */
  public CreatedMerchant createMerchant(String name, SupportContact support) {
    requireText(name, "name");
    String token = ApiKeys.newMerchantToken();
    var merchant = new Merchant(ApiKeys.newId("mer"), name, support, now());
    db.inTransaction(c -> {
      MerchantStore.insert(c, merchant, ApiKeys.sha256Hex(token));
      return null;
    });
    return new CreatedMerchant(merchant, token);
  }

  public Optional<Merchant> getMerchant(String id) {
    return db.read(c -> MerchantStore.byId(c, id));
  }

  /** A page of every merchant, oldest first. */
  public Page<Merchant> pageMerchants(PageQuery page) {
    return db.read(c -> MerchantStore.page(c, page));
  }

  /**
   * Changes a merchant's support contact: a non-null {@code phone} or {@code email} replaces the
   * stored one, a null keeps it.
   *
   * @return the merchant as stored
   * @throws CatalogException NOT_FOUND if there is no such merchant
   * @throws IllegalArgumentException naming {@code supportPhone} or {@code supportEmail} when
   *     malformed
   */
  public Merchant updateSupportContact(String merchantId, String phone, String email) {
    return db.inTransaction(c -> {
      Merchant m = MerchantStore.lock(c, merchantId);
      SupportContact support = m.support().with(phone, email);
      MerchantStore.setSupport(c, merchantId, support);
      return new Merchant(m.id(), m.name(), support, m.createdAt());
    });
  }

  /** The merchant whose token hashes to {@code tokenHash} (lower-case hex SHA-256). */
  public Optional<Merchant> findMerchantByTokenHash(String tokenHash) {
    if (tokenHash == null || !SHA256_HEX.matcher(tokenHash).matches()) {
      return Optional.empty();
    }
    return db.read(c -> MerchantStore.byTokenHash(c, tokenHash));
  }

  // ---------------------------------------------------------------- products

  /**
   * Stores a new product as given (its id chosen by the caller, e.g. {@link ApiKeys#newId}); a
   * null {@code createdAt} is stamped now.
   *
   * @throws CatalogException NOT_FOUND if the merchant does not exist, CONFLICT if the id is taken
   */
  public Product createProduct(Product product) {
    Instant createdAt = product.createdAt() == null ? now() : Jdbc.micros(product.createdAt());
    // A licence product gets its own Ed25519 key pair; the private half goes to its own table.
    java.security.KeyPair keys = product.protocol() == Protocol.LICENCE ? LicenceKeys.generate() : null;
    Product.LicenceTerms licence = keys == null ? null
        : product.licence().withPublicKey(LicenceKeys.publicKeyText(keys.getPublic()));
    var stored = new Product(product.id(), product.merchantId(), product.name(), product.protocol(),
        product.endpoints(), product.auth(), product.connectTimeout(), product.responseTimeout(), product.paths(),
        product.healthCheckPath(), product.tokenizer(), product.usagePointers(), createdAt, null, licence);
    db.inTransaction(c -> {
      if (!MerchantStore.exists(c, stored.merchantId())) {
        throw CatalogException.notFound("merchant", stored.merchantId());
      }
      if (ProductStore.exists(c, stored.id())) {
        throw CatalogException.conflict("product id already exists: " + stored.id());
      }
      ProductStore.insert(c, stored);
      if (keys != null) {
        ProductStore.insertLicenceKey(c, stored.id(), LicenceKeys.privateKeyText(keys.getPrivate()), createdAt);
      }
      return null;
    });
    return stored;
  }

  /**
   * The private half of a licence product's Ed25519 key pair (base64 of its PKCS#8 DER): for the
   * licence signer only, never for an answer or a log.
   */
  public Optional<java.security.PrivateKey> licenceSigningKey(String productId) {
    return db.read(c -> ProductStore.licenceKey(c, productId)).map(LicenceKeys::privateKey);
  }

  public Optional<Product> getProduct(String id) {
    return db.read(c -> ProductStore.byId(c, id));
  }

  /** Every product, oldest first. */
  public List<Product> listProducts() {
    return db.read(c -> ProductStore.list(c, null));
  }

  /** The products of one merchant, oldest first. */
  public List<Product> listProductsOf(String merchantId) {
    return db.read(c -> ProductStore.list(c, Objects.requireNonNull(merchantId, "merchantId")));
  }

  /** A page of the products of one merchant, or of every merchant (null), oldest first. */
  public Page<Product> pageProducts(String merchantId, PageQuery page) {
    return pageProducts(merchantId, null, page);
  }

  /**
   * A page of the products of one merchant, or of every merchant (null), in one listing status (null:
   * any), oldest first.
   */
  public Page<Product> pageProducts(String merchantId, ListingStatus status, PageQuery page) {
    return db.read(c -> ProductStore.page(c, merchantId, status, page));
  }

  /**
   * Replaces the product's fields with {@code product}'s; its merchant, creation time and listing
   * stay those stored.
   *
   * @return the stored product
   * @throws CatalogException NOT_FOUND if there is no such product
   */
  public Product updateProduct(Product product) {
    return db.inTransaction(c -> {
      Product old = ProductStore.lock(c, product.id());
      if ((old.protocol() == Protocol.LICENCE) != (product.protocol() == Protocol.LICENCE)) {
        throw CatalogException.conflict("protocol cannot change to or from licence (is "
            + old.protocol().wireName() + ")");
      }
      if (!ProductStore.update(c, product)) {
        throw CatalogException.notFound("product", product.id());
      }
      return ProductStore.byId(c, product.id()).orElseThrow();
    });
  }

  /**
   * Moves a product through the listing review by the rules of {@link ListingRules#next}; {@code
   * submit} checks {@link ListingRules#requireComplete} first.
   *
   * @param note the operator's reason, for {@code reject} and {@code delist}
   * @return the product as stored
   * @throws CatalogException NOT_FOUND; CONFLICT with code {@value CatalogException#INVALID_TRANSITION}
   *     or {@value CatalogException#LISTING_INCOMPLETE}
   */
  public Product changeListing(String productId, ListingAction action, String note) {
    Instant now = now();
    return db.inTransaction(c -> {
      Product p = ProductStore.lock(c, productId);
      Listing next = ListingRules.next(p.id(), p.listing(), action, note, now);
      if (action == ListingAction.SUBMIT) {
        Merchant m = MerchantStore.byId(c, p.merchantId())
            .orElseThrow(() -> CatalogException.notFound("merchant", p.merchantId()));
        ListingRules.requireComplete(p.id(), SkuStore.countOfProduct(c, p.id()), m.support());
      }
      ProductStore.setListing(c, p.id(), next);
      return ProductStore.byId(c, p.id()).orElseThrow();
    });
  }

  /**
   * Records a support reply the product's merchant missed; the one that makes {@code toDelist}
   * within {@link ListingPolicy#SUPPORT_FAILURE_WINDOW} delists a listed product (see {@link
   * ListingRules#afterSupportFailure}).
   *
   * @throws CatalogException NOT_FOUND if there is no such product
   */
  public SupportFailureOutcome recordSupportFailure(String productId, String note, int toDelist) {
    requireText(note, "note");
    Instant now = now();
    return db.inTransaction(c -> {
      Product p = ProductStore.lock(c, productId);
      var failure = new SupportFailure(ApiKeys.newId("sf"), p.id(), note, now);
      ProductStore.insertSupportFailure(c, failure);
      int inWindow = ProductStore.countSupportFailuresAfter(c, p.id(),
          now.minus(ListingPolicy.SUPPORT_FAILURE_WINDOW));
      Listing next = ListingRules.afterSupportFailure(p.listing(), inWindow, toDelist);
      boolean delisted = !next.equals(p.listing());
      if (delisted) {
        ProductStore.setListing(c, p.id(), next);
      }
      return new SupportFailureOutcome(failure, inWindow, ProductStore.byId(c, p.id()).orElseThrow(), delisted);
    });
  }

  /** A page of a product's missed support replies, oldest first. */
  public Page<SupportFailure> pageSupportFailures(String productId, PageQuery page) {
    return db.read(c -> ProductStore.pageSupportFailures(c, productId, page));
  }

  // ---------------------------------------------------------------- SKUs

  /**
   * Stores a new SKU as given, its prices as the first entry of its price history (in force from
   * {@code sku.prices().effectiveFrom()}); a null {@code createdAt} is stamped now.
   *
   * @throws CatalogException NOT_FOUND if the product does not exist, CONFLICT if the id is taken
   */
  public Sku createSku(Sku sku) {
    SkuRules.checkMoney(sku.prices());
    Instant createdAt = sku.createdAt() == null ? now() : Jdbc.micros(sku.createdAt());
    var stored = new Sku(sku.id(), sku.productId(), sku.name(), sku.attributes(), sku.models(), sku.mode(),
        SkuRules.normalized(sku.prices()), sku.quota(), sku.period(), sku.rpm(), sku.tpm(), sku.quantities(),
        createdAt);
    db.inTransaction(c -> {
      Product product = ProductStore.byId(c, stored.productId())
          .orElseThrow(() -> CatalogException.notFound("product", stored.productId()));
      SkuRules.requireModeFits(product.protocol(), stored.mode());
      if (SkuStore.exists(c, stored.id())) {
        throw CatalogException.conflict("sku id already exists: " + stored.id());
      }
      SkuStore.insert(c, stored);
      return null;
    });
    return stored;
  }

  /** The SKU with the prices in force now (its latest price entry). */
  public Optional<Sku> getSku(String id) {
    return db.read(c -> SkuStore.byId(c, id));
  }

  /** The SKUs of a product, oldest first. */
  public List<Sku> listSkus(String productId) {
    return db.read(c -> SkuStore.ofProduct(c, productId));
  }

  /**
   * Replaces the SKU's fields with {@code sku}'s (its product and creation time stay those
   * stored). If its prices differ from those in force, they become a new history entry in force
   * from {@code sku.prices().effectiveFrom()}, which must not precede the entry in force: the past
   * is never rewritten (an entry at the very same instant is replaced). See {@link SkuRules}.
   *
   * @throws CatalogException NOT_FOUND if there is no such SKU; CONFLICT naming the field if a
   *     frozen field would change (once the product was listed, or the SKU has buyers: {@link
   *     ListingRules#skusFrozen}), or if the new prices would be back-dated
   */
  public Sku updateSku(Sku sku) {
    SkuRules.checkMoney(sku.prices());
    Prices newPrices = SkuRules.normalized(sku.prices());
    Sku updated = db.inTransaction(c -> {
      SkuStore.lock(c, sku.id());
      Sku old = SkuStore.require(c, sku.id());
      Product product = ProductStore.lock(c, old.productId());
      SkuRules.requireModeFits(product.protocol(), sku.mode());
      if (ListingRules.skusFrozen(product.listing(), SubscriptionStore.hasBuyers(c, sku.id()))) {
        SkuRules.refuseFrozenChanges(old, sku, newPrices);
      }
      SkuStore.update(c, sku);
      if (!SkuRules.samePrices(old.prices(), newPrices)) {
        SkuRules.refuseBackdating(old.prices(), newPrices);
        if (newPrices.effectiveFrom().equals(old.prices().effectiveFrom())) {
          SkuStore.deletePrices(c, sku.id(), old.prices().effectiveFrom());
        }
        SkuStore.insertPrices(c, sku.id(), newPrices);
      }
      return SkuStore.require(c, sku.id());
    });
    priceBook.invalidate(sku.id());
    return updated;
  }

  /** The prices in force at {@code at}: the latest entry not after it; empty before the first. */
  public Optional<Prices> pricesAt(String skuId, Instant at) {
    // Stored times have microseconds; flooring t keeps "effective_from <= t" exact where the
    // driver would otherwise round a finer t up to the next microsecond.
    return db.read(c -> SkuStore.pricesAt(c, skuId, Jdbc.micros(at)));
  }

  /** Every price entry of a SKU, oldest first; each is in force until the next one's start. */
  public List<Prices> priceHistory(String skuId) {
    return db.read(c -> SkuStore.priceHistory(c, skuId));
  }

  /** A SKU's billing mode and whole price history, read in one statement: the price book's loader. */
  SkuTerms skuTerms(String skuId) {
    return db.read(c -> SkuStore.terms(c, skuId));
  }

  /** A page of a product's SKUs, oldest first. */
  public Page<Sku> pageSkus(String productId, PageQuery page) {
    return db.read(c -> SkuStore.page(c, productId, page));
  }

  /** The ids of every SKU: the fleet, for the operator's usage view. */
  public List<String> listAllSkuIds() {
    return db.read(c -> SkuStore.allIds(c));
  }

  /** The ids of every SKU of a merchant's products. */
  public List<String> listSkuIdsOfMerchant(String merchantId) {
    return db.read(c -> SkuStore.idsOfMerchant(c, merchantId));
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribes a buyer to a SKU and issues its API key, with the terms of {@link
   * SubscriptionTerms#purchase}. Buying a package queues its purchase (see {@link #queuePurchase}).
   *
   * @param choices the SKU's attributes and quantities chosen, checked by {@link ChoiceRules} (a
   *     test subscription chooses the same way)
   * @throws CatalogException NOT_FOUND if the SKU does not exist; CONFLICT {@value
   *     CatalogException#PRODUCT_NOT_LISTED} if its product cannot be bought ({@link
   *     ListingRules#requireBuyable})
   * @throws IllegalArgumentException naming the choice ({@code attributes.edition}, {@code
   *     quantities.users}) that is missing, unknown or out of range, or whose quota overflows
   */
  public IssuedKey createSubscription(String skuId, String buyerId, String buyerName, boolean test,
      PurchaseChoices choices) {
    requireText(buyerId, "buyerId");
    Objects.requireNonNull(choices, "choices");
    String key = ApiKeys.newBuyerKey();
    Instant now = now();
    return db.inTransaction(c -> {
      SkuStore.lock(c, skuId);
      Sku sku = SkuStore.require(c, skuId);
      ChoiceRules.check(sku, choices);
      ListingRules.requireBuyable(ProductStore.lock(c, sku.productId()), test);
      var bought = new Subscription(ApiKeys.newId("sub"), skuId, buyerId, buyerName, SubscriptionStatus.ACTIVE,
          test, now, now, null, null, choices);
      Subscription sub = SubscriptionTerms.purchase(bought, sku, now);
      SubscriptionStore.insert(c, sub, ApiKeys.sha256Hex(key));
      queuePurchase(c, sub, sku);
      return new IssuedKey(sub, key);
    });
  }

  /** {@link #createSubscription(String, String, String, boolean, PurchaseChoices)} choosing nothing. */
  public IssuedKey createSubscription(String skuId, String buyerId, String buyerName, boolean test) {
    return createSubscription(skuId, buyerId, buyerName, test, PurchaseChoices.NONE);
  }

  public Optional<Subscription> getSubscription(String id) {
    return db.read(c -> SubscriptionStore.byId(c, id));
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
    return db.inTransaction(c -> {
      Subscription sub = SubscriptionStore.lock(c, id);
      if (sub.status() == status) {
        return sub;
      }
      if (sub.status() == SubscriptionStatus.CANCELLED) {
        throw CatalogException.conflict("subscription " + id + " is cancelled");
      }
      SubscriptionStore.setStatus(c, id, status);
      return sub.withStatus(status);
    });
  }

  /**
   * Starts a new period now with the terms of {@link SubscriptionTerms#renewal}, for the choices
   * bought (their quota, their quantity). The status is left as it is (a suspended subscription
   * stays suspended). Renewing a package queues its purchase (see {@link #queuePurchase}).
   *
   * @throws CatalogException NOT_FOUND; CONFLICT if the subscription is cancelled, or {@value
   *     CatalogException#PRODUCT_NOT_LISTED} if its product cannot be bought ({@link
   *     ListingRules#requireBuyable})
   */
  public Subscription renew(String id) {
    Instant now = now();
    return db.inTransaction(c -> {
      Subscription sub = SubscriptionStore.lock(c, id);
      if (sub.status() == SubscriptionStatus.CANCELLED) {
        throw CatalogException.conflict("subscription " + id + " is cancelled and cannot be renewed");
      }
      Sku sku = SkuStore.require(c, sub.skuId());
      ListingRules.requireBuyable(ProductStore.lock(c, sku.productId()), sub.test());
      Subscription renewed = SubscriptionTerms.renewal(sub, sku, now);
      SubscriptionStore.setPeriod(c, renewed);
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
    return db.inTransaction(c -> {
      Subscription sub = SubscriptionStore.lock(c, id);
      if (sub.status() == SubscriptionStatus.CANCELLED) {
        throw CatalogException.conflict("subscription " + id + " is cancelled");
      }
      SubscriptionStore.setKeyHash(c, id, ApiKeys.sha256Hex(key));
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
    return db.read(c -> SubscriptionStore.snapshotByKeyHash(c, keyHash));
  }

  /** A subscription with its SKU and product, by subscription id. */
  public Optional<SubscriptionSnapshot> findSnapshotById(String subscriptionId) {
    return db.read(c -> SubscriptionStore.snapshotById(c, subscriptionId));
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
    return db.read(c -> SubscriptionStore.testsExpiringAfter(c, skuIds, after));
  }

  // ---------------------------------------------------------------- audit trail

  /**
   * Appends an admin write to the audit trail, stamped now, owned by the merchant that owns
   * {@code objectId} (looked up by the id's prefix: {@code mer_}, {@code prod_}, {@code sku_},
   * {@code sub_}). {@code changes} must already have its secrets masked.
   */
  public AuditEvent audit(String actor, String action, String objectId, String changes) {
    return db.inTransaction(c -> {
      var e = new AuditEvent(AuditStore.nextId(c), now(), actor, action, objectId, AuditStore.ownerOf(c, objectId),
          changes);
      AuditStore.insert(c, e);
      return e;
    });
  }

  /** A page of the audit trail, oldest first: of one object and/or one owning merchant (null: any). */
  public Page<AuditEvent> pageAudit(String objectId, String merchantId, PageQuery page) {
    return db.read(c -> AuditStore.page(c, objectId, merchantId, page));
  }

  /**
   * A page of the subscriptions {@code filter} selects, each with its SKU and product, oldest
   * first; statuses as of the repository's clock.
   *
   * @throws IllegalArgumentException when {@code page.after()} names no subscription of that
   *     selection
   */
  public Page<SubscriptionSnapshot> pageSubscriptions(SubscriptionFilter filter, PageQuery page) {
    Instant now = now();
    return db.read(c -> SubscriptionStore.page(c, Objects.requireNonNull(filter, "filter"), now, page));
  }

  // ---------------------------------------------------------------- internals

  /**
   * Queues the purchase of a package (or PERIOD) period that starts at {@code sub.periodStart()}, in the
   * caller's transaction; pay-as-you-go SKUs are paid by their usage and buy nothing. A test
   * subscription's purchase is queued too, marked test (it costs 0, and merchants see it). The
   * order's quantity is the product of the quantities chosen ({@link ChoiceRules#units}; 1 where
   * none), so the package is priced once per unit bought.
   */
  private void queuePurchase(Connection c, Subscription sub, Sku sku) throws SQLException {
    if (!sku.mode().paidAtPurchase()) {
      return;
    }
    String merchantId = ProductStore.merchantOf(c, sku.productId())
        .orElseThrow(() -> CatalogException.notFound("product", sku.productId()));
    purchases.enqueue(c, new PurchaseOrder(sub.id(), sku.id(), sku.productId(), merchantId, sub.buyerId(),
        sub.test(), sub.periodStart(), ChoiceRules.units(sub.choices())));
  }

  private Instant now() {
    return Jdbc.micros(clock.instant());
  }

  private static void requireText(String s, String field) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException(field + " must not be blank");
    }
  }
}
