package io.tollgate.gateway.console;

import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.MovedClock;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.GatewayHttp;
import io.tollgate.gateway.testing.TestSecrets;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A gateway on loopback in front of the mock upstream, with a marketplace to look at: a merchant
 * with a listed product (a pay-as-you-go and a package SKU), a product waiting for review and a
 * rejected one, and a buyer holding the package. Its clock can be moved ahead to close export
 * windows (one minute long, no grace) without waiting.
 */
final class ConsoleFixture implements AutoCloseable {

  static final String OPERATOR = "console-operator-token-0123456789";
  static final String UPSTREAM_SECRET = "sk-console-upstream-secret-0123";
  static final long PACKAGE_QUOTA = 100_000;

  final GatewayHttp http = new GatewayHttp();
  final MovedClock clock = new MovedClock();
  final Vertx vertx;
  final MockUpstream mock;
  final Gateway gateway;
  final String merchantId;
  final String merchantToken;
  final String chatProduct;
  final String paygSku;
  final String packSku;
  final String pendingProduct;
  final String rejectedProduct;
  final String buyerSubscription;
  final String buyerKey;
  final String paygBuyerKey;
  private final boolean aksk;

  ConsoleFixture(Path dir) throws Exception {
    this(dir, Duration.ZERO);
  }

  /** A fixture whose gateway clock starts {@code behind} the system clock (to spread usage over past hours). */
  ConsoleFixture(Path dir, Duration behind) throws Exception {
    clock.advance(behind.negated());
    TestSecrets.register(OPERATOR);
    TestSecrets.register(UPSTREAM_SECRET);
    vertx = Vertx.vertx();
    // The mock checks the aksk token's expiry on the system clock: a gateway clock far behind it
    // signs tokens the mock takes as expired, so that fixture's upstream takes no credential.
    aksk = behind.isZero();
    mock = MockUpstream.start(vertx, aksk ? MockUpstream.Options.defaults().withAksk("ak-console", UPSTREAM_SECRET)
        : MockUpstream.Options.defaults()).await();
    gateway = Gateway.start(new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 1, null, null, null),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null),
        new GatewayConfig.Metering(Duration.ofMillis(50), null, null, null, null),
        new GatewayConfig.Export(Duration.ofMinutes(1), Duration.ZERO, Duration.ofHours(1), null)), clock);
    JsonObject merchant = admin("POST", "/admin/v1/merchants", OPERATOR, GatewayHttp.seller().put("name", "Acme AI"), 201);
    merchantId = merchant.getString("id");
    merchantToken = merchant.getString("token");
    chatProduct = product("Acme Chat");
    paygSku = admin("POST", "/admin/v1/products/" + chatProduct + "/skus", merchantToken, new JsonObject()
        .put("name", "Pay as you go").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
            .put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "0.15")
            .put("outputPricePerMillion", "0.60")), 201).getString("id");
    // A price change, so the SKU has a price history of two entries.
    JsonObject sku = admin("GET", "/admin/v1/skus/" + paygSku, merchantToken, null, 200);
    sku.getJsonObject("billing").put("outputPricePerMillion", "0.55").remove("effectiveFrom");
    admin("PUT", "/admin/v1/skus/" + paygSku, merchantToken, sku, 200);
    packSku = admin("POST", "/admin/v1/products/" + chatProduct + "/skus", merchantToken, new JsonObject()
        .put("name", "100k tokens a month").put("models", new JsonArray().add("mock-gpt")).put("billing",
            new JsonObject().put("mode", "TOKEN_PACKAGE").put("currency", "USD").put("quota", PACKAGE_QUOTA)
                .put("price", "4.90").put("period", "MONTH")), 201).getString("id");
    http.list(gateway, OPERATOR, chatProduct);
    JsonObject sub = admin("POST", "/admin/v1/subscriptions", OPERATOR, new JsonObject().put("skuId", packSku)
        .put("buyerId", "b-100").put("buyerName", "Bea Buyer"), 201);
    buyerSubscription = sub.getString("id");
    buyerKey = sub.getString("apiKey");
    paygBuyerKey = admin("POST", "/admin/v1/subscriptions", OPERATOR, new JsonObject().put("skuId", paygSku)
        .put("buyerId", "b-200").put("buyerName", "Cy Customer"), 201).getString("apiKey");

    pendingProduct = product("Acme Search");
    skuOf(pendingProduct);
    admin("POST", "/admin/v1/products/" + pendingProduct + "/submit", merchantToken, null, 200);
    rejectedProduct = product("Acme Vision");
    String rejected = rejectedProduct;
    skuOf(rejected);
    admin("POST", "/admin/v1/products/" + rejected + "/submit", merchantToken, null, 200);
    admin("POST", "/admin/v1/products/" + rejected + "/reject", OPERATOR,
        new JsonObject().put("reason", "The endpoint answered 500 to our test call."), 200);
  }

  private String product(String name) throws Exception {
    JsonObject product = new JsonObject().put("name", name).put("protocol", "openai")
        .put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl())));
    if (aksk) {
      product.put("auth", new JsonObject().put("type", "aksk").put("accessKey", "ak-console")
          .put("secretKey", UPSTREAM_SECRET));
    }
    return admin("POST", "/admin/v1/products", merchantToken, product, 201).getString("id");
  }

  /** A new product of the merchant, with a SKU, submitted for review. */
  String submittedProduct(String name) throws Exception {
    String id = product(name);
    skuOf(id);
    admin("POST", "/admin/v1/products/" + id + "/submit", merchantToken, null, 200);
    return id;
  }

  private void skuOf(String product) throws Exception {
    admin("POST", "/admin/v1/products/" + product + "/skus", merchantToken, new JsonObject()
        .put("name", "Per call").put("models", new JsonArray().add("mock-gpt")).put("billing", new JsonObject()
            .put("mode", "PER_CALL").put("currency", "USD").put("pricePerCall", "0.002")), 201);
  }

  JsonObject admin(String method, String path, String token, JsonObject body, int status) throws Exception {
    return http.admin(gateway, method, path, token, body, status);
  }

  /** One chat completion through the buyer port with {@code key}; its answer. */
  HttpResponse<String> chat(String key, String words) throws Exception {
    return http.buyer(gateway, "POST", "/v1/chat/completions", key,
        "{\"model\":\"mock-gpt\",\"max_tokens\":12,\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}");
  }

  /**
   * A licence product of the merchant ("Acme CAD", 10-minute heartbeats) with a PERIOD SKU priced
   * per user, and a test code of it for {@code users} users, its key registered as a secret; the
   * code's subscription as the admin API answered it.
   */
  JsonObject licenceTestCode(int users) throws Exception {
    String product = admin("POST", "/admin/v1/products", merchantToken, new JsonObject().put("name", "Acme CAD")
        .put("protocol", "licence").put("licence", new JsonObject().put("heartbeatInterval", "PT10M")), 201).getString("id");
    String sku = admin("POST", "/admin/v1/products/" + product + "/skus", merchantToken, new JsonObject()
        .put("name", "per seat").put("quantities", new JsonObject().put("users", new JsonObject().put("min", 1).put("max", 10)))
        .put("billing", new JsonObject().put("mode", "PERIOD").put("currency", "USD").put("price", "10.00")
            .put("period", "MONTH")), 201).getString("id");
    JsonObject code = admin("POST", "/admin/v1/subscriptions", merchantToken, new JsonObject().put("skuId", sku)
        .put("buyerId", "me").put("test", true).put("quantities", new JsonObject().put("users", users)), 201);
    TestSecrets.register(code.getString("apiKey"));
    return code;
  }

  String consoleUrl() {
    return "http://127.0.0.1:" + gateway.adminPort() + "/console/";
  }

  @Override
  public void close() {
    gateway.close();
    mock.close().await();
    vertx.close().await();
  }
}
