package io.tollgate.gateway.catalog;

import io.tollgate.billing.BillingMode;
import io.tollgate.billing.PriceEntry;
import io.tollgate.billing.PurchaseOrder;
import io.tollgate.billing.SkuTerms;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The catalog repository's contract, run on every database it supports (one subclass each). */
abstract class CatalogRepositoryContract {

  static final Instant T0 = Instant.parse("2025-01-15T10:00:00.123456789Z");
  /** Valid choices for {@link #newSku}'s attributes and quantities: one seat, so the SKU's own quota. */
  static final PurchaseChoices CHOICES = new PurchaseChoices(Map.of("modelVersion", "v1"), Map.of("seats", 1L));

  final TestClock clock = new TestClock(T0);
  TestDatabases.Db db;
  CatalogRepository repo;

  abstract TestDatabases.Db newDatabase();

  @BeforeEach
  void open() {
    db = newDatabase();
    repo = CatalogRepository.open(db.url(), db.user(), "", clock);
  }

  @AfterEach
  void close() {
    if (repo != null) {
      repo.close();
    }
    if (db != null) {
      db.drop();
    }
  }

  // ---------------------------------------------------------------- fixtures

  Product newProduct(String merchantId) {
    return new Product(
        ApiKeys.newId("prod"),
        merchantId,
        "Acme Chat",
        Protocol.OPENAI,
        List.of(
            new Endpoint("http://127.0.0.1:18080/v1", 3, Map.of("X-Merchant-Key", "hdr-secret")),
            new Endpoint("https://api.example.com", 1, Map.of())),
        new UpstreamAuth(UpstreamAuth.Type.AKSK, "ak-1", "sk-secret"),
        Duration.ofMillis(1500),
        Duration.ofSeconds(30),
        List.of(),
        "/health",
        "cl100k_base",
        List.of("/meta/usage"),
        null);
  }

  Sku newSku(String productId, BillingMode mode) {
    Prices prices =
        switch (mode) {
          case PER_TOKEN -> new Prices(clock.instant(), "USD", new BigDecimal("0.15"), new BigDecimal("0.60"), null, null);
          case PER_CALL -> new Prices(clock.instant(), "USD", null, null, new BigDecimal("0.002"), null);
          default -> new Prices(clock.instant(), "USD", null, null, null, new BigDecimal("9.90"));
        };
    boolean pkg = mode.isPackage();
    return new Sku(
        ApiKeys.newId("sku"),
        productId,
        "plan-" + mode,
        Map.of("modelVersion", List.of("v1", "v2")),
        List.of("mock-gpt"),
        mode,
        prices,
        pkg ? 1_000_000L : null,
        pkg ? Period.MONTH : null,
        60,
        null,
        Map.of("seats", new Sku.QuantityRange(1, 10)),
        null);
  }

  Sku withPrices(Sku s, Prices p) {
    return new Sku(s.id(), s.productId(), s.name(), s.attributes(), s.models(), s.mode(), p,
        s.quota(), s.period(), s.rpm(), s.tpm(), s.quantities(), s.createdAt());
  }

  Sku withName(Sku s, String name) {
    return new Sku(s.id(), s.productId(), name, s.attributes(), s.models(), s.mode(), s.prices(),
        s.quota(), s.period(), s.rpm(), s.tpm(), s.quantities(), s.createdAt());
  }

  Sku withMode(Sku s, BillingMode mode, Prices p) {
    return new Sku(s.id(), s.productId(), s.name(), s.attributes(), s.models(), mode, p,
        s.quota(), s.period(), s.rpm(), s.tpm(), s.quantities(), s.createdAt());
  }

  Sku withQuota(Sku s, long quota) {
    return new Sku(s.id(), s.productId(), s.name(), s.attributes(), s.models(), s.mode(),
        s.prices(), quota, s.period(), s.rpm(), s.tpm(), s.quantities(), s.createdAt());
  }

  /** A merchant with the support contact that submitting a product for review needs. */
  Merchant merchant() {
    return repo.createMerchant("acme", new SupportContact("+1 555 0100", "support@acme.example")).merchant();
  }

  /** Takes a product (with a SKU, its merchant with a support contact) through the review. */
  Product list(String productId) {
    repo.changeListing(productId, ListingAction.SUBMIT, null);
    return repo.changeListing(productId, ListingAction.APPROVE, null);
  }

  /** A TOKEN_PACKAGE SKU of a listed product: buyers can buy it. */
  Sku packageSku() {
    Sku sku = draftPackageSku();
    list(sku.productId());
    return sku;
  }

  /** A TOKEN_PACKAGE SKU of a product never submitted: only test subscriptions. */
  Sku draftPackageSku() {
    var p = repo.createProduct(newProduct(merchant().id()));
    return repo.createSku(newSku(p.id(), BillingMode.TOKEN_PACKAGE));
  }

  // ---------------------------------------------------------------- merchants

  @Test
  void merchantToken_isStoredOnlyAsItsHash_andFindsTheMerchant() throws Exception {
    CreatedMerchant created = repo.createMerchant("acme");

    assertThat(created.token()).startsWith("tgm-").hasSizeGreaterThanOrEqualTo(4 + 43);
    assertThat(repo.findMerchantByTokenHash(ApiKeys.sha256Hex(created.token())))
        .contains(created.merchant());
    assertThat(repo.findMerchantByTokenHash(ApiKeys.sha256Hex(created.token() + "x"))).isEmpty();
    try (Connection c = DriverManager.getConnection(db.url(), db.user(), "");
        var rs = c.createStatement().executeQuery("SELECT token_hash FROM merchants")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1))
          .as("only the hash of the token is stored")
          .isEqualTo(ApiKeys.sha256Hex(created.token()))
          .doesNotContain(created.token());
    }
    assertThat(created.toString()).doesNotContain(created.token());
  }

  // ---------------------------------------------------------------- products

  @Test
  void product_roundTripsEveryField_includingSecretsTheGatewayNeeds() {
    var m = repo.createMerchant("acme").merchant();
    Product created = repo.createProduct(newProduct(m.id()));

    Product read = repo.getProduct(created.id()).orElseThrow();

    assertThat(read).as("a stored product reads back equal").isEqualTo(created);
    assertThat(read.createdAt()).isEqualTo(T0.truncatedTo(java.time.temporal.ChronoUnit.MICROS));
    assertThat(read.auth().secretKey()).isEqualTo("sk-secret");
    assertThat(read.endpoints().get(0).headers()).containsEntry("X-Merchant-Key", "hdr-secret");
    assertThat(read.toString())
        .as("toString must not print upstream secrets")
        .doesNotContain("sk-secret")
        .doesNotContain("hdr-secret");
  }

  @Test
  void listProductsOf_returnsOnlyThatMerchantsProducts() {
    var a = repo.createMerchant("a").merchant();
    var b = repo.createMerchant("b").merchant();
    var pa = repo.createProduct(newProduct(a.id()));
    var pb = repo.createProduct(newProduct(b.id()));

    assertThat(repo.listProductsOf(a.id())).containsExactly(pa);
    assertThat(repo.listProductsOf(b.id())).containsExactly(pb);
    assertThat(repo.listProducts()).containsExactlyInAnyOrder(pa, pb);
  }

  @Test
  void updateProduct_keepsMerchantAndCreationTime() {
    var m = repo.createMerchant("acme").merchant();
    var p = repo.createProduct(newProduct(m.id()));
    var changed =
        new Product(p.id(), "someone-else", "Renamed", Protocol.CUSTOM, p.endpoints(), UpstreamAuth.NONE,
            null, null, List.of("/agent/run"), null, null, null, T0.plusSeconds(99));

    Product stored = repo.updateProduct(changed);

    assertThat(stored.merchantId()).as("a product never changes owner").isEqualTo(m.id());
    assertThat(stored.createdAt()).isEqualTo(p.createdAt());
    assertThat(stored.name()).isEqualTo("Renamed");
    assertThat(stored.paths()).containsExactly("/agent/run");
    assertThat(stored.auth()).isEqualTo(UpstreamAuth.NONE);
  }

  @Test
  void createProduct_forUnknownMerchant_isNotFound() {
    assertThatThrownBy(() -> repo.createProduct(newProduct("mer_nobody")))
        .isInstanceOf(CatalogException.class)
        .extracting(e -> ((CatalogException) e).kind())
        .isEqualTo(CatalogException.Kind.NOT_FOUND);
  }

  // ---------------------------------------------------------------- SKUs and prices

  @Test
  void sku_roundTripsEveryField_withExactMoney() {
    var m = repo.createMerchant("acme").merchant();
    var p = repo.createProduct(newProduct(m.id()));
    var tiny = new Prices(clock.instant(), "USD", new BigDecimal("0.000000000000000001"),
        new BigDecimal("12345678901234567890.5"), null, null);
    Sku created = repo.createSku(withPrices(newSku(p.id(), BillingMode.PER_TOKEN), tiny));

    Sku read = repo.getSku(created.id()).orElseThrow();

    assertThat(read).isEqualTo(created);
    assertThat(read.prices().inputPricePerMillion().toPlainString()).isEqualTo("0.000000000000000001");
    assertThat(read.prices().outputPricePerMillion().toPlainString()).isEqualTo("12345678901234567890.5");
    assertThat(repo.listSkus(p.id())).containsExactly(created);
  }

  @Test
  void priceChange_appliesFromItsTime_andEveryPastPriceStaysQueryable() {
    var sku = packageSku();
    repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES);
    Instant t1 = clock.instant();
    clock.advance(Duration.ofDays(10));
    Instant t2 = clock.instant();
    var raised = new Prices(t2, "USD", null, null, null, new BigDecimal("12.50"));

    Sku updated = repo.updateSku(withPrices(sku, raised));

    assertThat(updated.prices().price()).isEqualByComparingTo("12.50");
    assertThat(repo.pricesAt(sku.id(), t1.minusMillis(1))).as("no price before the SKU existed").isEmpty();
    assertThat(repo.pricesAt(sku.id(), t1).orElseThrow().price()).isEqualByComparingTo("9.90");
    assertThat(repo.pricesAt(sku.id(), t2.minusNanos(1000)).orElseThrow().price())
        .as("the old price holds until the moment of the change")
        .isEqualByComparingTo("9.90");
    assertThat(repo.pricesAt(sku.id(), t2).orElseThrow().price()).isEqualByComparingTo("12.50");
    assertThat(repo.priceHistory(sku.id()))
        .extracting(Prices::price)
        .usingElementComparator(BigDecimal::compareTo)
        .containsExactly(new BigDecimal("9.90"), new BigDecimal("12.50"));
  }

  @Test
  void priceChange_cannotBeBackDated() {
    var sku = packageSku();
    var backDated = new Prices(T0.minusSeconds(60), "USD", null, null, null, new BigDecimal("1"));

    assertThatThrownBy(() -> repo.updateSku(withPrices(sku, backDated)))
        .isInstanceOf(CatalogException.class)
        .hasMessageContaining("back-dated");
    assertThat(repo.priceHistory(sku.id())).hasSize(1);
  }

  @Test
  void subscribedSku_refusesNameModeAndQuotaChanges_namingTheField() {
    var sku = packageSku();
    repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES);

    assertThatThrownBy(() -> repo.updateSku(withName(sku, "other")))
        .isInstanceOf(CatalogException.class)
        .hasMessageStartingWith("name cannot change");
    assertThatThrownBy(
            () -> repo.updateSku(withMode(sku, BillingMode.CALL_PACKAGE, sku.prices())))
        .hasMessageStartingWith("billing.mode cannot change");
    assertThatThrownBy(() -> repo.updateSku(withQuota(sku, 5)))
        .hasMessageStartingWith("billing.quota cannot change");
    assertThat(repo.getSku(sku.id()).orElseThrow()).as("refused changes leave the SKU as it was").isEqualTo(sku);
  }

  @Test
  void skuWithOnlyTestSubscriptions_canStillChangeItsName() {
    var sku = draftPackageSku();
    repo.createSubscription(sku.id(), "merchant-test", null, /* test= */ true, CHOICES);

    assertThat(repo.updateSku(withName(sku, "renamed")).name()).isEqualTo("renamed");
  }

  // ---------------------------------------------------------------- subscriptions

  @Test
  void packageSubscription_getsSkuQuotaAndOnePeriod() {
    var sku = packageSku();

    IssuedKey issued = repo.createSubscription(sku.id(), "b1", "Bob", /* test= */ false, CHOICES);

    Subscription s = issued.subscription();
    assertThat(issued.apiKey()).startsWith("tg-");
    assertThat(s.quota()).isEqualTo(1_000_000L);
    assertThat(s.expiresAt()).isEqualTo(Period.MONTH.after(s.periodStart()));
    assertThat(repo.getSubscription(s.id())).contains(s);
    assertThat(issued.toString()).doesNotContain(issued.apiKey());
  }

  @Test
  void testSubscription_getsShortExpiryAndSmallQuota() {
    var m = repo.createMerchant("acme").merchant();
    var p = repo.createProduct(newProduct(m.id()));
    var perCall = repo.createSku(newSku(p.id(), BillingMode.PER_CALL));
    var perToken = repo.createSku(newSku(p.id(), BillingMode.PER_TOKEN));

    var calls = repo.createSubscription(perCall.id(), "m", null, /* test= */ true, CHOICES).subscription();
    var tokens = repo.createSubscription(perToken.id(), "m", null, /* test= */ true, CHOICES).subscription();

    assertThat(calls.quota()).isEqualTo(CatalogRepository.TEST_CALL_QUOTA);
    assertThat(tokens.quota()).isEqualTo(CatalogRepository.TEST_TOKEN_QUOTA);
    assertThat(calls.expiresAt()).isEqualTo(calls.periodStart().plus(CatalogRepository.TEST_PERIOD));
  }

  @Test
  void snapshotByKeyHash_resolvesSubscriptionSkuAndProduct() {
    var sku = packageSku();
    var issued = repo.createSubscription(sku.id(), "b1", "Bob", /* test= */ false, CHOICES);

    SubscriptionSnapshot snap =
        repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(issued.apiKey())).orElseThrow();

    assertThat(snap.subscription()).isEqualTo(issued.subscription());
    assertThat(snap.sku()).isEqualTo(sku);
    assertThat(snap.product()).isEqualTo(repo.getProduct(sku.productId()).orElseThrow());
    assertThat(snap.product().status()).isEqualTo(ListingStatus.LISTED);
    assertThat(snap.merchant()).as("the merchant, for its name and support contact")
        .isEqualTo(repo.getMerchant(snap.product().merchantId()).orElseThrow());
    assertThat(snap.merchant().support().email()).isEqualTo("support@acme.example");
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex("tg-unknown"))).isEmpty();
    assertThat(repo.findSnapshotByKeyHash("not-a-hash")).isEmpty();
  }

  @Test
  void snapshot_carriesThePricesInForceAfterAChange() {
    var sku = packageSku();
    var issued = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES);
    clock.advance(Duration.ofHours(1));
    repo.updateSku(withPrices(sku, new Prices(clock.instant(), "USD", null, null, null, new BigDecimal("11"))));

    var snap = repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(issued.apiKey())).orElseThrow();

    assertThat(snap.sku().prices().price()).isEqualByComparingTo("11");
  }

  @Test
  void rotateKey_oldKeyStopsResolving_newKeyResolves() {
    var sku = packageSku();
    var first = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES);

    var second = repo.rotateKey(first.subscription().id());

    assertThat(second.apiKey()).isNotEqualTo(first.apiKey());
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(first.apiKey())))
        .as("the old key must stop working")
        .isEmpty();
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(second.apiKey())))
        .map(s -> s.subscription().id())
        .contains(first.subscription().id());
  }

  @Test
  void renew_restoresQuota_startsPeriodNow_andExtendsFromTheOldExpiry() {
    var sku = packageSku();
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES).subscription();
    clock.advance(Duration.ofDays(20));

    Subscription renewed = repo.renew(s.id());

    assertThat(renewed.periodStart()).isEqualTo(clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MICROS));
    assertThat(renewed.expiresAt())
        .as("renewing early keeps the unused days")
        .isEqualTo(Period.MONTH.after(s.expiresAt()));
    assertThat(renewed.quota()).isEqualTo(sku.quota());
    assertThat(repo.getSubscription(s.id())).contains(renewed);
  }

  @Test
  void renew_afterExpiry_startsANewPeriodFromNow() {
    var sku = packageSku();
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES).subscription();
    clock.advance(Duration.ofDays(40));
    assertThat(s.statusAt(clock.instant())).isEqualTo(SubscriptionStatus.EXPIRED);

    Subscription renewed = repo.renew(s.id());

    assertThat(renewed.expiresAt()).isEqualTo(Period.MONTH.after(renewed.periodStart()));
    assertThat(renewed.statusAt(clock.instant())).isEqualTo(SubscriptionStatus.ACTIVE);
  }

  @Test
  void cancelled_isFinal() {
    var sku = packageSku();
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES).subscription();

    assertThat(repo.setStatus(s.id(), SubscriptionStatus.SUSPENDED).status()).isEqualTo(SubscriptionStatus.SUSPENDED);
    assertThat(repo.setStatus(s.id(), SubscriptionStatus.ACTIVE).status()).isEqualTo(SubscriptionStatus.ACTIVE);
    assertThat(repo.setStatus(s.id(), SubscriptionStatus.CANCELLED).status()).isEqualTo(SubscriptionStatus.CANCELLED);

    assertThatThrownBy(() -> repo.setStatus(s.id(), SubscriptionStatus.ACTIVE)).isInstanceOf(CatalogException.class);
    assertThatThrownBy(() -> repo.renew(s.id())).isInstanceOf(CatalogException.class);
    assertThatThrownBy(() -> repo.rotateKey(s.id())).isInstanceOf(CatalogException.class);
    assertThat(repo.getSubscription(s.id()).orElseThrow().status()).isEqualTo(SubscriptionStatus.CANCELLED);
  }

  @Test
  void concurrentApprovalAndQuotaChange_neverDeadlock_andTheListedSkuIsFrozenFromThen() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 10; round++) {
        var sku = draftPackageSku();
        repo.changeListing(sku.productId(), ListingAction.SUBMIT, null);
        var barrier = new CyclicBarrier(2);
        Future<Product> approve =
            pool.submit(() -> {
              barrier.await();
              return repo.changeListing(sku.productId(), ListingAction.APPROVE, null);
            });
        Future<Sku> change =
            pool.submit(() -> {
              barrier.await();
              try {
                return repo.updateSku(withQuota(sku, 42));
              } catch (CatalogException refusedBecauseListed) {
                assertThat(refusedBecauseListed).hasMessageStartingWith("billing.quota cannot change");
                return null;
              }
            });
        assertThat(approve.get().status()).isEqualTo(ListingStatus.LISTED);
        Sku changed = change.get();

        long quota = repo.getSku(sku.id()).orElseThrow().quota();
        assertThat(quota)
            .as("round %d: the change committed before the approval, or was refused after it", round)
            .isEqualTo(changed != null ? 42L : sku.quota());
        assertThatThrownBy(() -> repo.updateSku(withQuota(sku, 7)))
            .as("listed: frozen from now on").hasMessageStartingWith("billing.quota cannot change");
        assertThat(repo.createSubscription(sku.id(), "b", null, /* test= */ false, CHOICES).subscription().quota())
            .isEqualTo(quota);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void concurrentPurchaseAndDelisting_neverDeadlock_andAPurchaseAfterTheDelistingIsRefused() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 10; round++) {
        var sku = packageSku();
        var barrier = new CyclicBarrier(2);
        Future<IssuedKey> buy =
            pool.submit(() -> {
              barrier.await();
              try {
                return repo.createSubscription(sku.id(), "b", null, /* test= */ false, CHOICES);
              } catch (CatalogException refused) {
                assertThat(refused.code()).isEqualTo(CatalogException.PRODUCT_NOT_LISTED);
                return null;
              }
            });
        Future<Product> delist =
            pool.submit(() -> {
              barrier.await();
              return repo.changeListing(sku.productId(), ListingAction.DELIST, "policy");
            });
        assertThat(delist.get().status()).isEqualTo(ListingStatus.DELISTED);
        IssuedKey bought = buy.get();

        assertThat(countSubscriptions(sku.id())).as("round %d", round).isEqualTo(bought == null ? 0 : 1);
        assertThatThrownBy(() -> repo.createSubscription(sku.id(), "b2", null, /* test= */ false, CHOICES))
            .isInstanceOfSatisfying(CatalogException.class,
                e -> assertThat(e.code()).isEqualTo(CatalogException.PRODUCT_NOT_LISTED));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  int countSubscriptions(String skuId) throws SQLException {
    try (Connection c = repo.dataSource().getConnection();
        var ps = c.prepareStatement("SELECT COUNT(*) FROM subscriptions WHERE sku_id = ?")) {
      ps.setString(1, skuId);
      try (var rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  // ---------------------------------------------------------------- listing

  @Test
  void productsStoredBeforeTheListingReview_areListed_andTheirSkusFrozen_newOnesStartAsDrafts() throws Exception {
    TestDatabases.Db old = newDatabase();
    try {
      org.flywaydb.core.Flyway.configure().dataSource(old.url(), old.user(), "").locations("classpath:db/migration")
          .target("3").load().migrate();
      try (Connection c = DriverManager.getConnection(old.url(), old.user(), "");
          var st = c.createStatement()) {
        st.execute("INSERT INTO merchants (id, name, token_hash, created_at) VALUES ('mer_old', 'old', '"
            + ApiKeys.sha256Hex("tgm-old") + "', TIMESTAMP WITH TIME ZONE '2024-06-01 00:00:00+00')");
        st.execute("INSERT INTO products (id, merchant_id, name, protocol, endpoints, auth_type, connect_timeout_ms,"
            + " response_timeout_ms, paths, tokenizer, created_at) VALUES ('prod_old', 'mer_old', 'Old', 'openai',"
            + " '[{\"url\":\"http://127.0.0.1:18080\",\"weight\":1,\"headers\":{}}]', 'NONE', 1000, 1000, '[]',"
            + " 'o200k_base', TIMESTAMP WITH TIME ZONE '2024-06-01 00:00:00+00')");
        st.execute("INSERT INTO skus (id, product_id, name, attributes, models, mode, quota, period, quantities,"
            + " created_at) VALUES ('sku_old', 'prod_old', 'pro', '{}', '[\"m\"]', 'TOKEN_PACKAGE', 1000, 'MONTH',"
            + " '{}', TIMESTAMP WITH TIME ZONE '2024-06-01 00:00:00+00')");
        st.execute("INSERT INTO sku_prices (sku_id, effective_from, currency, price) VALUES ('sku_old',"
            + " TIMESTAMP WITH TIME ZONE '2024-06-01 00:00:00+00', 'USD', 9.9)");
      }
      try (var upgraded = CatalogRepository.open(old.url(), old.user(), "", clock)) {
        Product p = upgraded.getProduct("prod_old").orElseThrow();
        assertThat(p.listing()).as("it was on sale already").isEqualTo(
            new Listing(ListingStatus.LISTED, null, Instant.parse("2024-06-01T00:00:00Z")));
        assertThat(upgraded.getMerchant("mer_old").orElseThrow().support()).isEqualTo(SupportContact.NONE);
        Sku sku = upgraded.getSku("sku_old").orElseThrow();
        assertThatThrownBy(() -> upgraded.updateSku(withQuota(sku, 5)))
            .hasMessageStartingWith("billing.quota cannot change");
        assertThat(upgraded.createSubscription("sku_old", "b1", null, /* test= */ false).subscription().quota())
            .isEqualTo(1000L);
        Product fresh = upgraded.createProduct(newProduct("mer_old"));
        assertThat(upgraded.getProduct(fresh.id()).orElseThrow().listing()).isEqualTo(Listing.DRAFT);
      }
    } finally {
      old.drop();
    }
  }

  @Test
  void listing_isKeptApartFromProductWrites_andFirstListedAtSurvivesADelisting() {
    Sku sku = draftPackageSku();
    Instant listedAt = clock.instant().truncatedTo(ChronoUnit.MICROS);
    Product listed = list(sku.productId());
    clock.advance(Duration.ofDays(1));

    Product edited = repo.updateProduct(new Product(listed.id(), listed.merchantId(), "Renamed", listed.protocol(),
        listed.endpoints(), listed.auth(), null, null, null, null, null, null, null, /* listing= */ Listing.DRAFT));
    Product delisted = repo.changeListing(listed.id(), ListingAction.DELIST, "counterfeit");
    Product resubmitted = repo.changeListing(listed.id(), ListingAction.SUBMIT, null);

    assertThat(listed.listing()).isEqualTo(new Listing(ListingStatus.LISTED, null, listedAt));
    assertThat(edited.listing()).as("a product write never changes its listing").isEqualTo(listed.listing());
    assertThat(delisted.listing()).isEqualTo(new Listing(ListingStatus.DELISTED, "counterfeit", listedAt));
    assertThat(resubmitted.listing()).isEqualTo(new Listing(ListingStatus.PENDING_REVIEW, "counterfeit", listedAt));
    assertThat(repo.changeListing(listed.id(), ListingAction.APPROVE, null).listing())
        .as("approved again: the first listing's time stays")
        .isEqualTo(new Listing(ListingStatus.LISTED, null, listedAt));
  }

  // ---------------------------------------------------------------- billing: cached input, price book, purchases

  /** A PER_TOKEN SKU of a listed product. */
  Sku perTokenSku(Prices prices) {
    var p = repo.createProduct(newProduct(merchant().id()));
    Sku sku = repo.createSku(withPrices(newSku(p.id(), BillingMode.PER_TOKEN), prices));
    list(p.id());
    return sku;
  }

  static Prices perToken(Instant at, String input, String cached, String output) {
    return new Prices(at, "USD", new BigDecimal(input), cached == null ? null : new BigDecimal(cached),
        new BigDecimal(output), null, null);
  }

  @Test
  void cachedInputPrice_roundTripsThroughThePriceHistory_andChangingItAloneIsAPriceChange() {
    Sku sku = perTokenSku(perToken(clock.instant(), "0.15", "0.075", "0.60"));
    Sku without = repo.createSku(newSku(sku.productId(), BillingMode.PER_TOKEN));
    clock.advance(Duration.ofMinutes(5));

    Sku changed = repo.updateSku(withPrices(sku, perToken(clock.instant(), "0.15", "0.0375", "0.60")));

    assertThat(repo.getSku(sku.id()).orElseThrow()).isEqualTo(changed);
    assertThat(changed.prices().cachedInputPricePerMillion().toPlainString()).isEqualTo("0.0375");
    assertThat(repo.priceHistory(sku.id()))
        .as("a change of the cached-input price alone is a new entry; the old one stays")
        .extracting(Prices::cachedInputPricePerMillion)
        .usingElementComparator(BigDecimal::compareTo)
        .containsExactly(new BigDecimal("0.075"), new BigDecimal("0.0375"));
    assertThat(repo.getSku(without.id()).orElseThrow().prices().cachedInputPricePerMillion())
        .as("not set means the input price, and reads back as not set")
        .isNull();
  }

  @Test
  void priceBook_termsAreTheModeAndTheWholePriceHistory_cachedInputIncluded() {
    Instant t0 = clock.instant().truncatedTo(ChronoUnit.MICROS);
    Sku sku = perTokenSku(perToken(clock.instant(), "0.15", null, "0.60"));
    clock.advance(Duration.ofDays(1));
    Instant t1 = clock.instant().truncatedTo(ChronoUnit.MICROS);
    repo.updateSku(withPrices(sku, perToken(clock.instant(), "0.20", "0.05", "0.80")));

    SkuTerms terms = repo.priceBook().terms(sku.id());

    assertThat(terms.skuId()).isEqualTo(sku.id());
    assertThat(terms.mode()).isEqualTo(BillingMode.PER_TOKEN);
    assertThat(terms.history()).extracting(PriceEntry::effectiveFrom).containsExactly(t0, t1);
    assertThat(terms.history().get(0).cachedInputPricePerMillion()).as("not set: pricing uses the input price").isNull();
    assertThat(terms.history().get(1).inputPricePerMillion()).isEqualByComparingTo("0.20");
    assertThat(terms.history().get(1).cachedInputPricePerMillion()).isEqualByComparingTo("0.05");
    assertThat(terms.history().get(1).outputPricePerMillion()).isEqualByComparingTo("0.80");
    assertThat(terms.history()).allMatch(e -> e.currency().equals("USD"));
  }

  @Test
  void priceBook_seesAPriceChangeMadeThroughItsRepositoryAtOnce() {
    Sku sku = perTokenSku(perToken(clock.instant(), "0.15", null, "0.60"));
    assertThat(repo.priceBook().terms(sku.id()).history()).hasSize(1);
    clock.advance(Duration.ofMinutes(1));

    repo.updateSku(withPrices(sku, perToken(clock.instant(), "0.20", null, "0.60")));

    assertThat(repo.priceBook().terms(sku.id()).history())
        .as("the write invalidated the cached terms")
        .hasSize(2);
  }

  @Test
  void priceBookOfAnotherInstance_servesItsCache_andSeesAChangeWithinItsMaxAge() {
    var nanos = new AtomicLong();
    var other = new CatalogPriceBook(repo::skuTerms, Duration.ofSeconds(10), nanos::get);
    Sku sku = perTokenSku(perToken(clock.instant(), "0.15", null, "0.60"));
    assertThat(other.terms(sku.id()).history()).hasSize(1);
    clock.advance(Duration.ofMinutes(1));
    repo.updateSku(withPrices(sku, perToken(clock.instant(), "0.20", null, "0.60")));

    var before = other.terms(sku.id());
    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    var after = other.terms(sku.id());

    assertThat(before.history()).as("cached: the database is not read on every call").hasSize(1);
    assertThat(after.history()).as("seen once the max age has passed").hasSize(2);
  }

  @Test
  void priceBook_unknownSku_isNotFound_andNotRememberedOnceItExists() {
    var m = repo.createMerchant("acme").merchant();
    var p = repo.createProduct(newProduct(m.id()));
    Sku later = newSku(p.id(), BillingMode.PER_CALL);

    assertThatThrownBy(() -> repo.priceBook().terms(later.id()))
        .isInstanceOfSatisfying(CatalogException.class,
            e -> assertThat(e.kind()).isEqualTo(CatalogException.Kind.NOT_FOUND));
    repo.createSku(later);

    assertThat(repo.priceBook().terms(later.id()).mode()).isEqualTo(BillingMode.PER_CALL);
  }

  /** A purchase as the outbox saw it, and what its connection showed at that moment. */
  record Queued(PurchaseOrder order, boolean inTransaction, Instant periodStartOnConnection) {}

  List<Queued> recordPurchases() {
    var queued = new CopyOnWriteArrayList<Queued>();
    repo.purchasesTo((c, order) -> {
      Instant seen = null;
      try (var ps = c.prepareStatement("SELECT period_start FROM subscriptions WHERE id = ?")) {
        ps.setString(1, order.subscriptionId());
        try (var rs = ps.executeQuery()) {
          if (rs.next()) {
            seen = rs.getObject(1, OffsetDateTime.class).toInstant();
          }
        }
      }
      queued.add(new Queued(order, !c.getAutoCommit(), seen));
    });
    return queued;
  }

  @Test
  void packagePurchaseAndEachRenewal_queueOneOrder_inTheTransactionThatWritesThePeriod() {
    List<Queued> queued = recordPurchases();
    Sku sku = packageSku();
    String merchantId = repo.getProduct(sku.productId()).orElseThrow().merchantId();

    Subscription s = repo.createSubscription(sku.id(), "b1", "Bob", /* test= */ false, CHOICES).subscription();
    clock.advance(Duration.ofDays(20));
    Subscription renewed = repo.renew(s.id());

    assertThat(queued).extracting(Queued::order).containsExactly(
        new PurchaseOrder(s.id(), sku.id(), sku.productId(), merchantId, "b1", false, s.periodStart(), 1),
        new PurchaseOrder(s.id(), sku.id(), sku.productId(), merchantId, "b1", false, renewed.periodStart(), 1));
    assertThat(queued).allSatisfy(q -> {
      assertThat(q.inTransaction()).as("queued inside the subscription write's transaction").isTrue();
      assertThat(q.periodStartOnConnection())
          .as("the connection already holds the period being bought")
          .isEqualTo(q.order().periodStart());
    });
  }

  @Test
  void testPackageSubscription_queuesATestPurchase() {
    List<Queued> queued = recordPurchases();
    Sku sku = packageSku();

    Subscription s = repo.createSubscription(sku.id(), "m", null, /* test= */ true, CHOICES).subscription();

    assertThat(queued).extracting(q -> q.order().test()).as("marked test, so it is priced 0").containsExactly(true);
    assertThat(queued.get(0).order().subscriptionId()).isEqualTo(s.id());
  }

  @Test
  void payAsYouGo_queuesNoPurchase_onSubscribeOrRenew() {
    List<Queued> queued = recordPurchases();
    Sku perToken = perTokenSku(perToken(clock.instant(), "0.15", null, "0.60"));
    Sku perCall = repo.createSku(newSku(perToken.productId(), BillingMode.PER_CALL));

    for (Sku sku : List.of(perToken, perCall)) {
      for (boolean test : new boolean[] {false, true}) {
        repo.renew(repo.createSubscription(sku.id(), "b1", null, test, CHOICES).subscription().id());
      }
    }

    assertThat(queued).as("pay-as-you-go is paid by its usage records").isEmpty();
  }

  @Test
  void purchaseThatCannotBeQueued_leavesNoSubscriptionAndNoRenewal() throws Exception {
    Sku sku = packageSku();
    Subscription s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, CHOICES).subscription();
    repo.purchasesTo((c, order) -> {
      throw new SQLException("outbox unavailable", "08006");
    });
    clock.advance(Duration.ofDays(3));

    assertThatThrownBy(() -> repo.createSubscription(sku.id(), "b2", null, /* test= */ false, CHOICES))
        .isInstanceOf(CatalogException.class);
    assertThatThrownBy(() -> repo.renew(s.id())).isInstanceOf(CatalogException.class);

    assertThat(repo.getSubscription(s.id())).as("the renewal rolled back with its purchase").contains(s);
    try (Connection c = repo.dataSource().getConnection();
        var ps = c.prepareStatement("SELECT COUNT(*) FROM subscriptions WHERE sku_id = ?")) {
      ps.setString(1, sku.id());
      try (var rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).as("no subscription without its purchase").isEqualTo(1);
      }
    }
  }

  @Test
  void listTestSubscriptions_findsTheTestSubscriptionsOfTheSkus_thatCanHaveUsageAfterATime() {
    Sku a = packageSku();
    Sku b = repo.createSku(newSku(a.productId(), BillingMode.PER_CALL));
    Sku c = repo.createSku(newSku(a.productId(), BillingMode.PER_TOKEN));
    String testA = repo.createSubscription(a.id(), "m", null, /* test= */ true, CHOICES).subscription().id();
    repo.createSubscription(a.id(), "b1", null, /* test= */ false, CHOICES);
    String testB = repo.createSubscription(b.id(), "m", null, /* test= */ true, CHOICES).subscription().id();
    repo.createSubscription(c.id(), "m", null, /* test= */ true, CHOICES);

    assertThat(repo.listTestSubscriptions(List.of(a.id(), b.id()), T0))
        .extracting(Subscription::id)
        .containsExactlyInAnyOrder(testA, testB);
    assertThat(repo.listTestSubscriptions(List.of(a.id(), b.id()), T0.plus(CatalogRepository.TEST_PERIOD)))
        .as("expired before the time asked about: it can have no usage after it")
        .isEmpty();
    assertThat(repo.listTestSubscriptions(List.of(), T0)).isEmpty();
  }
  // ---------------------------------------------------------------- choices at purchase

  /** A SKU sold by edition (basic, pro), users (0..10) and regions (1..5); {@code quota} for packages. */
  Sku choiceSku(BillingMode mode, long quota) {
    var p = repo.createProduct(newProduct(merchant().id()));
    Sku s = newSku(p.id(), mode);
    Sku sku = repo.createSku(new Sku(s.id(), s.productId(), s.name(), Map.of("edition", List.of("basic", "pro")),
        s.models(), s.mode(), s.prices(), mode.isPackage() ? quota : null, s.period(), s.rpm(), s.tpm(),
        Map.of("users", new Sku.QuantityRange(0, 10), "regions", new Sku.QuantityRange(1, 5)), null));
    list(p.id());
    return sku;
  }

  static PurchaseChoices choices(String edition, long users, long regions) {
    return new PurchaseChoices(Map.of("edition", edition), Map.of("users", users, "regions", regions));
  }

  @Test
  void choices_missingUnknownOrOutOfRange_areRefusedNamingTheField_forBuyersAndTests() {
    Sku sku = choiceSku(BillingMode.CALL_PACKAGE, 2);
    record Case(PurchaseChoices choices, String field) {}
    var cases = List.of(
        new Case(new PurchaseChoices(Map.of(), Map.of("users", 1L, "regions", 1L)), "attributes.edition is required"),
        new Case(choices("gold", 1, 1), "attributes.edition must be one of basic, pro"),
        new Case(new PurchaseChoices(Map.of("edition", "pro", "colour", "red"), Map.of("users", 1L, "regions", 1L)),
            "attributes.colour is not an attribute"),
        new Case(new PurchaseChoices(Map.of("edition", "pro"), Map.of("users", 1L)), "quantities.regions is required"),
        new Case(choices("pro", 11, 1), "quantities.users must be an integer from 1 to 10"),
        new Case(choices("pro", 0, 1), "quantities.users must be an integer from 1 to 10"),
        new Case(new PurchaseChoices(Map.of("edition", "pro"), Map.of("users", 1L, "regions", 1L, "seats", 2L)),
            "quantities.seats is not a quantity"),
        new Case(PurchaseChoices.NONE, "attributes.edition is required"));
    for (Case c : cases) {
      for (boolean test : new boolean[] {false, true}) {
        assertThatThrownBy(() -> repo.createSubscription(sku.id(), "b1", null, test, c.choices()))
            .as("%s (test=%s)", c.choices(), test)
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith(c.field());
      }
    }
    assertThat(repo.pageSubscriptions(SubscriptionFilter.ALL, PageQuery.first(10)).items())
        .as("a refused purchase stores nothing").isEmpty();
  }

  @Test
  void packageQuota_isTheSkuQuotaTimesTheQuantities_andRenewalKeepsIt() {
    List<Queued> queued = recordPurchases();
    Sku sku = choiceSku(BillingMode.CALL_PACKAGE, 2);

    Subscription s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, choices("pro", 3, 2))
        .subscription();
    clock.advance(Duration.ofDays(3));
    Subscription renewed = repo.renew(s.id());

    assertThat(s.quota()).as("2 calls x 3 users x 2 regions").isEqualTo(12L);
    assertThat(renewed.quota()).isEqualTo(12L);
    assertThat(renewed.choices()).isEqualTo(choices("pro", 3, 2));
    assertThat(repo.getSubscription(s.id()).orElseThrow().choices()).isEqualTo(choices("pro", 3, 2));
    assertThat(queued).extracting(q -> q.order().quantity())
        .as("each purchase order is for 6 units of the package").containsExactly(6L, 6L);
  }

  @Test
  void choices_areStoredWithTheSubscription_andResolvedWithItsKey() {
    Sku sku = choiceSku(BillingMode.TOKEN_PACKAGE, 1_000);
    IssuedKey issued = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, choices("basic", 10, 5));

    var snap = repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(issued.apiKey())).orElseThrow();

    assertThat(snap.subscription()).isEqualTo(issued.subscription());
    assertThat(snap.subscription().choices()).isEqualTo(choices("basic", 10, 5));
    assertThat(snap.subscription().quota()).isEqualTo(50_000L);
    assertThat(repo.setStatus(issued.subscription().id(), SubscriptionStatus.SUSPENDED).choices())
        .as("a status change keeps the choices").isEqualTo(choices("basic", 10, 5));
  }

  @Test
  void testSubscription_takesTheSameChoices_andItsQuotaStaysCapped() {
    Sku small = choiceSku(BillingMode.CALL_PACKAGE, 2);
    Sku large = choiceSku(BillingMode.CALL_PACKAGE, 400);

    var s = repo.createSubscription(small.id(), "m", null, /* test= */ true, choices("pro", 3, 1)).subscription();
    var l = repo.createSubscription(large.id(), "m", null, /* test= */ true, choices("pro", 3, 1)).subscription();

    assertThat(s.quota()).as("the package times the quantities, below the test cap").isEqualTo(6L);
    assertThat(l.quota()).as("1200 calls capped at the test quota").isEqualTo(CatalogRepository.TEST_CALL_QUOTA);
    assertThat(repo.renew(l.id()).quota()).isEqualTo(CatalogRepository.TEST_CALL_QUOTA);
  }

  @Test
  void quotaTimesQuantities_thatOverflows_isRefusedNamingQuantities() {
    Sku sku = choiceSku(BillingMode.TOKEN_PACKAGE, Long.MAX_VALUE / 4);

    assertThatThrownBy(() -> repo.createSubscription(sku.id(), "b1", null, /* test= */ false, choices("pro", 5, 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("quantities");
  }

  @Test
  void payAsYouGo_withQuantities_hasNoQuota_andQueuesNothing() {
    List<Queued> queued = recordPurchases();
    Sku sku = choiceSku(BillingMode.PER_CALL, 0);

    Subscription s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false, choices("pro", 4, 1))
        .subscription();

    assertThat(s.quota()).isNull();
    assertThat(s.choices().quantities()).containsEntry("users", 4L);
    assertThat(queued).isEmpty();
  }
}
