package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.catalog.UpstreamAuth;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin lists' paging, on every database the catalog supports (one subclass each). */
abstract class AdminListsContract {

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

  /**
   * Stores {@code n} products of a merchant in groups of three created at the same instant, and
   * returns their ids in list order: by creation time, then id.
   */
  List<String> seedProducts(String merchantId, int n) {
    var ids = new ArrayList<String>();
    var group = new ArrayList<String>();
    for (int i = 0; i < n; i++) {
      if (i % 3 == 0) {
        group.sort(null);
        ids.addAll(group);
        group.clear();
        api.clock.advance(Duration.ofMillis(1));
      }
      Product p = new Product(ApiKeys.newId("prod"), merchantId, "p" + i, Protocol.OPENAI,
          List.of(new Endpoint("http://127.0.0.1:18080", 1, Map.of())), new UpstreamAuth(UpstreamAuth.Type.NONE, null, null),
          Duration.ofSeconds(1), Duration.ofSeconds(30), List.of(), null, "cl100k_base", List.of(), null);
      group.add(api.repo.createProduct(p).id());
    }
    group.sort(null);
    ids.addAll(group);
    return ids;
  }

  List<String> pageThrough(String path, String token, int limit) throws Exception {
    return pageThrough(path, token, limit, null);
  }

  List<String> pageThrough(String path, String token, int limit, String after) throws Exception {
    var seen = new ArrayList<String>();
    for (int pages = 0; pages < 100; pages++) {
      String sep = path.contains("?") ? "&" : "?";
      var r = api.get(path + sep + "limit=" + limit + (after == null ? "" : "&after=" + after), token);
      assertThat(r.status()).as(r.raw()).isEqualTo(200);
      JsonNode body = r.json();
      assertThat(body.get("object").asText()).isEqualTo("list");
      var data = body.get("data");
      assertThat(data.size()).isLessThanOrEqualTo(limit);
      data.forEach(d -> seen.add(d.get("id").asText()));
      if (data.size() > 0) {
        assertThat(body.get("first_id").asText()).isEqualTo(data.get(0).get("id").asText());
        assertThat(body.get("last_id").asText()).isEqualTo(data.get(data.size() - 1).get("id").asText());
      } else {
        assertThat(body.get("first_id").isNull()).isTrue();
      }
      if (!body.get("has_more").asBoolean()) {
        return seen;
      }
      assertThat(data.size()).as("a page that says more follow is full").isEqualTo(limit);
      after = body.get("last_id").asText();
    }
    throw new AssertionError("paging did not end");
  }

  @Test
  void products_pageByKeyset_over250Rows_inCreationOrder_withNoneMissedOrRepeated() throws Exception {
    JsonNode m = api.merchant("a");
    List<String> ids = seedProducts(m.get("id").asText(), 250);

    assertThat(pageThrough("/admin/v1/products", OPERATOR, 100)).containsExactlyElementsOf(ids);
    assertThat(pageThrough("/admin/v1/products", m.get("token").asText(), 7)).containsExactlyElementsOf(ids);

    var first = api.get("/admin/v1/products", OPERATOR).json();
    assertThat(first.get("data").size()).as("the default limit").isEqualTo(20);
    assertThat(first.get("has_more").asBoolean()).isTrue();
  }

  @Test
  void aProductCreatedWhilePaging_appearsOnALaterPage_andShiftsNothingRead() throws Exception {
    JsonNode m = api.merchant("a");
    List<String> ids = new ArrayList<>(seedProducts(m.get("id").asText(), 5));
    var page1 = api.get("/admin/v1/products?limit=2", OPERATOR).json();
    ids.addAll(seedProducts(m.get("id").asText(), 1));
    var rest = pageThrough("/admin/v1/products", OPERATOR, 2, page1.get("last_id").asText());
    assertThat(rest).containsExactlyElementsOf(ids.subList(2, ids.size()));
  }

  @Test
  void aMerchantPagesItsOwnProductsOnly_andCannotPageFromAnotherMerchantsId() throws Exception {
    JsonNode a = api.merchant("a");
    JsonNode b = api.merchant("b");
    List<String> mine = seedProducts(a.get("id").asText(), 3);
    List<String> theirs = seedProducts(b.get("id").asText(), 3);

    assertThat(pageThrough("/admin/v1/products", a.get("token").asText(), 2)).containsExactlyElementsOf(mine);
    assertThat(pageThrough("/admin/v1/products?merchantId=" + b.get("id").asText(), OPERATOR, 2))
        .containsExactlyElementsOf(theirs);
    var r = api.get("/admin/v1/products?after=" + theirs.get(0), a.get("token").asText());
    assertThat(AdminApi.error(r, 400).get("message").asText()).contains("after");
    var other = api.get("/admin/v1/products?merchantId=" + b.get("id").asText(), a.get("token").asText());
    AdminApi.error(other, 403);
  }

  @Test
  void badPagingParameters_are400NamingTheParameter() throws Exception {
    for (String q : List.of("limit=0", "limit=101", "limit=ten", "limit=", "after=", "colour=red", "statsu=listed")) {
      var r = api.get("/admin/v1/products?" + q, OPERATOR);
      String name = q.substring(0, q.indexOf('='));
      assertThat(AdminApi.error(r, 400).get("message").asText()).as(q).startsWith(name);
    }
    var unknown = api.get("/admin/v1/products?after=prod_nosuch", OPERATOR);
    assertThat(AdminApi.error(unknown, 400).get("message").asText()).contains("after");
  }
}
