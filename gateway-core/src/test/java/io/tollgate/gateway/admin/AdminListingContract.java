package io.tollgate.gateway.admin;

import io.tollgate.gateway.account.Entitlements;
import io.tollgate.gateway.account.UsageView;
import static io.tollgate.gateway.admin.AdminApi.OPERATOR;
import static io.tollgate.gateway.admin.AdminApi.PACKAGE_SKU;
import static io.tollgate.gateway.admin.AdminApi.PAYG_SKU;
import static io.tollgate.gateway.admin.AdminApi.PRODUCT;
import static io.tollgate.gateway.admin.AdminApi.created;
import static io.tollgate.gateway.admin.AdminApi.error;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.admin.AdminApi.Resp;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.ListingPolicy;
import io.tollgate.gateway.catalog.ReservedNames;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.TestDatabases;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The listing review, purchases that follow it, frozen SKUs, the merchant's support contact and
 * missed support replies, reserved names, and the merchant and product lists, through the admin
 * API on every database the catalog supports (one subclass each).
 */
abstract class AdminListingContract {

  AdminApi api;
  String merchantId;
  String token;

  abstract TestDatabases.Db newDatabase();

  @BeforeEach
  void start() throws Exception {
    api = AdminApi.start(newDatabase());
    JsonNode m = api.seller("acme");
    merchantId = m.get("id").asText();
    token = m.get("token").asText();
  }

  @AfterEach
  void stop() throws Exception {
    api.close();
  }

  Resp action(String productId, String action, String who, String body) throws Exception {
    return api.post("/admin/v1/products/" + productId + "/" + action, who, body);
  }

  String status(String productId) throws Exception {
    return api.get("/admin/v1/products/" + productId, OPERATOR).json().get("status").asText();
  }

  Resp buy(String skuId) throws Exception {
    return api.post("/admin/v1/subscriptions", OPERATOR, "{\"skuId\":\"" + skuId + "\",\"buyerId\":\"b1\"}");
  }

  Resp buyTest(String skuId) throws Exception {
    return api.post("/admin/v1/subscriptions", token, "{\"skuId\":\"" + skuId + "\",\"test\":true}");
  }

  /** The error code of {@code r}, after checking its status and the error shape. */
  static String code(Resp r, int status) {
    return error(r, status).get("code").asText();
  }

  // ---------------------------------------------------------------- the review

  @Test
  void aNewProductIsADraft_submittedByItsMerchant_approvedByTheOperator_andThenListed() throws Exception {
    String productId = api.product(token);
    api.sku(token, productId, PAYG_SKU);
    JsonNode draft = api.get("/admin/v1/products/" + productId, token).json();
    assertThat(draft.get("status").asText()).isEqualTo("draft");
    assertThat(draft.get("reviewNote").isNull()).isTrue();
    assertThat(draft.get("firstListedAt").isNull()).isTrue();
    api.changes.clear();

    Resp submitted = action(productId, "submit", token, null);
    assertThat(submitted.status()).as(submitted.raw()).isEqualTo(200);
    assertThat(submitted.json().get("status").asText()).isEqualTo("pending_review");
    assertThat(code(action(productId, "approve", token, null), 403)).isEqualTo("forbidden");
    api.clock.advance(Duration.ofHours(1));
    Resp approved = action(productId, "approve", OPERATOR, null);

    assertThat(approved.status()).as(approved.raw()).isEqualTo(200);
    assertThat(approved.json().get("status").asText()).isEqualTo("listed");
    assertThat(approved.json().get("firstListedAt").asText()).isEqualTo(api.clock.instant().toString());
    assertThat(api.changes).as("each step is announced, so cached subscriptions see the status")
        .containsExactly(CatalogChange.product(productId), CatalogChange.product(productId));
  }

  @Test
  void submitting_withoutASkuOrASupportContact_is409ListingIncomplete_namingWhatIsMissing() throws Exception {
    JsonNode bare = api.merchant("bare");
    String bareToken = bare.get("token").asText();
    String productId = api.product(bareToken);

    JsonNode nothing = error(action(productId, "submit", bareToken, null), 409);
    api.sku(bareToken, productId, PAYG_SKU);
    api.patch("/admin/v1/merchants/" + bare.get("id").asText(), bareToken, "{\"supportPhone\":\"+1 555 0100\"}");
    JsonNode noEmail = error(action(productId, "submit", bareToken, null), 409);
    api.patch("/admin/v1/merchants/" + bare.get("id").asText(), bareToken, "{\"supportEmail\":\"help@bare.example\"}");
    Resp complete = action(productId, "submit", bareToken, null);

    assertThat(nothing.get("code").asText()).isEqualTo("listing_incomplete");
    assertThat(nothing.get("message").asText()).contains("SKU", "supportPhone", "supportEmail");
    assertThat(noEmail.get("code").asText()).isEqualTo("listing_incomplete");
    assertThat(noEmail.get("message").asText()).contains("supportEmail").doesNotContain("SKU", "supportPhone");
    assertThat(complete.status()).as(complete.raw()).isEqualTo(200);
    assertThat(status(productId)).isEqualTo("pending_review");
  }

  @Test
  void aRejectedProductIsADraftWithTheReason_andItsMerchantMayResubmitIt() throws Exception {
    String productId = api.product(token);
    api.sku(token, productId, PAYG_SKU);
    action(productId, "submit", token, null);

    JsonNode noReason = error(action(productId, "reject", OPERATOR, "{}"), 400);
    JsonNode emptyBody = error(action(productId, "reject", OPERATOR, null), 400);
    assertThat(code(action(productId, "reject", token, "{\"reason\":\"mine\"}"), 403)).isEqualTo("forbidden");
    Resp rejected = action(productId, "reject", OPERATOR, "{\"reason\":\"the endpoint answers 500\"}");
    Resp resubmitted = action(productId, "submit", token, null);

    assertThat(noReason.get("message").asText()).startsWith("reason");
    assertThat(emptyBody.get("message").asText()).isNotBlank();
    assertThat(rejected.status()).as(rejected.raw()).isEqualTo(200);
    assertThat(rejected.json().get("status").asText()).isEqualTo("draft");
    assertThat(rejected.json().get("reviewNote").asText()).isEqualTo("the endpoint answers 500");
    assertThat(api.get("/admin/v1/products/" + productId, token).json().get("reviewNote").asText())
        .as("the merchant reads why").isEqualTo("the endpoint answers 500");
    assertThat(resubmitted.json().get("status").asText()).isEqualTo("pending_review");
  }

  @Test
  void aDelistedProduct_canBeResubmitted_andListedAgain() throws Exception {
    String productId = api.product(token);
    api.sku(token, productId, PAYG_SKU);
    api.list(token, productId);
    String firstListedAt = api.get("/admin/v1/products/" + productId, token).json().get("firstListedAt").asText();

    assertThat(code(action(productId, "delist", token, "{\"reason\":\"x\"}"), 403)).isEqualTo("forbidden");
    Resp delisted = action(productId, "delist", OPERATOR, "{\"reason\":\"trademark complaint\"}");
    assertThat(delisted.json().get("status").asText()).isEqualTo("delisted");
    assertThat(delisted.json().get("reviewNote").asText()).isEqualTo("trademark complaint");
    api.clock.advance(Duration.ofDays(2));
    api.list(token, productId);

    JsonNode relisted = api.get("/admin/v1/products/" + productId, token).json();
    assertThat(relisted.get("status").asText()).isEqualTo("listed");
    assertThat(relisted.get("reviewNote").isNull()).isTrue();
    assertThat(relisted.get("firstListedAt").asText()).as("the first listing stays the first").isEqualTo(firstListedAt);
  }

  @Test
  void everyTransitionNotAllowedFromTheCurrentStatus_is409InvalidTransition_andChangesNothing() throws Exception {
    String productId = api.product(token);
    api.sku(token, productId, PAYG_SKU);
    String reason = "{\"reason\":\"r\"}";
    List<String[]> fromDraft = List.of(new String[] {"approve", null}, new String[] {"reject", reason},
        new String[] {"delist", reason});
    for (String[] a : fromDraft) {
      assertThat(code(action(productId, a[0], OPERATOR, a[1]), 409)).as(a[0] + " a draft").isEqualTo("invalid_transition");
    }
    action(productId, "submit", token, null);
    assertThat(code(action(productId, "submit", token, null), 409)).isEqualTo("invalid_transition");
    assertThat(code(action(productId, "delist", OPERATOR, reason), 409)).isEqualTo("invalid_transition");
    action(productId, "approve", OPERATOR, null);
    api.changes.clear();
    for (String[] a : List.of(new String[] {"submit", null}, new String[] {"approve", null},
        new String[] {"reject", reason})) {
      JsonNode e = error(action(productId, a[0], a[0].equals("submit") ? token : OPERATOR, a[1]), 409);
      assertThat(e.get("code").asText()).as(a[0] + " a listed product").isEqualTo("invalid_transition");
      assertThat(e.get("message").asText()).contains("listed", a[0]);
    }
    action(productId, "delist", OPERATOR, reason);
    for (String[] a : List.of(new String[] {"approve", null}, new String[] {"reject", reason},
        new String[] {"delist", reason})) {
      assertThat(code(action(productId, a[0], OPERATOR, a[1]), 409)).as(a[0] + " a delisted product")
          .isEqualTo("invalid_transition");
    }
    assertThat(status(productId)).isEqualTo("delisted");
    assertThat(api.changes).as("only the delisting was announced").containsExactly(CatalogChange.product(productId));
  }

  @Test
  void anotherMerchant_cannotSeeOrSubmitTheProduct() throws Exception {
    String productId = api.product(token);
    api.sku(token, productId, PAYG_SKU);
    String other = api.seller("other").get("token").asText();

    assertThat(code(action(productId, "submit", other, null), 404)).isEqualTo("not_found");
    assertThat(code(api.get("/admin/v1/products/" + productId + "/support-failures", other), 404))
        .isEqualTo("not_found");
    assertThat(status(productId)).isEqualTo("draft");
  }

  // ---------------------------------------------------------------- purchases follow the listing

  @Test
  void buyersBuyOnlyListedProducts_whileTestSubscriptionsWorkInEveryStatusButDelisted() throws Exception {
    String productId = api.product(token);
    String skuId = api.sku(token, productId, PACKAGE_SKU);

    assertThat(code(buy(skuId), 409)).as("draft").isEqualTo("product_not_listed");
    assertThat(buyTest(skuId).status()).as("a merchant debugs its draft").isEqualTo(201);
    action(productId, "submit", token, null);
    assertThat(code(buy(skuId), 409)).as("pending review").isEqualTo("product_not_listed");
    assertThat(buyTest(skuId).status()).isEqualTo(201);
    action(productId, "approve", OPERATOR, null);
    assertThat(buy(skuId).status()).as("listed").isEqualTo(201);
    assertThat(buyTest(skuId).status()).isEqualTo(201);
    action(productId, "delist", OPERATOR, "{\"reason\":\"r\"}");
    JsonNode refused = error(buy(skuId), 409);
    assertThat(refused.get("code").asText()).isEqualTo("product_not_listed");
    assertThat(refused.get("message").asText()).contains(productId, "delisted");
    assertThat(code(buyTest(skuId), 409)).as("delisted: no test subscriptions either").isEqualTo("product_not_listed");
  }

  @Test
  void aSubscriptionBoughtBeforeADelisting_keepsWorking_butIsNotRenewed() throws Exception {
    String productId = api.product(token);
    String skuId = api.sku(token, productId, PACKAGE_SKU);
    String testSub = created(buyTest(skuId));
    api.list(token, productId);
    JsonNode bought = buy(skuId).json();
    String subId = bought.get("id").asText();
    assertThat(api.post("/admin/v1/subscriptions/" + subId + "/renew", OPERATOR, null).status())
        .as("listed: renewable").isEqualTo(200);

    action(productId, "delist", OPERATOR, "{\"reason\":\"r\"}");

    SubscriptionSnapshot snap = api.repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(bought.get("apiKey").asText()))
        .orElseThrow();
    JsonNode buyerView = AdminApi.JSON.readTree(new Entitlements(UsageView.NONE, null, api.clock).subscriptionJson(snap));
    assertThat(buyerView.get("status").asText()).as("the buyer paid: the key keeps working").isEqualTo("active");
    assertThat(buyerView.at("/product/status").asText()).isEqualTo("delisted");
    assertThat(api.post("/admin/v1/subscriptions/" + subId + "/suspend", OPERATOR, null).status()).isEqualTo(200);
    assertThat(api.post("/admin/v1/subscriptions/" + subId + "/resume", OPERATOR, null).status()).isEqualTo(200);
    assertThat(code(api.post("/admin/v1/subscriptions/" + subId + "/renew", OPERATOR, null), 409))
        .isEqualTo("product_not_listed");
    assertThat(code(api.post("/admin/v1/subscriptions/" + testSub + "/renew", token, null), 409))
        .isEqualTo("product_not_listed");
    assertThat(api.get("/admin/v1/subscriptions/" + subId, OPERATOR).json().get("expiresAt").asText())
        .as("the refused renewal changed nothing").isEqualTo(
            api.post("/admin/v1/subscriptions/" + subId + "/suspend", OPERATOR, null).json().get("expiresAt").asText());
  }

  // ---------------------------------------------------------------- frozen once listed

  @Test
  void aSkuIsFrozenFromTheFirstListing_butItsPricesMayChange() throws Exception {
    String productId = api.product(token);
    String skuId = api.sku(token, productId, PACKAGE_SKU);
    buyTest(skuId);
    Resp beforeListing = api.put("/admin/v1/skus/" + skuId, token, PACKAGE_SKU.replace("\"pro\"", "\"pro 2\""));
    assertThat(beforeListing.status()).as("test keys freeze nothing: " + beforeListing.raw()).isEqualTo(200);
    api.list(token, productId);
    String listedBody = PACKAGE_SKU.replace("\"pro\"", "\"pro 2\"");

    List<String[]> frozen = List.of(
        new String[] {"name", listedBody.replace("\"pro 2\"", "\"pro 3\"")},
        new String[] {"billing.mode", listedBody.replace("TOKEN_PACKAGE", "CALL_PACKAGE")},
        new String[] {"billing.currency", listedBody.replace("\"USD\"", "\"EUR\"")},
        new String[] {"billing.quota", listedBody.replace("1000000", "2000000")},
        new String[] {"billing.period", listedBody.replace("\"MONTH\"", "\"YEAR\"")});
    for (String[] f : frozen) {
      JsonNode e = error(api.put("/admin/v1/skus/" + skuId, token, f[1]), 409);
      assertThat(e.get("message").asText()).as(f[0]).startsWith(f[0] + " cannot change");
    }
    api.clock.advance(Duration.ofMinutes(1));
    Resp price = api.put("/admin/v1/skus/" + skuId, token, listedBody.replace("\"9.90\"", "\"12.00\""));

    assertThat(price.status()).as(price.raw()).isEqualTo(200);
    assertThat(api.get("/admin/v1/skus/" + skuId + "/prices", token).json().get("data")).as("history kept").hasSize(2);
    assertThat(api.get("/admin/v1/skus/" + skuId, token).json().get("name").asText()).isEqualTo("pro 2");
  }

  // ---------------------------------------------------------------- the merchant's support contact

  @Test
  void merchants_takeAValidatedSupportContact_atCreationAndByPatch() throws Exception {
    JsonNode created = api.seller("shop");
    String id = created.get("id").asText();
    String own = created.get("token").asText();
    assertThat(created.get("supportPhone").asText()).isEqualTo("+1 555 0100");
    assertThat(created.get("supportEmail").asText()).isEqualTo("support@acme.example");

    for (String[] bad : List.of(new String[] {"supportPhone", "\"12\""}, new String[] {"supportPhone", "\"call us\""},
        new String[] {"supportEmail", "\"support\""}, new String[] {"supportEmail", "\"a@b\""},
        new String[] {"supportPhone", "null"}, new String[] {"supportEmail", "42"})) {
      JsonNode e = error(api.patch("/admin/v1/merchants/" + id, own, "{\"" + bad[0] + "\":" + bad[1] + "}"), 400);
      assertThat(e.get("message").asText()).as(bad[0] + "=" + bad[1]).startsWith(bad[0]);
    }
    assertThat(error(api.post("/admin/v1/merchants", OPERATOR, "{\"name\":\"x\",\"supportEmail\":\"nope\"}"), 400)
        .get("message").asText()).startsWith("supportEmail");
    assertThat(error(api.patch("/admin/v1/merchants/" + id, own, "{\"name\":\"other\"}"), 400).get("message").asText())
        .startsWith("name");
    assertThat(error(api.patch("/admin/v1/merchants/" + id, own, "{}"), 400).get("message").asText())
        .contains("supportPhone");

    Resp byItself = api.patch("/admin/v1/merchants/" + id, own, "{\"supportEmail\":\"help@shop.example\"}");
    Resp byOperator = api.patch("/admin/v1/merchants/" + id, OPERATOR, "{\"supportPhone\":\"+44 20 7946 0000\"}");

    assertThat(byItself.status()).as(byItself.raw()).isEqualTo(200);
    assertThat(byOperator.json().get("supportPhone").asText()).isEqualTo("+44 20 7946 0000");
    JsonNode read = api.get("/admin/v1/merchants/" + id, own).json();
    assertThat(read.get("supportEmail").asText()).isEqualTo("help@shop.example");
    assertThat(read.get("supportPhone").asText()).isEqualTo("+44 20 7946 0000");
    assertThat(read.has("token")).as("a token is shown once, at creation").isFalse();
  }

  @Test
  void aMerchantSeesAndChangesOnlyItself_andOnlyTheOperatorListsMerchants() throws Exception {
    JsonNode other = api.seller("other");
    String otherId = other.get("id").asText();

    assertThat(code(api.get("/admin/v1/merchants/" + otherId, token), 404)).isEqualTo("not_found");
    assertThat(code(api.patch("/admin/v1/merchants/" + otherId, token, "{\"supportPhone\":\"+1 555 0199\"}"), 404))
        .isEqualTo("not_found");
    assertThat(api.get("/admin/v1/merchants/" + otherId, OPERATOR).json().get("name").asText()).isEqualTo("other");
    assertThat(code(api.get("/admin/v1/merchants", token), 403)).isEqualTo("forbidden");
    assertThat(api.get("/admin/v1/merchants/" + otherId, OPERATOR).json().get("supportPhone").asText())
        .as("the refused patch changed nothing").isEqualTo("+1 555 0100");
  }

  @Test
  void theOperatorPagesEveryMerchant_inCreationOrder() throws Exception {
    var ids = new ArrayList<String>();
    ids.add(merchantId);
    for (int i = 0; i < 6; i++) {
      api.clock.advance(Duration.ofMillis(1));
      ids.add(api.merchant("m" + i).get("id").asText());
    }
    var seen = new ArrayList<String>();
    String after = null;
    do {
      JsonNode page = api.get("/admin/v1/merchants?limit=3" + (after == null ? "" : "&after=" + after), OPERATOR).json();
      assertThat(page.get("object").asText()).isEqualTo("list");
      page.get("data").forEach(m -> {
        seen.add(m.get("id").asText());
        assertThat(m.get("object").asText()).isEqualTo("merchant");
        assertThat(m.has("token")).isFalse();
      });
      after = page.get("has_more").asBoolean() ? page.get("last_id").asText() : null;
    } while (after != null);

    assertThat(seen).containsExactlyElementsOf(ids);
    assertThat(error(api.get("/admin/v1/merchants?limit=0", OPERATOR), 400).get("message").asText()).startsWith("limit");
    assertThat(error(api.get("/admin/v1/merchants?name=x", OPERATOR), 400).get("message").asText()).startsWith("name");
  }

  @Test
  void theBuyersSubscription_showsTheMerchantsSupportContact_andTheProduct() throws Exception {
    String productId = api.product(token);
    String skuId = api.sku(token, productId, PAYG_SKU);
    api.list(token, productId);
    JsonNode bought = buy(skuId).json();
    api.changes.clear();
    api.patch("/admin/v1/merchants/" + merchantId, token, "{\"supportEmail\":\"care@acme.example\"}");

    SubscriptionSnapshot snap = api.repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(bought.get("apiKey").asText()))
        .orElseThrow();
    JsonNode view = AdminApi.JSON.readTree(new Entitlements(UsageView.NONE, null, api.clock).subscriptionJson(snap));

    assertThat(view.get("merchant")).isEqualTo(AdminApi.JSON.readTree(
        "{\"name\":\"acme\",\"supportPhone\":\"+1 555 0100\",\"supportEmail\":\"care@acme.example\"}"));
    assertThat(view.get("product")).isEqualTo(AdminApi.JSON.readTree(
        "{\"id\":\"" + productId + "\",\"name\":\"Acme Chat\",\"status\":\"listed\"}"));
    assertThat(api.get("/admin/v1/subscriptions/" + bought.get("id").asText(), OPERATOR).json().get("merchant"))
        .isEqualTo(view.get("merchant"));
    assertThat(api.changes).as("cached subscriptions of the merchant's products must show the new contact")
        .containsExactly(CatalogChange.product(productId));
  }

  // ---------------------------------------------------------------- missed support replies

  @Test
  void theThirdMissedSupportReplyWithin90Days_delistsTheProduct() throws Exception {
    String productId = api.product(token);
    String skuId = api.sku(token, productId, PAYG_SKU);
    api.list(token, productId);
    String path = "/admin/v1/products/" + productId + "/support-failures";
    api.changes.clear();

    assertThat(code(api.post(path, token, "{\"note\":\"mine\"}"), 403)).isEqualTo("forbidden");
    assertThat(error(api.post(path, OPERATOR, "{}"), 400).get("message").asText()).startsWith("note");
    JsonNode first = api.post(path, OPERATOR, "{\"note\":\"ticket 1 unanswered\"}").json();
    api.clock.advance(Duration.ofDays(50));
    JsonNode second = api.post(path, OPERATOR, "{\"note\":\"ticket 2 unanswered\"}").json();
    api.clock.advance(Duration.ofDays(41));
    JsonNode third = api.post(path, OPERATOR, "{\"note\":\"ticket 3 unanswered\"}").json();
    assertThat(first.get("failuresInWindow").asInt()).isEqualTo(1);
    assertThat(second.get("failuresInWindow").asInt()).isEqualTo(2);
    assertThat(third.get("failuresInWindow").asInt()).as("the first is 91 days old: out of the window").isEqualTo(2);
    assertThat(third.get("productStatus").asText()).isEqualTo("listed");
    assertThat(api.changes).as("nothing buyers see changed yet").isEmpty();
    api.clock.advance(Duration.ofDays(1));

    Resp fourth = api.post(path, OPERATOR, "{\"note\":\"ticket 4 unanswered\"}");

    assertThat(fourth.status()).as(fourth.raw()).isEqualTo(201);
    assertThat(fourth.json().get("failuresInWindow").asInt()).isEqualTo(3);
    assertThat(fourth.json().get("productStatus").asText()).isEqualTo("delisted");
    JsonNode product = api.get("/admin/v1/products/" + productId, token).json();
    assertThat(product.get("status").asText()).isEqualTo("delisted");
    assertThat(product.get("reviewNote").asText()).isEqualTo("support_unresponsive");
    assertThat(api.changes).containsExactly(CatalogChange.product(productId));
    assertThat(code(buy(skuId), 409)).isEqualTo("product_not_listed");
    JsonNode list = api.get(path, token).json();
    assertThat(list.get("data")).extracting(f -> f.get("note").asText()).containsExactly(
        "ticket 1 unanswered", "ticket 2 unanswered", "ticket 3 unanswered", "ticket 4 unanswered");
    assertThat(list.get("data").get(0).get("object").asText()).isEqualTo("support_failure");
  }

  @Test
  void supportFailuresToDelist_isConfigurable() throws Exception {
    AdminApi strict = AdminApi.start(newDatabase(),
        o -> o.withListingPolicy(new ListingPolicy(ReservedNames.DEFAULT, 1)));
    try {
      String seller = strict.seller("s").get("token").asText();
      String productId = strict.product(seller);
      strict.sku(seller, productId, PAYG_SKU);
      strict.list(seller, productId);

      Resp first = strict.post("/admin/v1/products/" + productId + "/support-failures", OPERATOR,
          "{\"note\":\"unanswered\"}");

      assertThat(first.json().get("productStatus").asText()).isEqualTo("delisted");
    } finally {
      strict.close();
    }
  }

  // ---------------------------------------------------------------- reserved names

  @Test
  void aProductNameWithAReservedWord_is400ReservedName_namingTheField_inAnyWidthOrCase() throws Exception {
    String productId = api.product(token);
    for (String name : List.of("Huawei Chat", "ＨＵＡＷＥＩ Chat", "ｈｕａｗｅｉ", "华为 Agent", "HUA\u200BWEI")) {
      String body = PRODUCT.replace("Acme Chat", name);
      JsonNode created = error(api.post("/admin/v1/products", token, body), 400);
      JsonNode renamed = error(api.put("/admin/v1/products/" + productId, token, body), 400);
      assertThat(created.get("code").asText()).as(name).isEqualTo("reserved_name");
      assertThat(created.get("message").asText()).as(name).startsWith("name ");
      assertThat(renamed.get("code").asText()).as(name).isEqualTo("reserved_name");
    }
    assertThat(code(api.post("/admin/v1/products", OPERATOR, PRODUCT.replace("Acme Chat", "Huawei")
        .replaceFirst("\\{", "{\"merchantId\":\"" + merchantId + "\",")), 400)).as("the operator too").isEqualTo("reserved_name");
    assertThat(api.get("/admin/v1/products/" + productId, token).json().get("name").asText()).isEqualTo("Acme Chat");
  }

  @Test
  void reservedNames_areConfigurable() throws Exception {
    AdminApi custom = AdminApi.start(newDatabase(),
        o -> o.withListingPolicy(new ListingPolicy(new ReservedNames(List.of("acme")), 3)));
    try {
      String seller = custom.seller("s").get("token").asText();
      assertThat(code(custom.post("/admin/v1/products", seller, PRODUCT), 400)).isEqualTo("reserved_name");
      assertThat(custom.post("/admin/v1/products", seller, PRODUCT.replace("Acme Chat", "Huawei Chat")).status())
          .as("the configured list replaces the default").isEqualTo(201);
    } finally {
      custom.close();
    }
  }

  // ---------------------------------------------------------------- products by status

  @Test
  void productsFilterByStatus_andEachMerchantSeesOnlyItsOwn() throws Exception {
    String draft = api.product(token);
    String pending = api.product(token);
    api.sku(token, pending, PAYG_SKU);
    action(pending, "submit", token, null);
    String listed = api.product(token);
    api.sku(token, listed, PAYG_SKU);
    api.list(token, listed);
    JsonNode other = api.seller("other");
    String otherToken = other.get("token").asText();
    String othersPending = api.product(otherToken);
    api.sku(otherToken, othersPending, PAYG_SKU);
    action(othersPending, "submit", otherToken, null);

    assertThat(ids("/admin/v1/products?status=draft", token)).containsExactly(draft);
    assertThat(ids("/admin/v1/products?status=listed", token)).containsExactly(listed);
    assertThat(ids("/admin/v1/products?status=pending_review", token)).containsExactly(pending);
    assertThat(ids("/admin/v1/products?status=pending_review", OPERATOR)).as("the operator's review queue")
        .containsExactlyInAnyOrder(pending, othersPending);
    assertThat(ids("/admin/v1/products?status=delisted", OPERATOR)).isEmpty();
    assertThat(error(api.get("/admin/v1/products?status=on_sale", OPERATOR), 400).get("message").asText())
        .startsWith("status");
    assertThat(api.get("/admin/v1/products?status=listed", token).json().at("/data/0/status").asText())
        .isEqualTo("listed");
  }

  List<String> ids(String path, String who) throws Exception {
    Resp r = api.get(path, who);
    assertThat(r.status()).as(r.raw()).isEqualTo(200);
    var out = new ArrayList<String>();
    r.json().get("data").forEach(d -> out.add(d.get("id").asText()));
    return out;
  }
}
