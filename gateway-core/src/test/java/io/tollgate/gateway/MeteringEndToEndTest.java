package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * Metering through a whole embedded gateway: usage the upstream reports, the usage chunk tollgate
 * asks for and hides, estimates when nothing (or nonsense) is reported or the buyer leaves, quota
 * and rate limits, and the usage query API.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeteringEndToEndTest {

  static final String OPERATOR = "metering-operator-token-0123";

  @TempDir static Path dir;
  Vertx vertx;
  MockUpstream mock;
  HttpServer absurd;
  HttpServer nested;
  Gateway g;
  String merchant;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
    absurd = vertx.createHttpServer().requestHandler(req -> req.body().onComplete(b -> req.response()
        .putHeader("content-type", "application/json")
        .end("{\"id\":\"x\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"four words of answer\"}}],"
            + "\"usage\":{\"prompt_tokens\":-7,\"completion_tokens\":99999999999,\"total_tokens\":5}}")))
        .listen(0, "127.0.0.1").await();
    nested = vertx.createHttpServer().requestHandler(req -> req.response()
        .putHeader("content-type", "application/json")
        .end("{\"result\":\"done\",\"meta\":{\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,"
            + "\"total_tokens\":10}}}"))
        .listen(0, "127.0.0.1").await();
    g = Gateway.start(new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null),
        new GatewayConfig.Metering(Duration.ofMillis(50), null, null, null, null), null));
    merchant = admin("POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "acme")
        .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
  }

  @AfterAll
  void stop() {
    g.close();
    absurd.close().await();
    nested.close().await();
    mock.close().await();
    vertx.close().await();
  }

  HttpResponse<String> send(String method, String url, String token, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
        .header("content-type", "application/json");
    if (token != null) {
      b.header("authorization", "Bearer " + token);
    }
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonObject admin(String method, String path, String token, JsonObject body, int status) throws Exception {
    HttpResponse<String> r = send(method, "http://127.0.0.1:" + g.adminPort() + path, token,
        body == null ? null : body.encode());
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  /** Takes a product with a SKU through the review (submitted by the merchant, approved): buyers can buy it. */
  void list(String productId) throws Exception {
    admin("POST", "/admin/v1/products/" + productId + "/submit", merchant, null, 200);
    admin("POST", "/admin/v1/products/" + productId + "/approve", OPERATOR, null, 200);
  }

  /**
   * A listed product on {@code url}, a SKU with {@code billing} and {@code limits}, a subscription:
   * {id, key, product}.
   */
  String[] subscription(String protocol, String url, JsonObject billing, JsonObject limits) throws Exception {
    String product = admin("POST", "/admin/v1/products", merchant, new JsonObject().put("name", "p " + protocol)
        .put("protocol", protocol).put("endpoints", new JsonArray().add(new JsonObject().put("url", url))), 201)
        .getString("id");
    JsonObject sku = new JsonObject().put("name", "sku").put("billing", billing);
    if (limits != null) {
      sku.put("limits", limits);
    }
    String skuId = admin("POST", "/admin/v1/products/" + product + "/skus", merchant, sku, 201).getString("id");
    list(product);
    JsonObject sub = admin("POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", skuId).put("buyerId", "b1"), 201);
    return new String[] {sub.getString("id"), sub.getString("apiKey"), product};
  }

  static JsonObject payg() {
    return new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD").put("inputPricePerMillion", "1")
        .put("outputPricePerMillion", "2");
  }

  HttpResponse<String> buyer(String path, String key, String body, String... headers) throws Exception {
    return send("POST", "http://127.0.0.1:" + g.buyerPort() + path, key, body, headers);
  }

  /** The metered totals of a subscription, once they reach {@code calls}. */
  JsonObject meteredTotal(String subscriptionId, long calls) {
    return Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(
        () -> admin("GET", "/admin/v1/usage?subscriptionId=" + subscriptionId + "&granularity=day", OPERATOR, null, 200)
            .getJsonObject("total"),
        t -> t.getLong("calls") >= calls);
  }

  static String chat(boolean stream, int maxTokens, String words) {
    return "{\"model\":\"mock-gpt\",\"max_tokens\":" + maxTokens + ",\"stream\":" + stream
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}";
  }

  @Test
  void streamWithoutIncludeUsage_isMeteredExactly_andBuyerSeesNoUsageChunk() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), null);
    String body = chat(true, 9, "count the words in this prompt");
    HttpResponse<String> r = buyer("/v1/chat/completions", sub[1], body);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).as("the buyer did not ask for usage, so sees no usage chunk")
        .doesNotContain("\"choices\":[]").doesNotContain("\"prompt_tokens\"").endsWith("data: [DONE]\n\n");
    JsonObject sent = new JsonObject(mock.requests().get(mock.requests().size() - 1).bodyAsString());
    assertThat(sent.getJsonObject("stream_options").getBoolean("include_usage")).as("tollgate asked the upstream for it").isTrue();
    assertThat(sent.copy().put("stream_options", null)).as("and changed nothing else")
        .isEqualTo(new JsonObject(body).put("stream_options", null));
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", body);
    JsonObject total = meteredTotal(sub[0], 1);
    assertThat(total.getLong("inputTokens")).isEqualTo(expected.promptTokens());
    assertThat(total.getLong("outputTokens")).isEqualTo(expected.completionTokens());
    assertThat(total.getLong("estimatedTokens")).isZero();
  }

  @Test
  void streamWithOtherStreamOptions_getsIncludeUsageMergedIn_andBuyerSeesNoUsageChunk() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), null);
    String body = "{\"model\":\"mock-gpt\",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"x\":1},"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"merge me\"}]}";
    HttpResponse<String> r = buyer("/v1/chat/completions", sub[1], body);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("\"prompt_tokens\"").endsWith("data: [DONE]\n\n");
    JsonObject sent = new JsonObject(mock.requests().get(mock.requests().size() - 1).bodyAsString());
    assertThat(sent.getJsonObject("stream_options")).isEqualTo(new JsonObject().put("include_usage", true).put("x", 1));
    assertThat(meteredTotal(sub[0], 1).getLong("estimatedTokens")).isZero();
  }

  @Test
  void noReportedUsage_isEstimatedWithTheTokenizer() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), null);
    HttpResponse<String> r = buyer("/v1/chat/completions", sub[1], chat(false, 12, "estimate me please"),
        "x-mock-no-usage", "true");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("\"usage\"");
    JsonObject total = meteredTotal(sub[0], 1);
    assertThat(total.getLong("outputTokens")).as("12 words 'tokN' delivered").isBetween(12L, 48L);
    assertThat(total.getLong("inputTokens")).isPositive();
    assertThat(total.getLong("estimatedTokens")).isEqualTo(total.getLong("totalTokens"));
  }

  @Test
  void absurdReportedUsage_isNotTrusted_butEstimated() throws Exception {
    String[] sub = subscription("openai", "http://127.0.0.1:" + absurd.actualPort(), payg(), null);
    assertThat(buyer("/v1/chat/completions", sub[1], chat(false, 4, "hi")).statusCode()).isEqualTo(200);
    JsonObject total = meteredTotal(sub[0], 1);
    assertThat(total.getLong("outputTokens")).as("'four words of answer', not 99999999999").isBetween(1L, 10L);
    assertThat(total.getLong("estimatedTokens")).isPositive();
    assertThat(send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null).body())
        .contains("tollgate_usage_estimated_total{reason=\"rejected\"}");
  }

  @Test
  void productUsagePointer_readsUsageWhereTheMerchantPutsIt() throws Exception {
    String product = admin("POST", "/admin/v1/products", merchant, new JsonObject().put("name", "nested")
        .put("protocol", "custom").put("paths", new JsonArray().add("/agent/run"))
        .put("usagePointers", new JsonArray().add("/meta/usage"))
        .put("endpoints", new JsonArray().add(new JsonObject().put("url", "http://127.0.0.1:" + nested.actualPort()))),
        201).getString("id");
    assertThat(admin("GET", "/admin/v1/products/" + product, merchant, null, 200).getJsonArray("usagePointers"))
        .containsExactly("/meta/usage");
    admin("POST", "/admin/v1/products", merchant, new JsonObject().put("name", "bad").put("protocol", "custom")
        .put("paths", new JsonArray().add("/agent/run")).put("usagePointers", new JsonArray().add("meta.usage"))
        .put("endpoints", new JsonArray().add(new JsonObject().put("url", "http://127.0.0.1:1"))), 400);
    String skuId = admin("POST", "/admin/v1/products/" + product + "/skus", merchant,
        new JsonObject().put("name", "sku").put("billing", payg()), 201).getString("id");
    list(product);
    JsonObject sub = admin("POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", skuId).put("buyerId", "b1"), 201);
    HttpResponse<String> r = send("GET", "http://127.0.0.1:" + g.buyerPort() + "/agent/run?q=x", sub.getString("apiKey"), null);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonObject total = meteredTotal(sub.getString("id"), 1);
    assertThat(total.getLong("inputTokens")).isEqualTo(7);
    assertThat(total.getLong("outputTokens")).isEqualTo(3);
    assertThat(total.getLong("estimatedTokens")).isZero();
  }

  @Test
  void buyerLeavingMidStream_cancelsUpstream_andPaysForWhatWasDelivered() throws Exception {
    String[] sub = subscription("anthropic", mock.baseUrl(), payg(), null);
    String body = "{\"model\":\"mock-claude\",\"max_tokens\":40,\"stream\":true,"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"tell me a long story\"}]}";
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.buyerPort() + "/v1/messages"))
        .header("x-api-key", sub[1]).header("x-mock-chunk-delay-ms", "100")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    byte[] first = new byte[600];
    int n = r.body().read(first);
    assertThat(n).isPositive();
    r.body().close();

    JsonObject total = meteredTotal(sub[0], 1);
    MockUpstream.Usage full = MockUpstream.expectedUsage("/v1/messages", body);
    assertThat(total.getLong("calls")).isEqualTo(1);
    assertThat(total.getLong("inputTokens")).as("the prompt as the upstream counted it").isEqualTo(full.promptTokens());
    assertThat(total.getLong("outputTokens")).as("only what was delivered before the buyer left")
        .isLessThan(full.completionTokens());
    assertThat(total.getLong("estimatedTokens")).isPositive();
  }

  @Test
  void tokenPackage_refusesWhenUsedUp_andRenewalRestoresIt() throws Exception {
    JsonObject pack = new JsonObject().put("mode", "TOKEN_PACKAGE").put("currency", "USD").put("quota", 60)
        .put("price", "1.00").put("period", "MONTH");
    String[] sub = subscription("openai", mock.baseUrl(), pack, null);
    String body = chat(false, 10, "five words in this prompt");
    int served = 0;
    HttpResponse<String> refused = null;
    for (int i = 0; i < 10 && refused == null; i++) {
      HttpResponse<String> r = buyer("/v1/chat/completions", sub[1], body);
      if (r.statusCode() == 200) {
        served++;
      } else {
        refused = r;
      }
    }
    assertThat(refused).as("a 60-token package cannot serve ten ~20-token calls").isNotNull();
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.body()).contains("\"code\":\"insufficient_quota\"");
    long upstreamCalls = mock.requestCount();
    assertThat(buyer("/v1/chat/completions", sub[1], body).statusCode()).isEqualTo(429);
    assertThat(mock.requestCount()).as("a refused call never reaches the upstream").isEqualTo(upstreamCalls);
    int perCall = MockUpstream.expectedUsage("/v1/chat/completions", body).totalTokens();
    assertThat((long) served * perCall).as("served tokens stay within quota + one call's overrun")
        .isLessThanOrEqualTo(60 + perCall);

    admin("POST", "/admin/v1/subscriptions/" + sub[0] + "/renew", OPERATOR, null, 200);
    assertThat(buyer("/v1/chat/completions", sub[1], body).statusCode()).as("renewal restores the quota")
        .isEqualTo(200);
  }

  @Test
  void callPackage_callsThatCouldNotBeForwarded_leaveTheQuotaWhole() throws Exception {
    int quota = 5;
    JsonObject pack = new JsonObject().put("mode", "CALL_PACKAGE").put("currency", "USD").put("quota", quota)
        .put("price", "5.00").put("period", "MONTH");
    String[] sub = subscription("openai", mock.baseUrl(), pack, null);
    // A header value stored before registration refused control characters (the admin API now
    // refuses it): no request can be built with it, so every call fails inside the gateway.
    Product stored = g.catalog().getProduct(sub[2]).orElseThrow();
    g.catalog().updateProduct(new Product(stored.id(), stored.merchantId(), stored.name(), stored.protocol(),
        List.of(new Endpoint(mock.baseUrl(), 1, Map.of("x-merchant-tag", "tag\u000bvalue"))), stored.auth(),
        stored.connectTimeout(), stored.responseTimeout(), stored.paths(), stored.healthCheckPath(),
        stored.tokenizer(), stored.usagePointers(), stored.createdAt()));
    String body = chat(false, 3, "hi");
    long upstreamCalls = mock.requestCount();

    for (int i = 0; i < quota; i++) {
      int status;
      try {
        status = buyer("/v1/chat/completions", sub[1], body).statusCode();
      } catch (java.io.IOException cut) {
        status = -1;
      }
      assertThat(status).as("call %d cannot be forwarded", i).isNotEqualTo(200);
    }
    assertThat(mock.requestCount()).isEqualTo(upstreamCalls);
    admin("PUT", "/admin/v1/products/" + sub[2], merchant, new JsonObject().put("name", stored.name())
        .put("protocol", "openai").put("endpoints", new JsonArray().add(new JsonObject().put("url", mock.baseUrl())
            .put("headers", new JsonObject().put("x-merchant-tag", "fixed")))), 200);

    for (int i = 0; i < quota; i++) {
      assertThat(buyer("/v1/chat/completions", sub[1], body).statusCode())
          .as("call %d: the failed calls gave their reservations back", i).isEqualTo(200);
    }
    HttpResponse<String> over = buyer("/v1/chat/completions", sub[1], body);
    assertThat(over.statusCode()).as("a package of %d serves %d calls", quota, quota).isEqualTo(429);
    assertThat(over.body()).contains("\"code\":\"insufficient_quota\"");
    assertThat(meteredTotal(sub[0], quota).getLong("calls")).as("only served calls are metered").isEqualTo(quota);
  }

  @Test
  void rpmLimit_refusesWithRetryAfter() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), new JsonObject().put("rpm", 2));
    String body = chat(false, 3, "hi");
    assertThat(buyer("/v1/chat/completions", sub[1], body).statusCode()).isEqualTo(200);
    assertThat(buyer("/v1/chat/completions", sub[1], body).statusCode()).isEqualTo(200);
    HttpResponse<String> limited = buyer("/v1/chat/completions", sub[1], body);
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.body()).contains("\"code\":\"rate_limit_exceeded\"");
    // A sliding window: calls made now weigh on the next minute too, so the wait may pass 60 s.
    assertThat(limited.headers().firstValueAsLong("retry-after").orElse(-1)).isBetween(1L, 120L);
  }

  @Test
  void usageApi_isScopedToTheMerchant_andValidated() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), null);
    assertThat(buyer("/v1/chat/completions", sub[1], chat(false, 5, "hello")).statusCode()).isEqualTo(200);
    meteredTotal(sub[0], 1);
    JsonObject byProduct = admin("GET", "/admin/v1/usage?productId=" + sub[2] + "&granularity=minute", merchant, null, 200);
    assertThat(byProduct.getJsonArray("data")).hasSize(1);
    assertThat(byProduct.getJsonObject("total").getLong("calls")).isEqualTo(1);

    String other = admin("POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", "other"), 201).getString("token");
    admin("GET", "/admin/v1/usage?productId=" + sub[2], other, null, 404);
    admin("GET", "/admin/v1/usage?subscriptionId=" + sub[0], other, null, 404);
    admin("GET", "/admin/v1/usage?productId=" + sub[2] + "&granularity=week", merchant, null, 400);
    assertThat(admin("GET", "/admin/v1/usage", merchant, null, 200).getString("merchantId"))
        .as("no selector: a merchant's own usage").isNotEmpty();
    admin("GET", "/admin/v1/usage?productId=" + sub[2] + "&skuId=" + sub[2], merchant, null, 400);
    admin("GET", "/admin/v1/usage?productId=" + sub[2] + "&from=yesterday", merchant, null, 400);
  }

  /** The buyer's own view of its subscription, {@code GET /v1/subscription}. */
  JsonObject buyerSubscription(String key) throws Exception {
    HttpResponse<String> r = send("GET", "http://127.0.0.1:" + g.buyerPort() + "/v1/subscription", key, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  @Test
  void cachedInputPrice_pricesTheCachedPartOfRealCalls_exactly_inUsageAndBothSubscriptionViews() throws Exception {
    JsonObject billing = payg().put("inputPricePerMillion", "0.15").put("cachedInputPricePerMillion", "0.075")
        .put("outputPricePerMillion", "0.60");
    String[] sub = subscription("openai", mock.baseUrl(), billing, null);
    String body = chat(false, 10, "five words in this prompt");
    MockUpstream.Usage reported = MockUpstream.expectedUsage("/v1/chat/completions", body);
    assertThat(reported).as("the figures the amount below is computed from").isEqualTo(new MockUpstream.Usage(8, 10));

    assertThat(buyer("/v1/chat/completions", sub[1], body, "x-mock-cache-read", "6").statusCode()).isEqualTo(200);

    // (8 - 6) x 0.15 + 6 x 0.075 + 10 x 0.60 = 6.75 per million
    JsonObject total = meteredTotal(sub[0], 1);
    assertThat(total.getLong("cachedInputTokens")).isEqualTo(6);
    assertThat(total.getString("amount")).isEqualTo("0.00000675");
    assertThat(total.getString("currency")).isEqualTo("USD");
    JsonObject own = buyerSubscription(sub[1]).getJsonObject("usage");
    assertThat(own.getString("amount")).as("the buyer sees what the period cost so far").isEqualTo("0.00000675");
    assertThat(own.getString("currency")).isEqualTo("USD");
    assertThat(admin("GET", "/admin/v1/subscriptions/" + sub[0], OPERATOR, null, 200).getJsonObject("usage")
        .getString("amount")).isEqualTo("0.00000675");
  }

  @Test
  void theBuyersOwnSubscription_namesTheMerchantsSupportContact_andTheProductsStatus() throws Exception {
    String[] sub = subscription("openai", mock.baseUrl(), payg(), null);

    JsonObject own = buyerSubscription(sub[1]);

    assertThat(own.getJsonObject("merchant").getMap()).containsExactlyInAnyOrderEntriesOf(java.util.Map.of(
        "name", "acme", "supportPhone", "+1 555 0100", "supportEmail", "support@acme.example"));
    assertThat(own.getJsonObject("product").getMap()).containsExactlyInAnyOrderEntriesOf(java.util.Map.of(
        "id", sub[2], "name", "p openai", "status", "listed"));
    admin("POST", "/admin/v1/products/" + sub[2] + "/delist", OPERATOR, new JsonObject().put("reason", "test"), 200);
    // The delisting is announced: the cached snapshot is dropped and read again.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).untilAsserted(() ->
        assertThat(buyerSubscription(sub[1]).getJsonObject("product").getString("status")).isEqualTo("delisted"));
    assertThat(buyer("/v1/chat/completions", sub[1], chat(false, 3, "hi")).statusCode())
        .as("bought before the delisting: the key keeps working until it ends").isEqualTo(200);
  }

  @Test
  void perCallUsage_costsCallsTimesItsPrice_whilePackageAndTestUsageCostZero() throws Exception {
    String[] perCall = subscription("openai", mock.baseUrl(),
        new JsonObject().put("mode", "PER_CALL").put("currency", "USD").put("pricePerCall", "0.002"), null);
    String[] pack = subscription("openai", mock.baseUrl(), new JsonObject().put("mode", "CALL_PACKAGE")
        .put("currency", "USD").put("quota", 100).put("price", "5.00").put("period", "MONTH"), null);
    String testSku = admin("GET", "/admin/v1/subscriptions/" + subscription("openai", mock.baseUrl(), payg(), null)[0],
        OPERATOR, null, 200).getString("skuId");
    JsonObject test = admin("POST", "/admin/v1/subscriptions", merchant,
        new JsonObject().put("skuId", testSku).put("test", true), 201);
    String body = chat(false, 3, "hi");

    for (String key : List.of(perCall[1], perCall[1], perCall[1], pack[1], test.getString("apiKey"))) {
      assertThat(buyer("/v1/chat/completions", key, body).statusCode()).isEqualTo(200);
    }

    assertThat(meteredTotal(perCall[0], 3).getString("amount")).isEqualTo("0.006");
    assertThat(buyerSubscription(perCall[1]).getJsonObject("usage").getString("amount")).isEqualTo("0.006");
    JsonObject packTotal = meteredTotal(pack[0], 1);
    assertThat(packTotal.getString("amount")).as("a package was paid at purchase").isEqualTo("0");
    assertThat(packTotal.getLong("totalTokens")).as("its quantities still add up").isPositive();
    assertThat(buyerSubscription(pack[1]).getJsonObject("usage").getString("amount")).isEqualTo("0");
    JsonObject testTotal = meteredTotal(test.getString("id"), 1);
    assertThat(testTotal.getString("amount")).as("test usage is never charged").isEqualTo("0");
    assertThat(testTotal.getLong("totalTokens")).isPositive();
    assertThat(buyerSubscription(test.getString("apiKey")).getJsonObject("usage").getString("amount")).isEqualTo("0");
  }
}
