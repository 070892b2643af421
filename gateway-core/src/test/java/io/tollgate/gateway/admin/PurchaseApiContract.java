package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.admin.AdminApi.Resp;
import io.tollgate.gateway.catalog.PurchaseChoices;
import io.tollgate.gateway.catalog.TestDatabases;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Purchases through the admin API, on every database the catalog supports (one subclass each):
 * the attributes and quantities chosen, the quota and purchase quantity they make, the
 * subscription list and who sees what in it, and {@code Idempotency-Key}.
 */
abstract class PurchaseApiContract {

  /** A CALL_PACKAGE of 2 calls a month, sold by edition and by users (1..10). */
  static final String SEATS_SKU = """
      {"name":"team","models":["mock-gpt"],"attributes":{"edition":["basic","pro"]},
       "quantities":{"users":{"min":1,"max":10}},
       "billing":{"mode":"CALL_PACKAGE","currency":"USD","price":"5.00","quota":2,"period":"MONTH"}}
      """;

  AdminApi api;
  String merchant;
  String merchantId;
  String product;
  String sku;

  abstract TestDatabases.Db newDatabase();

  @BeforeEach
  void start() throws Exception {
    api = AdminApi.start(newDatabase());
    JsonNode m = api.seller("acme");
    merchant = m.get("token").asText();
    merchantId = m.get("id").asText();
    product = api.product(merchant);
    sku = api.sku(merchant, product, SEATS_SKU);
    api.list(merchant, product);
  }

  @AfterEach
  void stop() throws Exception {
    api.close();
  }

  static String purchase(String skuId, String buyerId, String choices) {
    return "{\"skuId\":\"" + skuId + "\",\"buyerId\":\"" + buyerId + "\",\"buyerName\":\"Buyer " + buyerId + "\""
        + (choices.isEmpty() ? "" : "," + choices) + "}";
  }

  static String pro(int users) {
    return "\"attributes\":{\"edition\":\"pro\"},\"quantities\":{\"users\":" + users + "}";
  }

  Resp buy(String token, String body, Map<String, String> headers) throws Exception {
    return api.call("POST", "/admin/v1/subscriptions", token, body, headers);
  }

  Resp buy(String body, String idempotencyKey) throws Exception {
    return buy(OPERATOR, body, Map.of("Idempotency-Key", idempotencyKey));
  }

  /** Buys (201), then moves the clock on, so that purchases list in the order they were made. */
  Resp bought(String token, String body) throws Exception {
    Resp r = api.post("/admin/v1/subscriptions", token, body);
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    api.clock.advance(Duration.ofMillis(1));
    return r;
  }

  String boughtId(String token, String body) throws Exception {
    return bought(token, body).json().get("id").asText();
  }

  /** The quantities of the purchase orders queued for a subscription, oldest first. */
  List<Long> purchaseQuantities(String subscriptionId) throws Exception {
    try (Connection c = api.repo.dataSource().getConnection();
        var ps = c.prepareStatement(
            "SELECT quantity FROM billing_purchase_outbox WHERE subscription_id = ? ORDER BY period_start")) {
      ps.setString(1, subscriptionId);
      try (var rs = ps.executeQuery()) {
        var out = new ArrayList<Long>();
        while (rs.next()) {
          out.add(rs.getLong(1));
        }
        return out;
      }
    }
  }

  /** Ids of the subscriptions a list shows, paging through it. */
  List<String> listIds(String query, String token) throws Exception {
    var ids = new ArrayList<String>();
    String after = null;
    for (int pages = 0; pages < 100; pages++) {
      String sep = query.isEmpty() ? "?" : query + "&";
      Resp r = api.get("/admin/v1/subscriptions" + sep + "limit=7" + (after == null ? "" : "&after=" + after), token);
      assertThat(r.status()).as(r.raw()).isEqualTo(200);
      assertThat(r.json().get("object").asText()).isEqualTo("list");
      r.json().get("data").forEach(d -> ids.add(d.get("id").asText()));
      if (!r.json().get("has_more").asBoolean()) {
        return ids;
      }
      after = r.json().get("last_id").asText();
    }
    throw new AssertionError("paging did not end");
  }

  // ---------------------------------------------------------------- choices

  @Test
  void choicesThatDoNotFitTheSku_are400NamingTheField_forOperatorAndMerchantTests() throws Exception {
    Map<String, String> cases = Map.of(
        "\"quantities\":{\"users\":3}", "attributes.edition is required",
        "\"attributes\":{\"edition\":\"gold\"},\"quantities\":{\"users\":3}", "attributes.edition must be one of basic, pro",
        "\"attributes\":{\"edition\":7},\"quantities\":{\"users\":3}", "attributes.edition must be a string",
        "\"attributes\":{\"edition\":\"pro\",\"region\":\"eu\"},\"quantities\":{\"users\":3}", "attributes.region is not an attribute",
        "\"attributes\":{\"edition\":\"pro\"}", "quantities.users is required",
        "\"attributes\":{\"edition\":\"pro\"},\"quantities\":{\"users\":11}", "quantities.users must be an integer from 1 to 10",
        "\"attributes\":{\"edition\":\"pro\"},\"quantities\":{\"users\":2.5}", "quantities.users must be a positive integer",
        "\"attributes\":{\"edition\":\"pro\"},\"quantities\":{\"users\":\"3\"}", "quantities.users must be a positive integer",
        "\"attributes\":{\"edition\":\"pro\"},\"quantities\":{\"users\":3,\"seats\":1}", "quantities.seats is not a quantity",
        "\"attributes\":\"pro\",\"quantities\":{\"users\":3}", "attributes must be an object");
    for (var c : cases.entrySet()) {
      Resp op = api.post("/admin/v1/subscriptions", OPERATOR, purchase(sku, "b1", c.getKey()));
      assertThat(AdminApi.error(op, 400).get("message").asText()).as(c.getKey()).startsWith(c.getValue());
      Resp test = api.post("/admin/v1/subscriptions", merchant,
          "{\"skuId\":\"" + sku + "\",\"test\":true," + c.getKey() + "}");
      assertThat(AdminApi.error(test, 400).get("message").asText()).as("test: " + c.getKey()).startsWith(c.getValue());
    }
    assertThat(api.get("/admin/v1/subscriptions", OPERATOR).json().get("data")).as("nothing was bought").isEmpty();
  }

  @Test
  void aPurchase_showsItsChoices_withQuotaTimesQuantities_andOrdersThatManyUnits() throws Exception {
    Resp bought = api.post("/admin/v1/subscriptions", OPERATOR, purchase(sku, "b1", pro(3)));
    assertThat(bought.status()).as(bought.raw()).isEqualTo(201);
    String id = bought.json().get("id").asText();

    for (JsonNode s : List.of(bought.json(), api.get("/admin/v1/subscriptions/" + id, OPERATOR).json())) {
      assertThat(s.get("attributes")).isEqualTo(AdminApi.JSON.readTree("{\"edition\":\"pro\"}"));
      assertThat(s.get("quantities")).isEqualTo(AdminApi.JSON.readTree("{\"users\":3}"));
      assertThat(s.get("quota").asLong()).as("2 calls x 3 users").isEqualTo(6);
      assertThat(s.get("remaining").asLong()).isEqualTo(6);
    }
    api.clock.advance(Duration.ofDays(3));
    Resp renewed = api.post("/admin/v1/subscriptions/" + id + "/renew", OPERATOR, null);
    assertThat(renewed.json().get("quota").asLong()).as("renewal keeps the quantities").isEqualTo(6);
    assertThat(renewed.json().get("quantities").get("users").asLong()).isEqualTo(3);
    assertThat(purchaseQuantities(id)).as("purchase and renewal are each for 3 units").containsExactly(3L, 3L);

    Resp test = api.post("/admin/v1/subscriptions", merchant,
        "{\"skuId\":\"" + sku + "\",\"test\":true," + pro(4) + "}");
    assertThat(test.status()).as(test.raw()).isEqualTo(201);
    assertThat(test.json().get("quota").asLong()).as("a test package is the package x quantities too").isEqualTo(8);
  }

  @Test
  void aSkuWithoutChoices_isBoughtWithNone_andShowsEmptyChoices() throws Exception {
    String plain = api.sku(merchant, product, AdminApi.PACKAGE_SKU);
    Resp bought = api.post("/admin/v1/subscriptions", OPERATOR, purchase(plain, "b1", ""));
    assertThat(bought.status()).as(bought.raw()).isEqualTo(201);
    assertThat(bought.json().get("attributes").isEmpty()).isTrue();
    assertThat(bought.json().get("quantities").isEmpty()).isTrue();
    assertThat(bought.json().get("quota").asLong()).isEqualTo(1_000_000);
    assertThat(purchaseQuantities(bought.json().get("id").asText())).containsExactly(1L);
  }

  // ---------------------------------------------------------------- the list

  @Test
  void aMerchantListsEverySubscriptionToItsOwnSkus_withChoicesAndUsage_neverAKey_andNothingOfOthers()
      throws Exception {
    JsonNode other = api.seller("other");
    String otherToken = other.get("token").asText();
    String otherProductId = api.product(otherToken);
    String otherSku = api.sku(otherToken, otherProductId, SEATS_SKU);
    api.list(otherToken, otherProductId);
    Resp mine = bought(OPERATOR, purchase(sku, "b1", pro(2)));
    Resp test = bought(merchant, "{\"skuId\":\"" + sku + "\",\"test\":true," + pro(1) + "}");
    Resp theirs = bought(OPERATOR, purchase(otherSku, "b2", pro(1)));
    String mineId = mine.json().get("id").asText();
    String testId = test.json().get("id").asText();
    String theirsId = theirs.json().get("id").asText();

    Resp list = api.get("/admin/v1/subscriptions", merchant);
    assertThat(list.status()).as(list.raw()).isEqualTo(200);
    assertThat(list.json().get("data")).extracting(d -> d.get("id").asText()).containsExactly(mineId, testId);
    JsonNode row = list.json().get("data").get(0);
    assertThat(row.get("buyerId").asText()).isEqualTo("b1");
    assertThat(row.get("buyerName").asText()).isEqualTo("Buyer b1");
    assertThat(row.get("status").asText()).isEqualTo("active");
    assertThat(row.get("quantities").get("users").asLong()).isEqualTo(2);
    assertThat(row.get("attributes").get("edition").asText()).isEqualTo("pro");
    assertThat(row.get("usage").get("calls").asLong()).isZero();
    assertThat(row.has("apiKey")).as("a list never shows a key").isFalse();
    for (Resp r : List.of(mine, test, theirs)) {
      assertThat(list.raw()).doesNotContain(r.json().get("apiKey").asText());
    }

    assertThat(listIds("", OPERATOR)).containsExactly(mineId, testId, theirsId);
    assertThat(listIds("", otherToken)).containsExactly(theirsId);
    assertThat(listIds("?skuId=" + otherSku, merchant)).as("another merchant's SKU selects nothing").isEmpty();
    assertThat(listIds("?buyerId=b2", merchant)).as("nor does its buyer").isEmpty();
    Resp after = api.get("/admin/v1/subscriptions?after=" + theirsId, merchant);
    assertThat(AdminApi.error(after, 400).get("message").asText()).startsWith("after");
  }

  @Test
  void theListFiltersBySkuProductBuyerStatusAndTest() throws Exception {
    String otherProduct = api.product(merchant);
    String otherSku = api.sku(merchant, otherProduct, SEATS_SKU);
    api.list(merchant, otherProduct);
    String a = boughtId(OPERATOR, purchase(sku, "b1", pro(1)));
    String b = boughtId(OPERATOR, purchase(sku, "b2", pro(1)));
    String c = boughtId(OPERATOR, purchase(otherSku, "b1", pro(1)));
    String t = boughtId(merchant, "{\"skuId\":\"" + sku + "\",\"test\":true," + pro(1) + "}");
    assertThat(api.post("/admin/v1/subscriptions/" + b + "/suspend", OPERATOR, null).status()).isEqualTo(200);
    assertThat(api.post("/admin/v1/subscriptions/" + c + "/cancel", OPERATOR, null).status()).isEqualTo(200);
    api.clock.advance(Duration.ofDays(8)); // past the test subscription's 7 days, within the month

    assertThat(listIds("?skuId=" + sku, merchant)).containsExactly(a, b, t);
    assertThat(listIds("?productId=" + otherProduct, merchant)).containsExactly(c);
    assertThat(listIds("?buyerId=b1", OPERATOR)).containsExactly(a, c);
    assertThat(listIds("?status=active", merchant)).containsExactly(a);
    assertThat(listIds("?status=suspended", merchant)).containsExactly(b);
    assertThat(listIds("?status=cancelled", merchant)).containsExactly(c);
    assertThat(listIds("?status=expired", merchant)).containsExactly(t);
    assertThat(listIds("?test=true", merchant)).containsExactly(t);
    assertThat(listIds("?test=false&skuId=" + sku, merchant)).containsExactly(a, b);
    assertThat(listIds("?skuId=" + sku + "&buyerId=b1&status=active&test=false&productId=" + product, OPERATOR))
        .containsExactly(a);

    for (String q : List.of("status=gone", "test=yes", "merchantId=" + merchantId, "skuid=" + sku, "limit=0", "buyerId=")) {
      Resp r = api.get("/admin/v1/subscriptions?" + q, merchant);
      assertThat(AdminApi.error(r, 400).get("message").asText()).as(q).startsWith(q.substring(0, q.indexOf('=')));
    }
  }

  @Test
  void theListPagesByKeyset_inCreationOrder_withNoneMissedOrRepeated() throws Exception {
    var ids = new ArrayList<String>();
    var group = new ArrayList<String>();
    var choices = new PurchaseChoices(Map.of("edition", "basic"), Map.of("users", 1L));
    for (int i = 0; i < 45; i++) {
      if (i % 3 == 0) {
        group.sort(null);
        ids.addAll(group);
        group.clear();
        api.clock.advance(Duration.ofMillis(1));
      }
      group.add(api.repo.createSubscription(sku, "b" + i, null, /* test= */ false, choices).subscription().id());
    }
    group.sort(null);
    ids.addAll(group);

    assertThat(listIds("", OPERATOR)).containsExactlyElementsOf(ids);
    assertThat(listIds("", merchant)).containsExactlyElementsOf(ids);
    Resp first = api.get("/admin/v1/subscriptions", OPERATOR);
    assertThat(first.json().get("data").size()).as("the default limit").isEqualTo(20);
    assertThat(first.json().get("has_more").asBoolean()).isTrue();
    assertThat(first.json().get("last_id").asText()).isEqualTo(ids.get(19));
  }

  // ---------------------------------------------------------------- Idempotency-Key

  @Test
  void aRetriedPurchase_withTheSameKeyAndBody_getsTheFirstAnswer_andBuysNothingMore() throws Exception {
    String body = purchase(sku, "b1", pro(3));
    Resp first = buy(body, "order-1001");
    Resp retry = buy(body, "order-1001");

    assertThat(first.status()).as(first.raw()).isEqualTo(201);
    assertThat(first.header("Idempotent-Replayed")).isNull();
    assertThat(retry.status()).isEqualTo(201);
    assertThat(retry.raw()).as("the same body, the same key").isEqualTo(first.raw());
    assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
    assertThat(listIds("?buyerId=b1", OPERATOR)).containsExactly(first.json().get("id").asText());
    assertThat(purchaseQuantities(first.json().get("id").asText())).hasSize(1);

    Resp other = buy(body, "order-1002");
    assertThat(other.status()).as("another key is another purchase").isEqualTo(201);
    assertThat(other.json().get("id").asText()).isNotEqualTo(first.json().get("id").asText());
  }

  @Test
  void theSameKeyWithAnotherBody_is409Reused_andChangesNothing() throws Exception {
    Resp first = buy(purchase(sku, "b1", pro(3)), "k-1");
    Resp changed = buy(purchase(sku, "b1", pro(4)), "k-1");

    assertThat(first.status()).isEqualTo(201);
    assertThat(AdminApi.error(changed, 409).get("code").asText()).isEqualTo("idempotency_key_reused");
    assertThat(listIds("?buyerId=b1", OPERATOR)).hasSize(1);
  }

  @Test
  void keysAreScopedToTheCallerAndTheRoute() throws Exception {
    Resp op = buy(purchase(sku, "b1", pro(1)), "shared-key");
    Resp test = buy(merchant, "{\"skuId\":\"" + sku + "\",\"test\":true," + pro(1) + "}",
        Map.of("Idempotency-Key", "shared-key"));
    String id = op.json().get("id").asText();
    Resp renew = api.call("POST", "/admin/v1/subscriptions/" + id + "/renew", OPERATOR, null,
        Map.of("Idempotency-Key", "shared-key"));

    assertThat(test.status()).as("a merchant's key is not the operator's").isEqualTo(201);
    assertThat(test.header("Idempotent-Replayed")).isNull();
    assertThat(renew.status()).as("a renewal's key is not a purchase's").isEqualTo(200);
    assertThat(renew.header("Idempotent-Replayed")).isNull();
  }

  @Test
  void aRetriedRenewal_getsTheFirstAnswer_andRenewsOnce() throws Exception {
    String id = api.post("/admin/v1/subscriptions", OPERATOR, purchase(sku, "b1", pro(2))).json().get("id").asText();
    String otherId = api.post("/admin/v1/subscriptions", OPERATOR, purchase(sku, "b2", pro(2))).json().get("id").asText();
    api.clock.advance(Duration.ofDays(3));
    Map<String, String> key = Map.of("Idempotency-Key", "renew-2025-03");

    Resp first = api.call("POST", "/admin/v1/subscriptions/" + id + "/renew", OPERATOR, null, key);
    int announced = api.changes.size();
    api.clock.advance(Duration.ofMinutes(5));
    Resp retry = api.call("POST", "/admin/v1/subscriptions/" + id + "/renew", OPERATOR, null, key);
    Resp another = api.call("POST", "/admin/v1/subscriptions/" + otherId + "/renew", OPERATOR, null, key);

    assertThat(first.status()).as(first.raw()).isEqualTo(200);
    assertThat(retry.raw()).isEqualTo(first.raw());
    assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
    assertThat(api.get("/admin/v1/subscriptions/" + id, OPERATOR).json().get("periodStart").asText())
        .as("renewed once: the period started at the first renewal")
        .isEqualTo(first.json().get("periodStart").asText());
    assertThat(purchaseQuantities(id)).as("the purchase and one renewal").hasSize(2);
    assertThat(api.changes).as("a replay changes nothing, so announces nothing").hasSize(announced);
    assertThat(AdminApi.error(another, 409).get("code").asText())
        .as("the key names one renewal of one subscription").isEqualTo("idempotency_key_reused");
  }

  @Test
  void aFailedFirstRequest_keepsNoAnswer_soTheCorrectedRetryRuns() throws Exception {
    Resp bad = buy(purchase(sku, "b1", pro(11)), "k-2");
    Resp fixed = buy(purchase(sku, "b1", pro(10)), "k-2");

    AdminApi.error(bad, 400);
    assertThat(fixed.status()).as(fixed.raw()).isEqualTo(201);
    assertThat(fixed.header("Idempotent-Replayed")).isNull();
  }

  @Test
  void aKeyIsKept24Hours_thenForgotten() throws Exception {
    String body = purchase(sku, "b1", pro(1));
    Resp first = buy(body, "daily");
    api.clock.advance(Duration.ofHours(24).minusSeconds(1));
    Resp within = buy(body, "daily");
    api.clock.advance(Duration.ofSeconds(1));
    Resp after = buy(body, "daily");

    assertThat(within.header("Idempotent-Replayed")).isEqualTo("true");
    assertThat(within.raw()).isEqualTo(first.raw());
    assertThat(after.status()).as(after.raw()).isEqualTo(201);
    assertThat(after.header("Idempotent-Replayed")).as("24 hours on, the key is new again").isNull();
    assertThat(after.json().get("id").asText()).isNotEqualTo(first.json().get("id").asText());
    try (Connection c = api.repo.dataSource().getConnection();
        var rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM idempotency_keys")) {
      rs.next();
      assertThat(rs.getInt(1)).as("the expired row was swept, the new one kept").isEqualTo(1);
    }
  }

  @Test
  void aKeyThatIsNotPrintableAsciiUpTo255_is400NamingTheHeader() throws Exception {
    for (String key : List.of("", "k".repeat(256), "tab\there")) {
      Resp r = buy(purchase(sku, "b1", pro(1)), key);
      assertThat(AdminApi.error(r, 400).get("message").asText()).as("[%s]", key).startsWith("Idempotency-Key");
    }
    // "café", its é as one Latin-1 byte and as UTF-8's two (the JDK client would send "caf?")
    for (byte[] e : List.of(new byte[] {(byte) 0xE9}, new byte[] {(byte) 0xC3, (byte) 0xA9})) {
      byte[] name = "Idempotency-Key: caf".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      byte[] line = java.util.Arrays.copyOf(name, name.length + e.length);
      System.arraycopy(e, 0, line, name.length, e.length);
      Resp r = api.rawPost("/admin/v1/subscriptions", OPERATOR, purchase(sku, "b1", pro(1)), line);
      assertThat(AdminApi.error(r, 400).get("message").asText()).as("%d bytes", e.length).startsWith("Idempotency-Key");
    }
    assertThat(buy(purchase(sku, "b1", pro(1)), "k".repeat(255)).status()).isEqualTo(201);
  }

  @Test
  void twoConcurrentFirstRequests_withOneKey_buyOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 8; round++) {
        String body = purchase(sku, "race-" + round, pro(1));
        String key = "race-key-" + round;
        var barrier = new CyclicBarrier(2);
        var calls = new ArrayList<Future<Resp>>();
        for (int i = 0; i < 2; i++) {
          calls.add(pool.submit(() -> {
            barrier.await();
            return buy(body, key);
          }));
        }
        var ids = new HashSet<String>();
        int created = 0;
        for (Future<Resp> f : calls) {
          Resp r = f.get();
          if (r.status() == 201) {
            created++;
            ids.add(r.json().get("id").asText());
          } else {
            assertThat(AdminApi.error(r, 409).get("code").asText()).as(r.raw()).isEqualTo("idempotency_key_in_use");
          }
        }
        assertThat(created).as("round %d: at least the winner answered", round).isPositive();
        assertThat(ids).as("round %d: every 201 shows the one subscription", round).hasSize(1);
        assertThat(listIds("?buyerId=race-" + round, OPERATOR)).as("round %d: bought once", round)
            .containsExactlyElementsOf(ids);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
