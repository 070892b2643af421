package io.tollgate.gateway.admin;

import io.tollgate.gateway.account.UsageView;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.vertx.core.Vertx;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The admin API over real HTTP on loopback, on an H2 catalog. */
class AdminServerTest {

  static final String OPERATOR = "operator-token-for-tests-0123456789";
  static final String AKSK_SECRET = "sk-very-secret-aksk-value";
  static final String HEADER_SECRET = "Bearer merchant-header-secret";
  static final ObjectMapper JSON = new ObjectMapper();

  static Vertx vertx;
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final TestClock clock = new TestClock(Instant.parse("2025-03-01T00:00:00Z"));
  final AtomicInteger catalogChanges = new AtomicInteger();
  final java.util.concurrent.atomic.AtomicReference<CatalogChange> lastChange = new java.util.concurrent.atomic.AtomicReference<>();
  final Map<String, UsageView.Usage> usage = new ConcurrentHashMap<>();
  final List<String> responseBodies = new ArrayList<>();
  TestDatabases.Db db;
  CatalogRepository repo;
  AdminServer server;
  String base;

  record Resp(int status, JsonNode json, String raw) {
    String errorMessage() {
      return json.path("error").path("message").asText();
    }
  }

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
    var opts =
        AdminServer.Options.of(OPERATOR)
            .withOnCatalogChange(change -> {
              catalogChanges.incrementAndGet();
              lastChange.set(change);
            })
            .withUsageView(s -> usage.getOrDefault(s.id(), UsageView.Usage.ZERO))
            .withBodyLimitBytes(64 * 1024);
    server = new AdminServer(vertx, repo, opts);
    var httpServer =
        server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    base = "http://127.0.0.1:" + httpServer.actualPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
  }

  // ---------------------------------------------------------------- client

  /** Sends a request; the answer must match the OpenAPI document ({@link OpenApiValidator}). */
  Resp call(String method, String path, String token, String body) throws Exception {
    return send(method, path, token, body, /* validate= */ true);
  }

  Resp send(String method, String path, String token, String body, boolean validate) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    b.header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    synchronized (responseBodies) {
      responseBodies.add(r.body());
    }
    if (validate) {
      OpenApiValidator.ADMIN.assertValid(r);
    }
    boolean isJson = r.headers().firstValue("content-type").orElse("").startsWith("application/json");
    JsonNode json = isJson ? JSON.readTree(r.body()) : JSON.nullNode();
    return new Resp(r.statusCode(), json, r.body());
  }

  Resp post(String path, String token, String body) throws Exception {
    return call("POST", path, token, body);
  }

  Resp get(String path, String token) throws Exception {
    return call("GET", path, token, null);
  }

  Resp put(String path, String token, String body) throws Exception {
    return call("PUT", path, token, body);
  }

  /** A merchant with the support contact that submitting a product for review needs; its token. */
  String merchant(String name) throws Exception {
    Resp r = post("/admin/v1/merchants", OPERATOR, "{\"name\":\"" + name + "\"," + AdminApi.SUPPORT + "}");
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json().get("token").asText();
  }

  static final String PRODUCT =
      """
      {"name":"Acme Chat","protocol":"openai",
       "endpoints":[{"url":"http://127.0.0.1:18080","weight":2,"headers":{"X-Upstream-Auth":"%s"}}],
       "auth":{"type":"aksk","accessKey":"ak-public","secretKey":"%s"},
       "timeouts":{"connectMs":2000,"responseMs":30000},"healthCheck":{"path":"/health"}}
      """
          .formatted(HEADER_SECRET, AKSK_SECRET);

  static final String PAYG_SKU =
      """
      {"name":"payg","models":["mock-gpt"],
       "billing":{"mode":"PER_TOKEN","currency":"USD","inputPricePerMillion":"0.15","outputPricePerMillion":"0.60"},
       "limits":{"rpm":60}}
      """;

  static final String PACKAGE_SKU =
      """
      {"name":"pro","models":["mock-gpt"],
       "billing":{"mode":"TOKEN_PACKAGE","currency":"USD","price":"9.90","quota":1000000,"period":"MONTH"}}
      """;

  String product(String token) throws Exception {
    Resp r = post("/admin/v1/products", token, PRODUCT);
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json().get("id").asText();
  }

  String sku(String token, String productId, String body) throws Exception {
    Resp r = post("/admin/v1/products/" + productId + "/skus", token, body);
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json().get("id").asText();
  }

  /** Takes a product with a SKU through the review (submitted by its merchant, approved): buyers can buy it. */
  void list(String merchantToken, String productId) throws Exception {
    assertThat(post("/admin/v1/products/" + productId + "/submit", merchantToken, null).status()).isEqualTo(200);
    Resp approved = post("/admin/v1/products/" + productId + "/approve", OPERATOR, null);
    assertThat(approved.status()).as(approved.raw()).isEqualTo(200);
  }

  /** A SKU of a new listed product of the merchant. */
  String listedSku(String token, String body) throws Exception {
    String productId = product(token);
    String skuId = sku(token, productId, body);
    list(token, productId);
    return skuId;
  }

  Resp subscribe(String token, String skuId, boolean test) throws Exception {
    return post("/admin/v1/subscriptions", token,
        "{\"skuId\":\"" + skuId + "\",\"buyerId\":\"b1\",\"buyerName\":\"Bob\",\"test\":" + test + "}");
  }

  static void assertErrorShape(Resp r) {
    assertThat(r.json().path("error").path("message").isTextual()).as("OpenAI error shape: " + r.raw()).isTrue();
    assertThat(r.json().path("error").path("type").isTextual()).as(r.raw()).isTrue();
    assertThat(r.json().path("error").path("code").isTextual()).as(r.raw()).isTrue();
  }

  // ---------------------------------------------------------------- authentication and roles

  @Test
  void missingOrWrongToken_is401() throws Exception {
    String merchantToken = merchant("acme");

    for (String token : new String[] {null, "nope", OPERATOR + "x", merchantToken + "x", ApiKeys.newMerchantToken()}) {
      Resp r = get("/admin/v1/products", token);
      assertThat(r.status()).as("token %s must be refused", token).isEqualTo(401);
      assertErrorShape(r);
    }
  }

  @Test
  void operatorOnlyEndpoints_are403ForMerchants() throws Exception {
    String a = merchant("a");
    String skuId = sku(a, product(a), PAYG_SKU);

    Resp createMerchant = post("/admin/v1/merchants", a, "{\"name\":\"evil\"}");
    Resp buyerSubscription = subscribe(a, skuId, /* test= */ false);

    assertThat(createMerchant.status()).isEqualTo(403);
    assertThat(buyerSubscription.status()).as("a merchant may not sell to itself").isEqualTo(403);
    assertErrorShape(buyerSubscription);
  }

  @Test
  void unknownRoute_is404InTheErrorShape() throws Exception {
    Resp r = get("/admin/v1/nothing-here", OPERATOR);

    assertThat(r.status()).isEqualTo(404);
    assertErrorShape(r);
  }

  // ---------------------------------------------------------------- failed authentications

  /** An answer read off a raw socket, with its headers (lower-case names). */
  record Raw(int status, Map<String, String> headers, JsonNode json) {}

  /** {@code GET /admin/v1/products} from the given loopback source address, on a new connection. */
  Raw fromAddress(String source, String token) throws Exception {
    try (var socket = new Socket()) {
      socket.bind(new InetSocketAddress(source, 0));
      socket.connect(new InetSocketAddress("127.0.0.1", URI.create(base).getPort()), 5_000);
      socket.setSoTimeout(10_000);
      String request = "GET /admin/v1/products HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
          + "Connection: close\r\n\r\n";
      socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int split = answer.indexOf("\r\n\r\n");
      String[] head = answer.substring(0, split).split("\r\n");
      var headers = new HashMap<String, String>();
      for (int i = 1; i < head.length; i++) {
        int colon = head[i].indexOf(':');
        headers.put(head[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), head[i].substring(colon + 1).trim());
      }
      int status = Integer.parseInt(head[0].split(" ")[1]);
      String body = answer.substring(split + 4);
      OpenApiValidator.ADMIN.assertValid("GET", "/admin/v1/products", status, headers, body);
      return new Raw(status, headers, JSON.readTree(body));
    }
  }

  @Test
  void tenWrongTokens_thenEveryRequestFromThatAddressIs429_untilTheMinuteEnds() throws Exception {
    String merchantToken = merchant("acme");
    var refused = new ArrayList<Integer>();
    for (int i = 0; i < 10; i++) {
      // Both kinds of guess count: plain ones and merchant-shaped ones that cost a database lookup.
      refused.add(fromAddress("127.0.0.1", i % 2 == 0 ? "guess-" + i : ApiKeys.newMerchantToken()).status());
    }

    Raw eleventh = fromAddress("127.0.0.1", "guess-10");
    Raw rightToken = fromAddress("127.0.0.1", OPERATOR);
    Raw otherAddressRight = fromAddress("127.0.0.2", merchantToken);
    Raw otherAddressWrong = fromAddress("127.0.0.2", "guess");
    clock.advance(Duration.ofSeconds(45));
    Raw laterInTheMinute = fromAddress("127.0.0.1", OPERATOR);
    clock.advance(Duration.ofSeconds(15));
    Raw afterTheMinuteWrong = fromAddress("127.0.0.1", "guess-11");
    Raw afterTheMinuteRight = fromAddress("127.0.0.1", OPERATOR);

    assertThat(refused).as("the first ten wrong tokens are plain 401s").containsOnly(401);
    assertThat(eleventh.status()).as("the eleventh attempt within a minute is throttled").isEqualTo(429);
    assertThat(eleventh.json().path("error").path("code").asText()).isEqualTo("too_many_failed_authentications");
    assertThat(eleventh.json().path("error").path("type").isTextual()).as("admin error shape").isTrue();
    assertThat(eleventh.headers()).as("the client is told when to come back").containsEntry("retry-after", "60");
    assertThat(rightToken.status())
        .as("a throttled address is refused even with the right token, or 429 vs 200 would reveal a right guess")
        .isEqualTo(429);
    assertThat(otherAddressRight.status()).as("another client address is not throttled").isEqualTo(200);
    assertThat(otherAddressWrong.status()).isEqualTo(401);
    assertThat(laterInTheMinute.status()).isEqualTo(429);
    assertThat(laterInTheMinute.headers()).as("retry-after counts down to the window's end").containsEntry("retry-after", "15");
    assertThat(afterTheMinuteWrong.status()).as("a new window starts once the minute has passed").isEqualTo(401);
    assertThat(afterTheMinuteRight.status()).isEqualTo(200);
  }

  @Test
  void aSuccessfulAuthentication_doesNotResetTheFailureCount() throws Exception {
    String merchantToken = merchant("acme");
    for (int i = 0; i < 9; i++) {
      assertThat(fromAddress("127.0.0.1", "guess-" + i).status()).isEqualTo(401);
    }

    Raw ownToken = fromAddress("127.0.0.1", merchantToken);
    Raw tenthGuess = fromAddress("127.0.0.1", "guess-9");
    Raw next = fromAddress("127.0.0.1", merchantToken);

    assertThat(ownToken.status()).isEqualTo(200);
    assertThat(tenthGuess.status()).isEqualTo(401);
    assertThat(next.status())
        .as("a merchant interleaving its own token with guesses at the operator's is still throttled")
        .isEqualTo(429);
  }

  @Test
  void aConcurrentBurstOfGuesses_getsNoMoreThanTenThrough() throws Exception {
    int burst = 30;
    var start = new CyclicBarrier(burst);
    var pool = Executors.newFixedThreadPool(burst);
    try {
      var answers = new ArrayList<Future<Integer>>();
      for (int i = 0; i < burst; i++) {
        answers.add(pool.submit(() -> {
          start.await(10, TimeUnit.SECONDS);
          // Merchant-shaped: each needs a database lookup, which a burst could otherwise outrun.
          return fromAddress("127.0.0.1", ApiKeys.newMerchantToken()).status();
        }));
      }
      var statuses = new ArrayList<Integer>();
      for (var a : answers) {
        statuses.add(a.get(30, TimeUnit.SECONDS));
      }

      assertThat(statuses.stream().filter(st -> st == 401).count())
          .as("guesses in flight count, so a burst gets exactly ten checked: %s", statuses)
          .isEqualTo(10);
      assertThat(statuses).as("the rest are throttled").containsOnly(401, 429);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void requestsWithoutAToken_areNotCountedAsGuesses() throws Exception {
    for (int i = 0; i < 15; i++) {
      assertThat(fromAddress("127.0.0.1", null).status()).isEqualTo(401);
    }

    assertThat(fromAddress("127.0.0.1", OPERATOR).status()).as("no token guesses nothing").isEqualTo(200);
  }

  // ---------------------------------------------------------------- merchant isolation

  @Test
  void merchantB_getsNotFoundForEverythingOfMerchantA() throws Exception {
    String a = merchant("a");
    String b = merchant("b");
    String productId = product(a);
    String skuId = sku(a, productId, PAYG_SKU);
    String subId = subscribe(a, skuId, /* test= */ true).json().get("id").asText();

    List<Resp> attempts =
        List.of(
            get("/admin/v1/products/" + productId, b),
            put("/admin/v1/products/" + productId, b, PRODUCT),
            post("/admin/v1/products/" + productId + "/skus", b, PAYG_SKU),
            get("/admin/v1/products/" + productId + "/skus", b),
            get("/admin/v1/skus/" + skuId, b),
            put("/admin/v1/skus/" + skuId, b, PAYG_SKU),
            get("/admin/v1/skus/" + skuId + "/prices", b),
            subscribe(b, skuId, /* test= */ true),
            get("/admin/v1/subscriptions/" + subId, b),
            post("/admin/v1/subscriptions/" + subId + "/suspend", b, null),
            post("/admin/v1/subscriptions/" + subId + "/rotate-key", b, null));

    assertThat(attempts)
        .as("another merchant's objects must look as if they did not exist")
        .allSatisfy(r -> assertThat(r.status()).as(r.raw()).isEqualTo(404));
    assertThat(get("/admin/v1/products", b).json().get("data")).as("B lists none of A's products").isEmpty();
    assertThat(get("/admin/v1/products/" + productId, a).json().get("name").asText()).isEqualTo("Acme Chat");
    assertThat(get("/admin/v1/subscriptions/" + subId, a).json().get("status").asText())
        .as("B's attempts changed nothing")
        .isEqualTo("active");
  }

  @Test
  void productList_isOwnForMerchants_andAllForTheOperator() throws Exception {
    String a = merchant("a");
    String b = merchant("b");
    String pa = product(a);
    String pb = product(b);

    assertThat(ids(get("/admin/v1/products", a))).containsExactly(pa);
    assertThat(ids(get("/admin/v1/products", b))).containsExactly(pb);
    assertThat(ids(get("/admin/v1/products", OPERATOR))).containsExactlyInAnyOrder(pa, pb);
  }

  @Test
  void operator_createsProductsForANamedMerchant_whoThenOwnsThem() throws Exception {
    String a = merchant("a");
    String merchantId = repo.findMerchantByTokenHash(ApiKeys.sha256Hex(a)).orElseThrow().id();

    Resp withoutMerchant = post("/admin/v1/products", OPERATOR, PRODUCT);
    Resp withMerchant = post("/admin/v1/products", OPERATOR, PRODUCT.replaceFirst("\\{", "{\"merchantId\":\"" + merchantId + "\","));

    assertThat(withoutMerchant.status()).isEqualTo(400);
    assertThat(withoutMerchant.errorMessage()).startsWith("merchantId is required");
    assertThat(withMerchant.status()).as(withMerchant.raw()).isEqualTo(201);
    assertThat(ids(get("/admin/v1/products", a))).containsExactly(withMerchant.json().get("id").asText());
  }

  @Test
  void extraRoutes_mountOnTheRouter_andCanReuseAuthentication() throws Exception {
    var extra = new AdminServer(vertx, repo, AdminServer.Options.of(OPERATOR));
    extra.router().get("/health/live").handler(ctx -> ctx.end("ok"));
    extra.router().get("/admin/v1/whoami").handler(ctx -> ctx.end(AdminServer.caller(ctx).isOperator() ? "operator" : "merchant"));
    extra.router().route("/billing/v1/*").handler(extra.authenticationHandler());
    extra.router().get("/billing/v1/records").handler(ctx -> ctx.end("records"));
    int port = extra.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    String saved = base;
    base = "http://127.0.0.1:" + port;
    try {
      String merchantToken = merchant("a");
      // The routes this test mounts are fixtures, not the admin API: their answers are not the document's.
      assertThat(send("GET", "/health/live", null, null, false).raw()).as("health needs no token").isEqualTo("ok");
      assertThat(send("GET", "/admin/v1/whoami", null, null, false).status()).isEqualTo(401);
      assertThat(send("GET", "/admin/v1/whoami", merchantToken, null, false).raw()).isEqualTo("merchant");
      assertThat(send("GET", "/billing/v1/records", null, null, false).status()).isEqualTo(401);
      assertThat(send("GET", "/billing/v1/records", OPERATOR, null, false).raw()).isEqualTo("records");
    } finally {
      base = saved;
      extra.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void optionsToString_neverPrintsTheOperatorToken() {
    assertThat(AdminServer.Options.of(OPERATOR).toString()).doesNotContain(OPERATOR);
  }

  static List<String> ids(Resp r) {
    var out = new ArrayList<String>();
    r.json().get("data").forEach(n -> out.add(n.get("id").asText()));
    return out;
  }

  @Test
  void merchantTestSubscription_onOwnSku_hasShortExpiryAndSmallQuota() throws Exception {
    String a = merchant("a");
    String skuId = sku(a, product(a), PAYG_SKU);

    Resp r = subscribe(a, skuId, /* test= */ true);

    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    assertThat(r.json().get("apiKey").asText()).startsWith("tg-");
    assertThat(r.json().get("test").asBoolean()).isTrue();
    assertThat(r.json().get("quota").asLong()).isEqualTo(CatalogRepository.TEST_TOKEN_QUOTA);
    assertThat(Instant.parse(r.json().get("expiresAt").asText()))
        .isEqualTo(clock.instant().plus(CatalogRepository.TEST_PERIOD));
    assertThat(get("/admin/v1/subscriptions/" + r.json().get("id").asText(), a).raw())
        .as("the key is shown once, on creation")
        .doesNotContain(r.json().get("apiKey").asText());
  }

  @Test
  void merchant_cannotManageBuyerSubscriptionsOfItsOwnSku() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PAYG_SKU);
    String subId = subscribe(OPERATOR, skuId, /* test= */ false).json().get("id").asText();

    assertThat(get("/admin/v1/subscriptions/" + subId, a).status()).as("a merchant sees its buyers").isEqualTo(200);
    assertThat(post("/admin/v1/subscriptions/" + subId + "/suspend", a, null).status()).isEqualTo(403);
    assertThat(post("/admin/v1/subscriptions/" + subId + "/rotate-key", a, null).status()).isEqualTo(403);
  }

  // ---------------------------------------------------------------- validation

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "missing name | {\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://h\"}]} | name is required",
        "bad protocol | {\"name\":\"x\",\"protocol\":\"grpc\",\"endpoints\":[{\"url\":\"http://h\"}]} | protocol must be one of",
        "no endpoints | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoints\":[]} | endpoints must list",
        "bad url | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"ftp://h\"}]} | endpoints[0].url must be",
        "bad weight | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://h\",\"weight\":0}]} | endpoints[0].weight must be a positive integer",
        "aksk no secret | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://h\"}],\"auth\":{\"type\":\"aksk\",\"accessKey\":\"a\"}} | auth.secretKey is required",
        "custom no paths | {\"name\":\"x\",\"protocol\":\"custom\",\"endpoints\":[{\"url\":\"http://h\"}]} | paths must list",
        "typo field | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoint\":[{\"url\":\"http://h\"}]} | endpoint is not a known field",
        "bad timeout | {\"name\":\"x\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://h\"}],\"timeouts\":{\"connectMs\":-1}} | timeouts.connectMs must be a positive integer",
      })
  void invalidProduct_is400NamingTheField(String why, String body, String message) throws Exception {
    String a = merchant("a");

    Resp r = post("/admin/v1/products", a, body);

    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.errorMessage()).startsWith(message);
    assertErrorShape(r);
  }

  /**
   * A header value is sent upstream on every call: one Netty (or the merchant's server) refuses
   * would fail each call, so it is refused at registration, on POST and on PUT alike.
   */
  @ParameterizedTest(name = "value with {0}")
  @CsvSource({"vertical tab, Bearer tok\\u000ben", "NUL, Bearer tok\\u0000en", "DEL, Bearer tok\\u007fen",
      "escape, Bearer tok\\u001ben", "form feed, Bearer tok\\fen", "line break, Bearer tok\\r\\n en",
      "a char past latin-1, Bearer tok\\u2028en", "leading space, ' Bearer token'", "trailing tab, Bearer token\\t"})
  void endpointHeaderValueThatCannotBeSent_is400NamingTheHeader_onPostAndPut(String why, String jsonValue)
      throws Exception {
    String a = merchant("a");
    String productId = product(a);
    String bad = PRODUCT.replace(HEADER_SECRET, jsonValue);

    Resp created = post("/admin/v1/products", a, bad);
    Resp replaced = put("/admin/v1/products/" + productId, a, bad);

    for (Resp r : List.of(created, replaced)) {
      assertThat(r.status()).as(r.raw()).isEqualTo(400);
      assertThat(r.errorMessage()).as("the field is named").startsWith("endpoints[0].headers.X-Upstream-Auth ");
      assertErrorShape(r);
    }
    assertThat(repo.getProduct(productId).orElseThrow().endpoints().get(0).headers())
        .as("a refused PUT leaves the stored header alone").containsEntry("X-Upstream-Auth", HEADER_SECRET);
  }

  @Test
  void endpointHeaderValue_mayHoldSpacesTabsAndObsText() throws Exception {
    String a = merchant("a");

    Resp r = post("/admin/v1/products", a, PRODUCT.replace(HEADER_SECRET, "Bearer a\\tb caf\u00e9 ~!"));

    assertThat(r.status()).as("RFC 9110 field-vchar, SP, HTAB and obs-text are valid: " + r.raw()).isEqualTo(201);
  }

  @Test
  void endpointHeaderName_thatIsNoToken_is400NamingIt() throws Exception {
    String a = merchant("a");

    Resp r = post("/admin/v1/products", a, PRODUCT.replace("X-Upstream-Auth", "X Upstream\\u0000Auth"));

    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.errorMessage()).startsWith("endpoints[0].headers.X Upstream");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "float price | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_TOKEN\",\"currency\":\"USD\",\"inputPricePerMillion\":0.15,\"outputPricePerMillion\":\"1\"}} | billing.inputPricePerMillion must be a decimal string",
        "negative price | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"-1\"}} | billing.pricePerCall must be a decimal string",
        "missing price | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\"}} | billing.pricePerCall is required",
        "foreign price | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"1\",\"price\":\"2\"}} | billing.price does not apply to PER_CALL",
        "bad mode | {\"name\":\"s\",\"billing\":{\"mode\":\"FREE\",\"currency\":\"USD\"}} | billing.mode must be one of",
        "package no quota | {\"name\":\"s\",\"billing\":{\"mode\":\"CALL_PACKAGE\",\"currency\":\"USD\",\"price\":\"5\",\"period\":\"MONTH\"}} | billing.quota is required",
        "bad period | {\"name\":\"s\",\"billing\":{\"mode\":\"CALL_PACKAGE\",\"currency\":\"USD\",\"price\":\"5\",\"quota\":10,\"period\":\"DAY\"}} | billing.period must be MONTH or YEAR",
        "bad currency | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"dollars\",\"pricePerCall\":\"1\"}} | billing.currency must be",
        "bad rpm | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"1\"},\"limits\":{\"rpm\":\"many\"}} | limits.rpm must be a positive integer",
        "bad range | {\"name\":\"s\",\"billing\":{\"mode\":\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"1\"},\"quantities\":{\"seats\":{\"min\":5,\"max\":1}}} | quantities.seats.max must not be less than min",
      })
  void invalidSku_is400NamingTheField(String why, String body, String message) throws Exception {
    String a = merchant("a");
    String productId = product(a);

    Resp r = post("/admin/v1/products/" + productId + "/skus", a, body);

    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.errorMessage()).startsWith(message);
  }

  @Test
  void malformedJson_is400() throws Exception {
    String a = merchant("a");

    Resp r = post("/admin/v1/products", a, "{\"name\": \"x\",");

    assertThat(r.status()).isEqualTo(400);
    assertThat(r.json().at("/error/code").asText()).isEqualTo("invalid_json");
  }

  @Test
  void oversizedBody_is413() throws Exception {
    String a = merchant("a");
    String big = "{\"name\":\"" + "x".repeat(70 * 1024) + "\"}";

    Resp r = post("/admin/v1/products", a, big);

    assertThat(r.status()).isEqualTo(413);
    assertErrorShape(r);
  }

  // ---------------------------------------------------------------- money and secrets

  @Test
  void money_isADecimalString_inSkusAndPriceHistory() throws Exception {
    String a = merchant("a");
    String skuId = sku(a, product(a), PAYG_SKU);

    JsonNode billing = get("/admin/v1/skus/" + skuId, a).json().get("billing");
    JsonNode history = get("/admin/v1/skus/" + skuId + "/prices", a).json().get("data");

    assertThat(billing.get("inputPricePerMillion").isTextual()).as("money is never a JSON number").isTrue();
    assertThat(billing.get("inputPricePerMillion").asText()).isEqualTo("0.15");
    assertThat(billing.get("outputPricePerMillion").asText()).isEqualTo("0.6");
    assertThat(history.get(0).get("inputPricePerMillion").asText()).isEqualTo("0.15");
  }

  @Test
  void upstreamSecrets_neverAppearInAResponse_andSurviveAPutOfTheMask() throws Exception {
    String a = merchant("a");
    String productId = product(a);
    Resp got = get("/admin/v1/products/" + productId, a);
    get("/admin/v1/products", a);
    get("/admin/v1/products", OPERATOR);
    String edited = got.raw().replace("\"Acme Chat\"", "\"Acme Chat 2\"");

    Resp putBack = put("/admin/v1/products/" + productId, a, edited);

    assertThat(putBack.status()).as(putBack.raw()).isEqualTo(200);
    assertThat(putBack.json().get("name").asText()).isEqualTo("Acme Chat 2");
    assertThat(got.json().at("/auth/secretKey").asText()).isEqualTo("****");
    assertThat(got.json().at("/endpoints/0/headers/X-Upstream-Auth").asText()).isEqualTo("****");
    var stored = repo.getProduct(productId).orElseThrow();
    assertThat(stored.auth().secretKey()).as("the mask keeps the stored secret").isEqualTo(AKSK_SECRET);
    assertThat(stored.endpoints().get(0).headers()).containsEntry("X-Upstream-Auth", HEADER_SECRET);
    assertThat(responseBodies)
        .as("no admin response may carry an upstream secret")
        .hasSizeGreaterThan(4)
        .noneMatch(body -> body.contains(AKSK_SECRET) || body.contains("merchant-header-secret"));
  }

  // ---------------------------------------------------------------- SKU rules and prices

  @Test
  void subscribedSku_refusesModeChange_butTakesANewPriceFromNow() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PAYG_SKU);
    assertThat(subscribe(OPERATOR, skuId, /* test= */ false).status()).isEqualTo(201);
    Instant before = clock.instant();
    clock.advance(Duration.ofDays(3));

    Resp modeChange = put("/admin/v1/skus/" + skuId, a, PAYG_SKU.replace("\"PER_TOKEN\",\"currency\":\"USD\",\"inputPricePerMillion\":\"0.15\",\"outputPricePerMillion\":\"0.60\"", "\"PER_CALL\",\"currency\":\"USD\",\"pricePerCall\":\"0.01\""));
    Resp nameChange = put("/admin/v1/skus/" + skuId, a, PAYG_SKU.replace("\"payg\"", "\"renamed\""));
    Resp priceChange = put("/admin/v1/skus/" + skuId, a, PAYG_SKU.replace("\"0.15\"", "\"0.20\""));

    assertThat(modeChange.status()).as(modeChange.raw()).isEqualTo(409);
    assertThat(modeChange.errorMessage()).startsWith("billing.mode cannot change");
    assertThat(nameChange.status()).isEqualTo(409);
    assertThat(nameChange.errorMessage()).startsWith("name cannot change");
    assertThat(priceChange.status()).as(priceChange.raw()).isEqualTo(200);
    assertThat(priceChange.json().at("/billing/inputPricePerMillion").asText()).isEqualTo("0.2");
    assertThat(get("/admin/v1/skus/" + skuId + "/prices?at=" + before, a).json().get("inputPricePerMillion").asText())
        .as("the price in force before the change stays queryable")
        .isEqualTo("0.15");
    assertThat(get("/admin/v1/skus/" + skuId + "/prices?at=" + clock.instant(), a).json().get("inputPricePerMillion").asText())
        .isEqualTo("0.2");
    assertThat(get("/admin/v1/skus/" + skuId + "/prices", a).json().get("data")).hasSize(2);
    assertThat(get("/admin/v1/skus/" + skuId + "/prices?at=yesterday", a).status()).isEqualTo(400);
    assertThat(get("/admin/v1/skus/" + skuId + "/prices?at=" + before.minusSeconds(1), a).status())
        .as("no price before the SKU existed")
        .isEqualTo(404);
  }

  // ---------------------------------------------------------------- subscription lifecycle

  @Test
  void subscription_showsUsageAndRemaining_fromTheUsageView() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PACKAGE_SKU);
    Resp created = subscribe(OPERATOR, skuId, /* test= */ false);
    String subId = created.json().get("id").asText();
    usage.put(subId, new UsageView.Usage(3, 1000, 500));

    JsonNode s = get("/admin/v1/subscriptions/" + subId, OPERATOR).json();

    assertThat(created.json().get("status").asText()).isEqualTo("active");
    assertThat(s.at("/usage/calls").asLong()).isEqualTo(3);
    assertThat(s.at("/usage/totalTokens").asLong()).isEqualTo(1500);
    assertThat(s.get("quota").asLong()).isEqualTo(1_000_000);
    assertThat(s.get("remaining").asLong()).as("token package: quota minus tokens used").isEqualTo(998_500);
  }

  @Test
  void renew_restoresQuota_andMovesExpiry() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PACKAGE_SKU);
    JsonNode created = subscribe(OPERATOR, skuId, /* test= */ false).json();
    String subId = created.get("id").asText();
    Instant firstExpiry = Instant.parse(created.get("expiresAt").asText());
    clock.advance(Duration.ofDays(40));
    assertThat(get("/admin/v1/subscriptions/" + subId, OPERATOR).json().get("status").asText()).isEqualTo("expired");

    Resp renewed = post("/admin/v1/subscriptions/" + subId + "/renew", OPERATOR, null);

    assertThat(renewed.status()).as(renewed.raw()).isEqualTo(200);
    assertThat(renewed.json().get("status").asText()).isEqualTo("active");
    assertThat(renewed.json().get("quota").asLong()).isEqualTo(1_000_000);
    assertThat(Instant.parse(renewed.json().get("periodStart").asText())).isEqualTo(clock.instant());
    assertThat(Instant.parse(renewed.json().get("expiresAt").asText()))
        .isAfter(firstExpiry)
        .isEqualTo(Period.MONTH.after(clock.instant()));
  }

  @Test
  void rotateKey_invalidatesTheOldKey() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PAYG_SKU);
    JsonNode created = subscribe(OPERATOR, skuId, /* test= */ false).json();
    String oldKey = created.get("apiKey").asText();

    Resp rotated = post("/admin/v1/subscriptions/" + created.get("id").asText() + "/rotate-key", OPERATOR, null);

    String newKey = rotated.json().get("apiKey").asText();
    assertThat(newKey).startsWith("tg-").isNotEqualTo(oldKey);
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(oldKey))).as("the old key stops working").isEmpty();
    assertThat(repo.findSnapshotByKeyHash(ApiKeys.sha256Hex(newKey))).isPresent();
  }

  @Test
  void lifecycleActions_changeStatus_andCancelledIsFinal() throws Exception {
    String a = merchant("a");
    String skuId = listedSku(a, PAYG_SKU);
    String subId = subscribe(OPERATOR, skuId, /* test= */ false).json().get("id").asText();
    String path = "/admin/v1/subscriptions/" + subId;

    assertThat(post(path + "/suspend", OPERATOR, null).json().get("status").asText()).isEqualTo("suspended");
    assertThat(repo.getSubscription(subId).map(Subscription::status).orElseThrow().name()).isEqualTo("SUSPENDED");
    assertThat(post(path + "/resume", OPERATOR, null).json().get("status").asText()).isEqualTo("active");
    assertThat(post(path + "/cancel", OPERATOR, null).json().get("status").asText()).isEqualTo("cancelled");
    Resp resume = post(path + "/resume", OPERATOR, null);
    assertThat(resume.status()).isEqualTo(409);
    assertErrorShape(resume);
  }

  @Test
  void onCatalogChange_runsAfterEachBuyerVisibleWrite_andNotOnReads() throws Exception {
    String a = merchant("a");
    String productId = product(a);
    String skuId = sku(a, productId, PAYG_SKU);
    assertThat(catalogChanges.get()).as("creating a merchant, product or SKU changes no buyer").isZero();
    list(a, productId);
    assertThat(catalogChanges.get()).as("submitting and approving announce the product").isEqualTo(2);
    assertThat(lastChange.get()).isEqualTo(CatalogChange.product(productId));

    String subId = subscribe(OPERATOR, skuId, /* test= */ false).json().get("id").asText();
    int afterCreate = catalogChanges.get();
    assertThat(afterCreate).as("a purchase issues a new key no cache holds").isEqualTo(2);
    get("/admin/v1/subscriptions/" + subId, OPERATOR);
    get("/admin/v1/products/" + productId, a);
    assertThat(catalogChanges.get()).as("reads change nothing").isEqualTo(afterCreate);

    for (String action : new String[] {"suspend", "resume", "renew", "rotate-key", "cancel"}) {
      int before = catalogChanges.get();
      assertThat(post("/admin/v1/subscriptions/" + subId + "/" + action, OPERATOR, null).status()).isEqualTo(200);
      assertThat(catalogChanges.get()).as(action + " must notify").isEqualTo(before + 1);
      assertThat(lastChange.get()).isEqualTo(CatalogChange.subscription(subId));
    }
    int beforePut = catalogChanges.get();
    put("/admin/v1/products/" + productId, a, PRODUCT);
    assertThat(lastChange.get()).isEqualTo(CatalogChange.product(productId));
    lastChange.set(null);
    put("/admin/v1/skus/" + skuId, a, PAYG_SKU.replace("\"0.15\"", "\"0.16\""));
    assertThat(lastChange.get()).as("a SKU edit names its product").isEqualTo(CatalogChange.product(productId));
    assertThat(catalogChanges.get()).as("product and SKU updates notify").isEqualTo(beforePut + 2);

    int beforeRefused = catalogChanges.get();
    post("/admin/v1/subscriptions/" + subId + "/resume", OPERATOR, null);
    assertThat(catalogChanges.get()).as("a refused write notifies nobody").isEqualTo(beforeRefused);
  }
}
