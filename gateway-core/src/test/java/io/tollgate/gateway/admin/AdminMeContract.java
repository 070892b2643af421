package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.catalog.TestDatabases;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /admin/v1/me}, and what a buyer's API key may read on the admin port, on every
 * database the catalog supports (one subclass each).
 */
abstract class AdminMeContract {

  AdminApi api;

  abstract TestDatabases.Db newDatabase();
  JsonNode merchant;
  String subscriptionId;
  String buyerKey;

  @BeforeEach
  void start() throws Exception {
    api = AdminApi.start(newDatabase());
    merchant = api.merchant("Acme");
    String token = merchant.get("token").asText();
    String skuId = api.sku(token, api.product(token), AdminApi.PAYG_SKU);
    var sub = api.post("/admin/v1/subscriptions", token,
        "{\"skuId\":\"" + skuId + "\",\"test\":true,\"buyerName\":\"Tester\"}");
    assertThat(sub.status()).as(sub.raw()).isEqualTo(201);
    subscriptionId = sub.json().get("id").asText();
    buyerKey = sub.json().get("apiKey").asText();
  }

  @AfterEach
  void stop() throws Exception {
    api.close();
  }

  @Test
  void me_tellsTheRoleOfEachKindOfToken() throws Exception {
    JsonNode op = api.get("/admin/v1/me", OPERATOR).json();
    assertThat(op.get("role").asText()).isEqualTo("operator");
    assertThat(op.get("merchantId").isNull()).isTrue();

    JsonNode m = api.get("/admin/v1/me", merchant.get("token").asText()).json();
    assertThat(m.get("role").asText()).isEqualTo("merchant");
    assertThat(m.get("merchantId").asText()).isEqualTo(merchant.get("id").asText());
    assertThat(m.get("name").asText()).isEqualTo("Acme");

    var b = api.get("/admin/v1/me", buyerKey);
    assertThat(b.status()).as(b.raw()).isEqualTo(200);
    assertThat(b.json().get("role").asText()).isEqualTo("buyer");
    assertThat(b.json().get("name").asText()).isEqualTo("Tester");
    assertThat(b.json().at("/subscription/id").asText()).isEqualTo(subscriptionId);
    assertThat(b.raw()).as("the key is never echoed").doesNotContain(buyerKey);
  }

  @Test
  void aBuyerKey_readsItsOwnUsage_andIsRefusedEverythingElse() throws Exception {
    var own = api.get("/admin/v1/usage", buyerKey);
    assertThat(own.status()).as(own.raw()).isEqualTo(200);
    assertThat(own.json().get("subscriptionId").asText()).isEqualTo(subscriptionId);
    assertThat(api.get("/admin/v1/usage?subscriptionId=" + subscriptionId, buyerKey).status()).isEqualTo(200);

    String token = merchant.get("token").asText();
    var other = api.post("/admin/v1/subscriptions", token,
        "{\"skuId\":\"" + api.get("/admin/v1/subscriptions/" + subscriptionId, token).json().get("skuId").asText()
            + "\",\"test\":true}");
    AdminApi.error(api.get("/admin/v1/usage?subscriptionId=" + other.json().get("id").asText(), buyerKey), 403);
    AdminApi.error(api.get("/admin/v1/usage?merchantId=" + merchant.get("id").asText(), buyerKey), 403);
    AdminApi.error(api.get("/admin/v1/products", buyerKey), 403);
    AdminApi.error(api.get("/admin/v1/subscriptions/" + subscriptionId, buyerKey), 403);
    AdminApi.error(api.post("/admin/v1/subscriptions/" + subscriptionId + "/renew", buyerKey, null), 403);
    AdminApi.error(api.get("/admin/v1/audit", buyerKey), 403);
    AdminApi.error(api.get("/admin/v1/me", "tg-not-a-real-key"), 401);
  }

  @Test
  void usageWithoutASelector_isTheFleetForTheOperator_andTheirOwnForAMerchant() throws Exception {
    var fleet = api.get("/admin/v1/usage", OPERATOR);
    assertThat(fleet.status()).as(fleet.raw()).isEqualTo(200);
    assertThat(fleet.json().has("merchantId")).isFalse();
    assertThat(fleet.json().get("total").get("calls").asLong()).isZero();

    var mine = api.get("/admin/v1/usage", merchant.get("token").asText());
    assertThat(mine.status()).as(mine.raw()).isEqualTo(200);
    assertThat(mine.json().get("merchantId").asText()).isEqualTo(merchant.get("id").asText());
    assertThat(AdminApi.error(api.get("/admin/v1/usage?skuId=a&productId=b", OPERATOR), 400).get("message").asText())
        .contains("at most one");
  }
}
