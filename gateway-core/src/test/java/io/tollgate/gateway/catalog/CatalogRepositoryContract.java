package io.tollgate.gateway.catalog;

import io.tollgate.billing.BillingMode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The catalog repository's contract, run on every database it supports (one subclass each). */
abstract class CatalogRepositoryContract {

  static final Instant T0 = Instant.parse("2025-01-15T10:00:00.123456789Z");

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

  Sku packageSku() {
    var m = repo.createMerchant("acme").merchant();
    var p = repo.createProduct(newProduct(m.id()));
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
    repo.createSubscription(sku.id(), "b1", null, /* test= */ false);
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
    repo.createSubscription(sku.id(), "b1", null, /* test= */ false);

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
    var sku = packageSku();
    repo.createSubscription(sku.id(), "merchant-test", null, /* test= */ true);

    assertThat(repo.updateSku(withName(sku, "renamed")).name()).isEqualTo("renamed");
  }

  // ---------------------------------------------------------------- subscriptions

  @Test
  void packageSubscription_getsSkuQuotaAndOnePeriod() {
    var sku = packageSku();

    IssuedKey issued = repo.createSubscription(sku.id(), "b1", "Bob", /* test= */ false);

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

    var calls = repo.createSubscription(perCall.id(), "m", null, /* test= */ true).subscription();
    var tokens = repo.createSubscription(perToken.id(), "m", null, /* test= */ true).subscription();

    assertThat(calls.quota()).isEqualTo(CatalogRepository.TEST_CALL_QUOTA);
    assertThat(tokens.quota()).isEqualTo(CatalogRepository.TEST_TOKEN_QUOTA);
    assertThat(calls.expiresAt()).isEqualTo(calls.periodStart().plus(CatalogRepository.TEST_PERIOD));
  }

  @Test
  void snapshotByKeyHash_resolvesSubscriptionSkuAndProduct() {
    var sku = packageSku();
    var issued = repo.createSubscription(sku.id(), "b1", "Bob", /* test= */ false);

    SubscriptionSnapshot snap =
        repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(issued.apiKey())).orElseThrow();

    assertThat(snap.subscription()).isEqualTo(issued.subscription());
    assertThat(snap.sku()).isEqualTo(sku);
    assertThat(snap.product()).isEqualTo(repo.getProduct(sku.productId()).orElseThrow());
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex("tg-unknown"))).isEmpty();
    assertThat(repo.findSnapshotByKeyHash("not-a-hash")).isEmpty();
  }

  @Test
  void snapshot_carriesThePricesInForceAfterAChange() {
    var sku = packageSku();
    var issued = repo.createSubscription(sku.id(), "b1", null, /* test= */ false);
    clock.advance(Duration.ofHours(1));
    repo.updateSku(withPrices(sku, new Prices(clock.instant(), "USD", null, null, null, new BigDecimal("11"))));

    var snap = repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(issued.apiKey())).orElseThrow();

    assertThat(snap.sku().prices().price()).isEqualByComparingTo("11");
  }

  @Test
  void rotateKey_oldKeyStopsResolving_newKeyResolves() {
    var sku = packageSku();
    var first = repo.createSubscription(sku.id(), "b1", null, /* test= */ false);

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
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false).subscription();
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
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false).subscription();
    clock.advance(Duration.ofDays(40));
    assertThat(s.statusAt(clock.instant())).isEqualTo(SubscriptionStatus.EXPIRED);

    Subscription renewed = repo.renew(s.id());

    assertThat(renewed.expiresAt()).isEqualTo(Period.MONTH.after(renewed.periodStart()));
    assertThat(renewed.statusAt(clock.instant())).isEqualTo(SubscriptionStatus.ACTIVE);
  }

  @Test
  void cancelled_isFinal() {
    var sku = packageSku();
    var s = repo.createSubscription(sku.id(), "b1", null, /* test= */ false).subscription();

    assertThat(repo.setStatus(s.id(), SubscriptionStatus.SUSPENDED).status()).isEqualTo(SubscriptionStatus.SUSPENDED);
    assertThat(repo.setStatus(s.id(), SubscriptionStatus.ACTIVE).status()).isEqualTo(SubscriptionStatus.ACTIVE);
    assertThat(repo.setStatus(s.id(), SubscriptionStatus.CANCELLED).status()).isEqualTo(SubscriptionStatus.CANCELLED);

    assertThatThrownBy(() -> repo.setStatus(s.id(), SubscriptionStatus.ACTIVE)).isInstanceOf(CatalogException.class);
    assertThatThrownBy(() -> repo.renew(s.id())).isInstanceOf(CatalogException.class);
    assertThatThrownBy(() -> repo.rotateKey(s.id())).isInstanceOf(CatalogException.class);
    assertThat(repo.getSubscription(s.id()).orElseThrow().status()).isEqualTo(SubscriptionStatus.CANCELLED);
  }

  @Test
  void concurrentSubscribeAndQuotaChange_subscriptionAlwaysGetsTheQuotaThatStays() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 10; round++) {
        var sku = packageSku();
        var barrier = new CyclicBarrier(2);
        Future<IssuedKey> subscribe =
            pool.submit(() -> {
              barrier.await();
              return repo.createSubscription(sku.id(), "b", null, /* test= */ false);
            });
        Future<?> change =
            pool.submit(() -> {
              barrier.await();
              try {
                return repo.updateSku(withQuota(sku, 42));
              } catch (CatalogException refusedBecauseSubscribed) {
                return null;
              }
            });
        Subscription sub = subscribe.get().subscription();
        change.get();

        assertThat(sub.quota())
            .as("round %d: either the change came first and the buyer got it, or it was refused", round)
            .isEqualTo(repo.getSku(sku.id()).orElseThrow().quota());
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
