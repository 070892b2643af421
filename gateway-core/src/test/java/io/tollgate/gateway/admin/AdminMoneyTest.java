package io.tollgate.gateway.admin;

import io.tollgate.gateway.account.UsageView;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.store.UsageCounts;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Money in the admin API: the cached-input price of PER_TOKEN SKUs, and what usage costs in
 * {@code GET /admin/v1/usage} and the subscription views. Real HTTP on loopback, an H2 catalog and
 * the real JDBC meter store on it, time moved by a test clock; amounts are compared with exact
 * decimals computed by hand.
 */
class AdminMoneyTest {

  static final String OPERATOR = "operator-token-for-money-tests-0123";
  static final ObjectMapper JSON = new ObjectMapper();
  static final Instant T0 = Instant.parse("2025-03-01T00:00:00Z");

  static Vertx vertx;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final TestClock clock = new TestClock(T0);
  final AtomicInteger batches = new AtomicInteger();
  TestDatabases.Db db;
  CatalogRepository repo;
  JdbcMeterStore store;
  AdminServer server;
  String base;
  String merchantId;
  String merchant;

  record Resp(int status, JsonNode json, String raw) {}

  /** A subscription as the admin API returned it, with what a usage cell needs. */
  record Sub(String id, String skuId, String productId, boolean test) {}

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void start() throws Exception {
    db = TestDatabases.h2();
    repo = CatalogRepository.open(db.url(), db.user(), "", clock);
    store = new JdbcMeterStore(repo.dataSource(), "tg_", clock).migrate();
    var opts = AdminServer.Options.of(OPERATOR)
        .withClock(clock)
        .withUsageHistory(store::usage)
        .withUsageView(UsageView.metered(store::usage, repo.priceBook(), clock));
    server = new AdminServer(vertx, repo, opts);
    var httpServer =
        server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + httpServer.actualPort();
    JsonNode m = call("POST", "/admin/v1/merchants", OPERATOR, "{\"name\":\"acme\"," + AdminApi.SUPPORT + "}", 201)
        .json();
    merchantId = m.get("id").asText();
    merchant = m.get("token").asText();
  }

  @AfterEach
  void stop() throws Exception {
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
  }

  // ---------------------------------------------------------------- helpers

  Resp call(String method, String path, String token, String body, int status) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    OpenApiValidator.ADMIN.assertValid(r);
    return new Resp(r.statusCode(), JSON.readTree(r.body()), r.body());
  }

  JsonNode get(String path) throws Exception {
    return call("GET", path, OPERATOR, null, 200).json();
  }

  String product() throws Exception {
    return call("POST", "/admin/v1/products", merchant,
        "{\"name\":\"Acme Chat\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://127.0.0.1:18080\"}]}", 201)
        .json().get("id").asText();
  }

  String sku(String productId, String billing) throws Exception {
    return call("POST", "/admin/v1/products/" + productId + "/skus", merchant,
        "{\"name\":\"plan\",\"billing\":" + billing + "}", 201).json().get("id").asText();
  }

  /** A test subscription, or a buyer's, listing the SKU's product first if it is not yet. */
  Sub subscribe(String skuId, boolean test) throws Exception {
    if (!test) {
      String productId = get("/admin/v1/skus/" + skuId).get("productId").asText();
      if (!get("/admin/v1/products/" + productId).get("status").asText().equals("listed")) {
        call("POST", "/admin/v1/products/" + productId + "/submit", merchant, null, 200);
        call("POST", "/admin/v1/products/" + productId + "/approve", OPERATOR, null, 200);
      }
    }
    JsonNode s = call("POST", "/admin/v1/subscriptions", test ? merchant : OPERATOR,
        "{\"skuId\":\"" + skuId + "\",\"buyerId\":\"b1\",\"test\":" + test + "}", 201).json();
    return new Sub(s.get("id").asText(), skuId, s.get("productId").asText(), test);
  }

  /** Usage of one minute, applied to the meter store as the aggregator would. */
  void use(Sub s, Instant minute, long calls, long input, long cached, long output) {
    store.apply(List.of(new UsageBatch("b-" + batches.incrementAndGet(), List.of(new UsageCell(
        s.id(), s.skuId(), s.productId(), merchantId, "b1", s.test(), minute.toEpochMilli(),
        new UsageCounts(calls, input, cached, output, 0))))));
  }

  JsonNode usage(String selector, String granularity) throws Exception {
    return get("/admin/v1/usage?" + selector + "&from=" + T0 + "&to=" + T0.plus(Duration.ofHours(1))
        + "&granularity=" + granularity);
  }

  static List<String> amounts(JsonNode usage) {
    return usage.get("data").findValuesAsText("amount");
  }

  static final String PER_TOKEN =
      "{\"mode\":\"PER_TOKEN\",\"currency\":\"USD\",\"inputPricePerMillion\":\"0.15\","
          + "\"cachedInputPricePerMillion\":\"0.075\",\"outputPricePerMillion\":\"0.60\"}";

  // ---------------------------------------------------------------- usage amounts

  @Test
  void perTokenUsage_withCachedInputAndAPriceChange_costsTheExactAmount_perMinuteInForce() throws Exception {
    String productId = product();
    String skuId = sku(productId, PER_TOKEN);
    Sub s = subscribe(skuId, /* test= */ false);
    // (1000 - 400) x 0.15 + 400 x 0.075 + 500 x 0.60 = 420 per million
    use(s, T0.plusSeconds(60), 1, 1000, 400, 500);
    clock.advance(Duration.ofSeconds(150));
    call("PUT", "/admin/v1/skus/" + skuId, merchant, "{\"name\":\"plan\",\"billing\":{\"mode\":\"PER_TOKEN\","
        + "\"currency\":\"USD\",\"inputPricePerMillion\":\"0.20\",\"cachedInputPricePerMillion\":\"0.05\","
        + "\"outputPricePerMillion\":\"0.80\"}}", 200);
    // The minute of the change (00:02) started before it: old prices. 2000 x 0.15 + 100 x 0.60 = 360
    use(s, T0.plusSeconds(120), 1, 2000, 0, 100);
    // New prices: 2000 x 0.20 + 1000 x 0.05 + 700 x 0.80 = 1010
    use(s, T0.plusSeconds(180), 1, 3000, 1000, 700);
    // 4 x 0.20 + 3 x 0.05 + 1 x 0.80 = 1.75
    use(s, T0.plusSeconds(300), 1, 7, 3, 1);
    clock.advance(Duration.ofMinutes(10));

    JsonNode byMinute = usage("subscriptionId=" + s.id(), "minute");
    JsonNode byHour = usage("subscriptionId=" + s.id(), "hour");
    JsonNode byProduct = usage("productId=" + productId, "day");
    JsonNode subscription = get("/admin/v1/subscriptions/" + s.id());

    assertThat(amounts(byMinute))
        .as("each minute priced with the prices in force at its start")
        .containsExactly("0.00042", "0.00036", "0.00101", "0.00000175");
    assertThat(byMinute.get("data").findValuesAsText("currency")).containsOnly("USD");
    assertThat(byMinute.at("/total/amount").asText()).isEqualTo("0.00179175");
    assertThat(byMinute.at("/total/currency").asText()).isEqualTo("USD");
    assertThat(amounts(byHour)).as("an hour straddling the change: minutes priced, then summed")
        .containsExactly("0.00179175");
    assertThat(byProduct.at("/total/amount").asText()).isEqualTo("0.00179175");
    assertThat(subscription.at("/usage/amount").asText()).as("the current period's usage").isEqualTo("0.00179175");
    assertThat(subscription.at("/usage/currency").asText()).isEqualTo("USD");
    assertThat(byMinute.at("/data/0/amount").isTextual()).as("money is a decimal string, never a JSON number").isTrue();
  }

  @Test
  void perCallUsage_costsCallsTimesThePricePerCall() throws Exception {
    String skuId = sku(product(), "{\"mode\":\"PER_CALL\",\"currency\":\"EUR\",\"pricePerCall\":\"0.002\"}");
    Sub s = subscribe(skuId, /* test= */ false);
    use(s, T0.plusSeconds(60), 7, 70, 0, 70);
    use(s, T0.plusSeconds(120), 5, 50, 0, 50);
    clock.advance(Duration.ofMinutes(5));

    JsonNode byMinute = usage("skuId=" + skuId, "minute");

    assertThat(amounts(byMinute)).containsExactly("0.014", "0.01");
    assertThat(byMinute.at("/total/amount").asText()).isEqualTo("0.024");
    assertThat(byMinute.at("/total/currency").asText()).isEqualTo("EUR");
    assertThat(get("/admin/v1/subscriptions/" + s.id()).at("/usage/amount").asText()).isEqualTo("0.024");
  }

  @Test
  void packageUsage_costsZero_whileItsQuantitiesStillAddUp() throws Exception {
    String skuId = sku(product(),
        "{\"mode\":\"TOKEN_PACKAGE\",\"currency\":\"USD\",\"price\":\"9.90\",\"quota\":1000000,\"period\":\"MONTH\"}");
    Sub s = subscribe(skuId, /* test= */ false);
    use(s, T0.plusSeconds(60), 2, 1000, 100, 500);
    use(s, T0.plusSeconds(120), 1, 10, 0, 5);
    clock.advance(Duration.ofMinutes(5));

    JsonNode u = usage("subscriptionId=" + s.id(), "minute");
    JsonNode subscription = get("/admin/v1/subscriptions/" + s.id());

    assertThat(amounts(u)).as("paid at purchase").containsExactly("0", "0");
    assertThat(u.at("/total/amount").asText()).isEqualTo("0");
    assertThat(u.at("/total/currency").asText()).isEqualTo("USD");
    assertThat(u.at("/total/inputTokens").asLong()).isEqualTo(1010);
    assertThat(u.at("/total/calls").asLong()).isEqualTo(3);
    assertThat(subscription.at("/usage/amount").asText()).isEqualTo("0");
    assertThat(subscription.at("/usage/totalTokens").asLong()).isEqualTo(1515);
  }

  @Test
  void testSubscriptionUsage_costsZero_andIsLeftOutOfTheSkusAmount_butNotItsCounts() throws Exception {
    String productId = product();
    String skuId = sku(productId, PER_TOKEN);
    Sub buyer = subscribe(skuId, /* test= */ false);
    Sub test = subscribe(skuId, /* test= */ true);
    use(buyer, T0.plusSeconds(60), 1, 1000, 400, 500);
    use(test, T0.plusSeconds(60), 1, 1_000_000, 0, 1_000_000);
    use(test, T0.plusSeconds(120), 1, 5, 0, 5);
    clock.advance(Duration.ofMinutes(5));

    JsonNode ofTest = usage("subscriptionId=" + test.id(), "minute");
    JsonNode ofSku = usage("skuId=" + skuId, "minute");
    JsonNode ofMerchant = usage("merchantId=" + merchantId, "hour");

    assertThat(amounts(ofTest)).containsExactly("0", "0");
    assertThat(get("/admin/v1/subscriptions/" + test.id()).at("/usage/amount").asText()).isEqualTo("0");
    assertThat(get("/admin/v1/subscriptions/" + buyer.id()).at("/usage/amount").asText()).isEqualTo("0.00042");
    assertThat(amounts(ofSku)).as("only the buyer's usage costs money").containsExactly("0.00042", "0");
    assertThat(ofSku.at("/total/calls").asLong()).as("test usage is still counted").isEqualTo(3);
    assertThat(ofMerchant.at("/total/amount").asText()).isEqualTo("0.00042");
    assertThat(ofMerchant.at("/total/inputTokens").asLong()).isEqualTo(1_001_005);
  }

  @Test
  void aQueryOverSkusInSeveralCurrencies_givesOneAmountPerCurrency_neverASumAcrossThem() throws Exception {
    String productId = product();
    Sub usd = subscribe(sku(productId, "{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"0.5\"}"), false);
    Sub eur = subscribe(sku(productId, "{\"mode\":\"PER_CALL\",\"currency\":\"EUR\",\"pricePerCall\":\"0.25\"}"), false);
    use(usd, T0.plusSeconds(60), 3, 0, 0, 0);
    use(eur, T0.plusSeconds(60), 3, 0, 0, 0);
    use(eur, T0.plusSeconds(120), 1, 0, 0, 0);
    clock.advance(Duration.ofMinutes(5));

    JsonNode u = usage("productId=" + productId, "minute");

    assertThat(u.at("/total/amount").isNull()).as("no single amount: " + u).isTrue();
    assertThat(u.at("/total/currency").isNull()).isTrue();
    assertThat(u.at("/total/amountsByCurrency").toString()).isEqualTo("{\"EUR\":\"1\",\"USD\":\"1.5\"}");
    assertThat(u.at("/data/0/amountsByCurrency").toString()).isEqualTo("{\"EUR\":\"0.75\",\"USD\":\"1.5\"}");
    assertThat(u.at("/data/1/amountsByCurrency").toString()).isEqualTo("{\"EUR\":\"0.25\",\"USD\":\"0\"}");
    assertThat(u.at("/total/calls").asLong()).isEqualTo(7);
  }

  @Test
  void noUsage_costsZeroInTheSkusCurrency() throws Exception {
    String productId = product();
    sku(productId, PER_TOKEN);

    JsonNode u = usage("productId=" + productId, "hour");

    assertThat(u.get("data")).isEmpty();
    assertThat(u.at("/total/amount").asText()).isEqualTo("0");
    assertThat(u.at("/total/currency").asText()).isEqualTo("USD");
  }

  // ---------------------------------------------------------------- the cached-input price

  @Test
  void cachedInputPrice_isShownInTheSkuAndItsPriceHistory_onlyWhenSet() throws Exception {
    String productId = product();
    String withCached = sku(productId, PER_TOKEN);
    String without = sku(productId, PER_TOKEN.replace(",\"cachedInputPricePerMillion\":\"0.075\"", ""));
    JsonNode got = get("/admin/v1/skus/" + withCached);
    clock.advance(Duration.ofMinutes(1));

    Resp putBack = call("PUT", "/admin/v1/skus/" + withCached, merchant, got.toString(), 200);

    assertThat(got.at("/billing/cachedInputPricePerMillion").asText()).isEqualTo("0.075");
    assertThat(get("/admin/v1/skus/" + withCached + "/prices").at("/data/0/cachedInputPricePerMillion").asText())
        .isEqualTo("0.075");
    assertThat(putBack.json().at("/billing/cachedInputPricePerMillion").asText()).isEqualTo("0.075");
    assertThat(get("/admin/v1/skus/" + withCached + "/prices").get("data"))
        .as("a GET put back is no price change").hasSize(1);
    assertThat(get("/admin/v1/skus/" + without).get("billing").has("cachedInputPricePerMillion"))
        .as("not set: cached input costs the input price, whatever it becomes").isFalse();
  }

  @Test
  void cachedInputPrice_mustBeADecimalString_forPerTokenOnly_else400NamingIt() throws Exception {
    String productId = product();
    String field = "billing.cachedInputPricePerMillion";

    for (String bad : new String[] {"\"-0.01\"", "0.05", "\"1e-3\"", "\"abc\"", "\"0.1234567890123456789\""}) {
      Resp r = call("POST", "/admin/v1/products/" + productId + "/skus", merchant, "{\"name\":\"plan\",\"billing\":"
          + PER_TOKEN.replace("\"0.075\"", bad) + "}", 400);
      assertThat(r.json().at("/error/message").asText()).as("value %s", bad).startsWith(field + " must be a decimal string");
    }
    for (String billing : new String[] {
        "{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"0.01\",\"cachedInputPricePerMillion\":\"0.01\"}",
        "{\"mode\":\"TOKEN_PACKAGE\",\"currency\":\"USD\",\"price\":\"9\",\"quota\":10,\"period\":\"MONTH\","
            + "\"cachedInputPricePerMillion\":\"0.01\"}"}) {
      Resp r = call("POST", "/admin/v1/products/" + productId + "/skus", merchant,
          "{\"name\":\"plan\",\"billing\":" + billing + "}", 400);
      assertThat(r.json().at("/error/message").asText()).startsWith(field + " does not apply to");
      assertThat(r.json().at("/error/type").asText()).isEqualTo("invalid_request_error");
    }
    String free = sku(productId, PER_TOKEN.replace("\"0.075\"", "\"0\""));
    assertThat(get("/admin/v1/skus/" + free).at("/billing/cachedInputPricePerMillion").asText())
        .as("0 is a price: cache reads are free").isEqualTo("0");
  }
}
