package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.catalog.TestDatabases;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The audit trail, on every database the catalog supports (one subclass each). */
abstract class AdminAuditContract {

  static final String SECRET = "sk-audit-never-kept";
  static final String HEADER_SECRET = "Bearer header-never-kept";
  static final String PRODUCT_WITH_SECRETS = """
      {"name":"Acme Chat","protocol":"openai",
       "endpoints":[{"url":"http://127.0.0.1:18080","weight":1,"headers":{"X-Upstream-Auth":"%s"}}],
       "auth":{"type":"aksk","accessKey":"ak-public","secretKey":"%s"}}
      """.formatted(HEADER_SECRET, SECRET);

  AdminApi api;

  abstract TestDatabases.Db newDatabase();

  @BeforeEach
  void start() throws Exception {
    api = AdminApi.start(newDatabase());
  }

  @AfterEach
  void stop() throws Exception {
    api.close();
  }

  List<JsonNode> events(String query, String token) throws Exception {
    var r = api.get("/admin/v1/audit" + query, token);
    assertThat(r.status()).as(r.raw()).isEqualTo(200);
    assertThat(r.raw()).doesNotContain(SECRET).doesNotContain(HEADER_SECRET);
    var out = new ArrayList<JsonNode>();
    r.json().get("data").forEach(out::add);
    return out;
  }

  @Test
  void everyWrite_isKeptWithActorActionObjectAndChanges_andSecretsAreMasked() throws Exception {
    JsonNode a = api.merchant("a");
    String merchantId = a.get("id").asText();
    String token = a.get("token").asText();
    String productId = AdminApi.created(api.post("/admin/v1/products", token, PRODUCT_WITH_SECRETS));
    String skuId = api.sku(token, productId, AdminApi.PAYG_SKU);
    api.get("/admin/v1/products/" + productId, token);
    AdminApi.error(api.put("/admin/v1/skus/" + skuId, token, "{\"name\":\"\"}"), 400);

    List<JsonNode> all = events("", OPERATOR);
    assertThat(all).extracting(e -> e.get("action").asText()).containsExactly(
        "POST /admin/v1/merchants", "POST /admin/v1/products", "POST /admin/v1/products/:id/skus");
    assertThat(all.get(0).get("actor").asText()).isEqualTo("operator");
    assertThat(all.get(0).get("objectId").asText()).isEqualTo(merchantId);
    assertThat(all.get(0).get("changes").get("name").asText()).isEqualTo("a");
    JsonNode product = all.get(1);
    assertThat(product.get("actor").asText()).isEqualTo("merchant:" + merchantId);
    assertThat(product.get("objectId").asText()).isEqualTo(productId);
    assertThat(product.at("/changes/auth/accessKey").asText()).isEqualTo("ak-public");
    assertThat(product.at("/changes/auth/secretKey").asText()).isEqualTo(AuditRoutes.MASK);
    assertThat(product.at("/changes/endpoints/0/headers/X-Upstream-Auth").asText()).isEqualTo(AuditRoutes.MASK);
    assertThat(all.get(2).get("objectId").asText()).as("the created SKU, not the product in the path")
        .isEqualTo(skuId);
    assertThat(all.get(2).get("createdAt").asText()).isNotEmpty();

    String rawTable = api.repo.pageAudit(null, null, io.tollgate.gateway.catalog.PageQuery.first(100)).toString();
    assertThat(rawTable).doesNotContain(SECRET).doesNotContain(HEADER_SECRET);
  }

  @Test
  void aMerchantReadsTheTrailOfItsOwnObjects_includingTheOperatorsWritesOnThem_andNothingElse() throws Exception {
    JsonNode a = api.merchant("a");
    JsonNode b = api.merchant("b");
    String productA = api.product(a.get("token").asText());
    String productB = api.product(b.get("token").asText());
    String skuA = api.sku(OPERATOR, productA, AdminApi.PAYG_SKU);

    List<JsonNode> ofA = events("", a.get("token").asText());
    assertThat(ofA).extracting(e -> e.get("objectId").asText())
        .containsExactly(a.get("id").asText(), productA, skuA);
    assertThat(ofA.get(2).get("actor").asText()).isEqualTo("operator");
    assertThat(events("?objectId=" + productB, a.get("token").asText())).isEmpty();
    assertThat(events("?objectId=" + productB, OPERATOR)).hasSize(1);
    assertThat(events("?objectId=" + productA, OPERATOR)).extracting(e -> e.get("action").asText())
        .containsExactly("POST /admin/v1/products");
  }

  @Test
  void theTrailPages_andRefusesUnknownParameters() throws Exception {
    for (int i = 0; i < 5; i++) {
      api.merchant("m" + i);
    }
    var first = api.get("/admin/v1/audit?limit=2", OPERATOR).json();
    assertThat(first.get("data")).hasSize(2);
    assertThat(first.get("has_more").asBoolean()).isTrue();
    var rest = api.get("/admin/v1/audit?limit=10&after=" + first.get("last_id").asText(), OPERATOR).json();
    assertThat(rest.get("data")).hasSize(3);
    assertThat(AdminApi.error(api.get("/admin/v1/audit?object=x", OPERATOR), 400).get("message").asText())
        .startsWith("object ");
  }
}
