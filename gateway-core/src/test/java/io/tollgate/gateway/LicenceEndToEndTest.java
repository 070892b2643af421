package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.billing.BillingMode;
import io.tollgate.billing.RecordKind;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.catalog.LicenceKeys;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.testing.TestSecrets;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.security.Signature;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The licence API end to end, through the buyer ports of two gateway instances sharing
 * PostgreSQL and Redis, on one clock the test moves: activation, heartbeats and deactivation with
 * every answer signed by the product's own Ed25519 key; seats counted across the instances; a
 * dead machine's seat freed after two heartbeat intervals; suspensions told in a signed answer;
 * heartbeats that write no database row until the batch; PERIOD purchases and renewals billed;
 * and the private key in no answer and no log line.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LicenceEndToEndTest {

  static final String OPERATOR = "licence-operator-token-0123456789";
  static final Duration INTERVAL = Duration.ofSeconds(5);
  /**
   * A Redis database of its own: the billing export this test runs reads every usage mark in its
   * Redis database, and other test classes count their calls (for SKUs of their own catalogs) in
   * database 0 under the same key prefix. Emptied before and after.
   */
  static final String REDIS = "redis://127.0.0.1:6379/11";

  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  final String channel = "tollgate:test:licence:" + UUID.randomUUID();
  /** Every licence answer of the run: none may hold the private key. */
  final List<String> answers = Collections.synchronizedList(new ArrayList<>());
  Path dir;
  TestDatabases.Db db;
  TestClock clock;
  Gateway a;
  Gateway b;
  String merchant;
  String otherMerchant;
  String productId;
  String skuId;
  PublicKey publicKey;

  @BeforeAll
  void start() throws Exception {
    flushOwnRedisDatabase();
    dir = Files.createTempDirectory("licence-e2e");
    db = TestDatabases.postgres();
    clock = new TestClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
    a = instance("a");
    b = instance("b");
    merchant = admin(a, "POST", "/admin/v1/merchants", OPERATOR, seller("acme"), 201).getString("token");
    otherMerchant = admin(a, "POST", "/admin/v1/merchants", OPERATOR, seller("other"), 201).getString("token");
    JsonObject product = admin(a, "POST", "/admin/v1/products", merchant, new JsonObject().put("name", "Acme CAD")
        .put("protocol", "licence").put("licence", new JsonObject().put("heartbeatInterval", "PT5S")), 201);
    productId = product.getString("id");
    publicKey = LicenceKeys.publicKey(product.getJsonObject("licence").getString("publicKey"));
    skuId = admin(a, "POST", "/admin/v1/products/" + productId + "/skus", merchant, new JsonObject()
        .put("name", "per seat").put("attributes", new JsonObject().put("edition", new JsonArray().add("std").add("pro")))
        .put("quantities", new JsonObject().put("users", new JsonObject().put("min", 1).put("max", 100)))
        .put("billing", new JsonObject().put("mode", "PERIOD").put("currency", "USD").put("price", "10.00")
            .put("period", "MONTH")), 201).getString("id");
    admin(a, "POST", "/admin/v1/products/" + productId + "/submit", merchant, null, 200);
    admin(a, "POST", "/admin/v1/products/" + productId + "/approve", OPERATOR, null, 200);
    try (Connection c = DriverManager.getConnection(db.url(), db.user(), null);
        var st = c.prepareStatement("SELECT private_key FROM licence_keys WHERE product_id = ?")) {
      st.setString(1, productId);
      var rs = st.executeQuery();
      assertThat(rs.next()).as("the product's private key is stored").isTrue();
      TestSecrets.register(rs.getString(1)); // never to be logged
    }
  }

  @AfterAll
  void stop() throws Exception {
    try {
      String privateKey;
      try (Connection c = DriverManager.getConnection(db.url(), db.user(), null);
          var st = c.prepareStatement("SELECT private_key FROM licence_keys WHERE product_id = ?")) {
        st.setString(1, productId);
        var rs = st.executeQuery();
        rs.next();
        privateKey = rs.getString(1);
      }
      byte[] der = Base64.getDecoder().decode(privateKey);
      String seed = Base64.getEncoder().encodeToString(java.util.Arrays.copyOfRange(der, der.length - 32, der.length));
      assertThat(answers).as("answers of the run").isNotEmpty();
      for (String answer : answers) {
        assertThat(answer).as("no answer holds the private key").doesNotContain(privateKey).doesNotContain(seed);
      }
      String product = send(a, "GET", "/admin/v1/products/" + productId, merchant, null, false).body();
      assertThat(product).doesNotContain(privateKey).doesNotContain(seed);
    } finally {
      a.close();
      b.close();
      db.drop();
      flushOwnRedisDatabase();
    }
  }

  static void flushOwnRedisDatabase() {
    io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create(REDIS);
    try (var c = client.connect()) {
      c.sync().flushdb();
    } finally {
      client.shutdown();
    }
  }

  Gateway instance(String name) {
    return Gateway.start(new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 1, null, null, Duration.ofSeconds(10)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve(name).toString(), db.url(), db.user(), null, REDIS),
        null, null).withLicence(new GatewayConfig.Licence(null, Duration.ofHours(1)))
        .withLogging(new GatewayConfig.Logging("json", "file " + dir.resolve(name + "-access.log"))), clock, channel);
  }

  static JsonObject seller(String name) {
    return new JsonObject().put("name", name).put("supportPhone", "+1 555 0100").put("supportEmail", "s@acme.example");
  }

  HttpResponse<String> send(Gateway g, String method, String path, String token, String body, boolean buyer)
      throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + (buyer ? g.buyerPort() : g.adminPort()) + path)).timeout(Duration.ofSeconds(20))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
        .header("content-type", "application/json");
    if (token != null) {
      r.header("authorization", "Bearer " + token);
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  JsonObject admin(Gateway g, String method, String path, String token, JsonObject body, int status) throws Exception {
    HttpResponse<String> r = send(g, method, path, token, body == null ? null : body.encode(), false);
    OpenApiValidator.ADMIN.assertValid(r);
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body());
    return new JsonObject(r.body());
  }

  /** A licence call; its answer recorded for the private-key check. */
  HttpResponse<String> licence(Gateway g, String verb, JsonObject body) throws Exception {
    HttpResponse<String> r = send(g, "POST", "/licence/v1/" + verb, null, body.encode(), true);
    answers.add(r.headers().map() + " " + r.body());
    return r;
  }

  /** A signed licence answer with {@code status}: its signature verifies with the product's public key. */
  JsonObject signed(HttpResponse<String> r, int status) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(verifies(r.headers().firstValue("x-tollgate-signature").orElse(null),
        r.body().getBytes(StandardCharsets.UTF_8))).as("the signature of %s verifies", r.body()).isTrue();
    return new JsonObject(r.body());
  }

  boolean verifies(String header, byte[] body) throws Exception {
    assertThat(header).as("X-Tollgate-Signature").isNotNull().startsWith("ed25519 ");
    Signature v = Signature.getInstance("Ed25519");
    v.initVerify(publicKey);
    v.update(body);
    return v.verify(Base64.getDecoder().decode(header.substring("ed25519 ".length())));
  }

  /** A buyer's licence for {@code users}; returns {id, apiKey}. */
  JsonObject buy(long users) throws Exception {
    JsonObject sub = admin(a, "POST", "/admin/v1/subscriptions", OPERATOR, new JsonObject().put("skuId", skuId)
        .put("buyerId", "b-" + UUID.randomUUID()).put("attributes", new JsonObject().put("edition", "pro"))
        .put("quantities", new JsonObject().put("users", users)), 201);
    return sub;
  }

  static JsonObject machine(String code, String fingerprint) {
    return new JsonObject().put("code", code).put("fingerprint", fingerprint);
  }

  @Test
  void publicKey_isShownOnTheProduct_andServedSignedOnTheBuyerPort() throws Exception {
    JsonObject product = admin(a, "GET", "/admin/v1/products/" + productId, merchant, null, 200);
    assertThat(product.getString("protocol")).isEqualTo("licence");
    assertThat(product.getJsonArray("endpoints")).isEmpty();
    assertThat(product.getJsonObject("licence").getString("heartbeatInterval")).isEqualTo("PT5S");
    HttpResponse<String> r = send(b, "GET", "/licence/v1/keys/" + productId, null, null, true);
    answers.add(r.body());
    JsonObject key = signed(r, 200);
    assertThat(key.getString("publicKey")).isEqualTo(product.getJsonObject("licence").getString("publicKey"));
    assertThat(key.getString("algorithm")).isEqualTo("Ed25519");
    assertThat(send(b, "GET", "/licence/v1/keys/prod_nothing", null, null, true).statusCode()).isEqualTo(404);
  }

  @Test
  void activation_answersTheLicenceSigned_andActivatingAgainUsesNoSeat() throws Exception {
    JsonObject sub = buy(2);
    String code = sub.getString("apiKey");
    JsonObject first = signed(licence(a, "activate", machine(code, "fp-1").put("hostname", "cad-01")
        .put("nonce", "n-123")), 200);

    assertThat(first.getString("object")).isEqualTo("licence");
    assertThat(first.getString("status")).isEqualTo("active");
    assertThat(first.getBoolean("valid")).isTrue();
    assertThat(first.getString("subscriptionId")).isEqualTo(sub.getString("id"));
    assertThat(first.getString("productId")).isEqualTo(productId);
    assertThat(first.getString("skuId")).isEqualTo(skuId);
    assertThat(first.getJsonObject("attributes")).isEqualTo(new JsonObject().put("edition", "pro"));
    assertThat(first.getJsonObject("quantities")).isEqualTo(new JsonObject().put("users", 2));
    assertThat(first.getString("expiresAt")).isEqualTo(sub.getString("expiresAt"));
    assertThat(first.getJsonObject("seats")).isEqualTo(new JsonObject().put("used", 1).put("max", 2));
    assertThat(first.getJsonObject("machine").getString("fingerprint")).isEqualTo("fp-1");
    assertThat(first.getString("heartbeatInterval")).isEqualTo("PT5S");
    assertThat(Instant.parse(first.getString("nextHeartbeatBefore"))).isEqualTo(clock.instant().plusSeconds(10));
    assertThat(Instant.parse(first.getString("issuedAt"))).isEqualTo(clock.instant());
    assertThat(first.getString("nonce")).as("the caller's nonce is echoed").isEqualTo("n-123");

    JsonObject again = signed(licence(b, "activate", machine(code, "fp-1").put("nonce", "n-124")), 200);
    assertThat(again.getJsonObject("seats").getLong("used")).as("the same machine holds one seat").isEqualTo(1);
    assertThat(again.getJsonObject("machine").getString("activatedAt"))
        .isEqualTo(first.getJsonObject("machine").getString("activatedAt"));
    assertThat(again.getString("nonce")).isEqualTo("n-124");

    // The access log names the code's subscription, product and SKU, never the code.
    Path accessLog = dir.resolve("a-access.log");
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(accessLog)
        && Files.readString(accessLog).contains(sub.getString("id")));
    String lines = Files.readString(accessLog);
    assertThat(lines).doesNotContain(code);
    JsonObject line = lines.lines().map(JsonObject::new)
        .filter(l -> sub.getString("id").equals(l.getString("subscription_id"))).findFirst().orElseThrow();
    assertThat(line.getString("path")).isEqualTo("/licence/v1/activate");
    assertThat(line.getString("product_id")).isEqualTo(productId);
    assertThat(line.getString("sku_id")).isEqualTo(skuId);
    assertThat(line.getInteger("status")).isEqualTo(200);
    assertThat(line.getInteger("upstream_status")).isZero();
  }

  @Test
  void aNewMachineBeyondTheSeats_is409TooManyMachines_signed() throws Exception {
    String code = buy(1).getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-1")), 200);
    JsonObject refused = signed(licence(a, "activate", machine(code, "fp-2").put("nonce", "x")), 409);
    assertThat(refused.getJsonObject("error").getString("code")).isEqualTo("too_many_machines");
    assertThat(refused.getString("nonce")).isEqualTo("x");
  }

  @Test
  void heartbeat_ofAnActiveMachine_isValid_andAfterDeactivationIs409() throws Exception {
    String code = buy(1).getString("apiKey");
    JsonObject never = signed(licence(a, "heartbeat", machine(code, "fp-1")), 409);
    assertThat(never.getJsonObject("error").getString("code")).isEqualTo("machine_not_activated");
    signed(licence(a, "activate", machine(code, "fp-1")), 200);
    clock.advance(Duration.ofSeconds(1));

    JsonObject beat = signed(licence(b, "heartbeat", machine(code, "fp-1").put("nonce", "hb")), 200);
    assertThat(beat.getString("status")).isEqualTo("active");
    assertThat(beat.getBoolean("valid")).isTrue();
    assertThat(beat.getJsonObject("seats")).isEqualTo(new JsonObject().put("used", 1).put("max", 1));
    assertThat(beat.getString("nonce")).isEqualTo("hb");

    JsonObject off = signed(licence(b, "deactivate", machine(code, "fp-1")), 200);
    assertThat(off.getJsonObject("seats").getLong("used")).as("the seat is free").isZero();
    assertThat(signed(licence(a, "heartbeat", machine(code, "fp-1")), 409).getJsonObject("error")
        .getString("code")).isEqualTo("machine_not_activated");
    assertThat(signed(licence(a, "deactivate", machine(code, "fp-1")), 409).getJsonObject("error")
        .getString("code")).isEqualTo("machine_not_activated");
    signed(licence(a, "activate", machine(code, "fp-2")), 200);
  }

  @Test
  void unknownCode_is401_andMalformedRequestsAreRefusedNamingTheField() throws Exception {
    HttpResponse<String> unknown = licence(a, "heartbeat", machine("tg-not-a-code", "fp"));
    assertThat(unknown.statusCode()).isEqualTo(401);
    assertThat(new JsonObject(unknown.body()).getJsonObject("error").getString("code")).isEqualTo("invalid_api_key");

    HttpResponse<String> notJson = send(a, "POST", "/licence/v1/activate", null, "not json", true);
    assertThat(notJson.statusCode()).isEqualTo(400);
    assertThat(new JsonObject(notJson.body()).getJsonObject("error").getString("code")).isEqualTo("invalid_json");

    String code = buy(1).getString("apiKey");
    JsonObject noFingerprint = signed(licence(a, "activate", new JsonObject().put("code", code)), 400);
    assertThat(noFingerprint.getJsonObject("error").getString("message")).contains("fingerprint");
    JsonObject longFingerprint = signed(licence(a, "activate", machine(code, "f".repeat(201))), 400);
    assertThat(longFingerprint.getJsonObject("error").getString("message")).contains("fingerprint");
    HttpResponse<String> noCode = licence(a, "activate", new JsonObject().put("fingerprint", "fp"));
    assertThat(noCode.statusCode()).isEqualTo(400);
    assertThat(noCode.body()).contains("code is required");

    assertThat(send(a, "GET", "/licence/v1/activate", null, null, true).statusCode()).isEqualTo(405);
    assertThat(send(a, "POST", "/licence/v1/nothing", null, "{}", true).statusCode()).isEqualTo(404);
    assertThat(send(a, "POST", "/v1/chat/completions", code, "{\"model\":\"m\"}", true).statusCode())
        .as("nothing is proxied for a licence").isEqualTo(404);
  }

  @Test
  void suspension_isToldByTheNextHeartbeat_signed_andRefusesActivation() throws Exception {
    JsonObject sub = buy(2);
    String code = sub.getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-1")), 200);
    admin(a, "POST", "/admin/v1/subscriptions/" + sub.getString("id") + "/suspend", OPERATOR, null, 200);

    JsonObject beat = signed(licence(a, "heartbeat", machine(code, "fp-1").put("nonce", "s1")), 200);
    assertThat(beat.getString("status")).isEqualTo("suspended");
    assertThat(beat.getBoolean("valid")).isFalse();
    JsonObject refused = signed(licence(a, "activate", machine(code, "fp-2")), 403);
    assertThat(refused.getString("status")).isEqualTo("suspended");
    assertThat(refused.getJsonObject("error").getString("code")).isEqualTo("subscription_suspended");

    admin(a, "POST", "/admin/v1/subscriptions/" + sub.getString("id") + "/cancel", OPERATOR, null, 200);
    assertThat(signed(licence(a, "heartbeat", machine(code, "fp-1")), 200).getString("status")).isEqualTo("cancelled");
  }

  @Test
  void tamperedBody_failsVerificationWithThePublicKey() throws Exception {
    String code = buy(1).getString("apiKey");
    HttpResponse<String> r = licence(a, "activate", machine(code, "fp-1"));
    String signature = r.headers().firstValue("x-tollgate-signature").orElseThrow();
    assertThat(verifies(signature, r.body().getBytes(StandardCharsets.UTF_8))).isTrue();
    byte[] tampered = r.body().replace("\"valid\":true", "\"valid\":fals").replace("\"max\":1", "\"max\":9")
        .getBytes(StandardCharsets.UTF_8);
    assertThat(verifies(signature, tampered)).as("a forged answer does not verify").isFalse();
  }

  @Test
  void deadMachine_freesItsSeatAfterTwoIntervals_onTheClock() throws Exception {
    JsonObject sub = buy(1);
    String code = sub.getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-old")), 200);
    clock.advance(INTERVAL);
    signed(licence(b, "heartbeat", machine(code, "fp-old")), 200);
    clock.advance(INTERVAL.multipliedBy(2).minusMillis(1));
    assertThat(signed(licence(a, "activate", machine(code, "fp-new")), 409).getJsonObject("error").getString("code"))
        .as("alive until two intervals have passed").isEqualTo("too_many_machines");

    clock.advance(Duration.ofMillis(2));
    JsonObject list = admin(a, "GET", "/admin/v1/subscriptions/" + sub.getString("id") + "/machines", OPERATOR,
        null, 200);
    assertThat(list.getJsonArray("data").getJsonObject(0).getBoolean("alive")).isFalse();
    signed(licence(b, "activate", machine(code, "fp-new")), 200);
    assertThat(signed(licence(a, "heartbeat", machine(code, "fp-old")), 409).getJsonObject("error").getString("code"))
        .isEqualTo("machine_not_activated");
  }

  @Test
  void twoInstances_twoMachinesRacingForTheLastSeat_exactlyOneGetsIt() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 5; round++) {
        String code = buy(2).getString("apiKey");
        signed(licence(a, "activate", machine(code, "fp-0")), 200);
        CyclicBarrier barrier = new CyclicBarrier(2);
        Future<HttpResponse<String>> onA = pool.submit(() -> {
          barrier.await();
          return licence(a, "activate", machine(code, "fp-a"));
        });
        Future<HttpResponse<String>> onB = pool.submit(() -> {
          barrier.await();
          return licence(b, "activate", machine(code, "fp-b"));
        });
        List<Integer> statuses = List.of(onA.get().statusCode(), onB.get().statusCode());
        assertThat(statuses).as("round %d: one machine gets the last seat, the other 409", round)
            .containsExactlyInAnyOrder(200, 409);
        JsonObject beat = signed(licence(b, "heartbeat", machine(code, "fp-0")), 200);
        assertThat(beat.getJsonObject("seats")).isEqualTo(new JsonObject().put("used", 2).put("max", 2));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void heartbeats_writeNoRow_untilTheBatch_butTheMachinesListIsExactAtOnce() throws Exception {
    JsonObject sub = buy(1);
    String code = sub.getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-1").put("hostname", "host-1")), 200);
    Instant activated = clock.instant();
    clock.advance(Duration.ofSeconds(2));
    Instant beatAt = clock.instant();
    for (int i = 0; i < 3; i++) {
      signed(licence(a, "heartbeat", machine(code, "fp-1")), 200);
    }
    assertThat(lastSeenInTable(sub.getString("id"))).as("no heartbeat wrote the table").isEqualTo(activated);

    JsonObject list = admin(a, "GET", "/admin/v1/subscriptions/" + sub.getString("id") + "/machines", OPERATOR,
        null, 200);
    JsonObject m = list.getJsonArray("data").getJsonObject(0);
    assertThat(m.getString("fingerprint")).isEqualTo("fp-1");
    assertThat(m.getString("hostname")).isEqualTo("host-1");
    assertThat(Instant.parse(m.getString("lastHeartbeatAt"))).isEqualTo(beatAt);
    assertThat(m.getBoolean("alive")).isTrue();
    JsonObject shown = admin(a, "GET", "/admin/v1/subscriptions/" + sub.getString("id"), OPERATOR, null, 200);
    assertThat(shown.getJsonObject("licence").getLong("activeMachines")).isEqualTo(1);
    assertThat(Instant.parse(shown.getJsonObject("licence").getString("lastHeartbeatAt"))).isEqualTo(beatAt);

    assertThat(a.licence().flushLastSeen()).as("one row for three heartbeats").isEqualTo(1);
    assertThat(lastSeenInTable(sub.getString("id"))).isEqualTo(beatAt);
  }

  @Test
  void merchantSeesItsTestCodesMachines_anotherMerchantDoesNot() throws Exception {
    JsonObject test = admin(a, "POST", "/admin/v1/subscriptions", merchant, new JsonObject().put("skuId", skuId)
        .put("buyerId", "merchant-test").put("test", true).put("attributes", new JsonObject().put("edition", "std"))
        .put("quantities", new JsonObject().put("users", 1)), 201);
    String path = "/admin/v1/subscriptions/" + test.getString("id") + "/machines";
    assertThat(admin(a, "GET", path, merchant, null, 200).getJsonArray("data")).isEmpty();
    signed(licence(a, "activate", machine(test.getString("apiKey"), "dev-box")), 200);
    JsonObject list = admin(b, "GET", path, merchant, null, 200);
    assertThat(list.getString("object")).isEqualTo("list");
    assertThat(list.getJsonArray("data").getJsonObject(0).getString("fingerprint")).isEqualTo("dev-box");
    assertThat(list.getString("first_id")).isEqualTo("dev-box");
    HttpResponse<String> other = send(a, "GET", path, otherMerchant, null, false);
    assertThat(other.statusCode()).as(other.body()).isIn(403, 404);
  }

  @Test
  void perCodeRateLimit_is429WithRetryAfter_signed() throws Exception {
    String code = buy(1).getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-1")), 200);
    for (int i = 2; i <= 60; i++) {
      assertThat(licence(a, "heartbeat", machine(code, "fp-1")).statusCode()).as("request %d of 60", i).isEqualTo(200);
    }
    HttpResponse<String> limited = licence(a, "heartbeat", machine(code, "fp-1"));
    JsonObject body = signed(limited, 429);
    assertThat(body.getJsonObject("error").getString("code")).isEqualTo("rate_limit_exceeded");
    assertThat(Long.parseLong(limited.headers().firstValue("retry-after").orElseThrow())).isPositive();
  }

  @Test
  void periodPurchaseAndRenewal_billPriceTimesUsers_andLicenceCallsAreNotUsage() throws Exception {
    JsonObject sub = buy(3);
    signed(licence(a, "activate", machine(sub.getString("apiKey"), "fp-1")), 200);
    clock.advance(Duration.ofSeconds(1)); // a renewal's period starts when it is made
    admin(a, "POST", "/admin/v1/subscriptions/" + sub.getString("id") + "/renew", OPERATOR, null, 200);
    a.exporter().runOnce();
    List<UsageRecord> records = a.ledger().page(RecordQuery.all(1000)).records().stream()
        .filter(r -> r.subscriptionId().equals(sub.getString("id"))).toList();
    assertThat(records).as("a purchase and a renewal, and no usage").hasSize(2)
        .allSatisfy(r -> {
          assertThat(r.kind()).isEqualTo(RecordKind.PURCHASE);
          assertThat(r.billingMode()).isEqualTo(BillingMode.PERIOD);
          assertThat(r.amount()).isEqualByComparingTo(new BigDecimal("30"));
        });
  }

  @Test
  void metricsAndReadiness_showTheLicenceApiAndItsBatchTask() throws Exception {
    String code = buy(1).getString("apiKey");
    signed(licence(a, "activate", machine(code, "fp-1")), 200);
    String metrics = send(a, "GET", "/metrics", null, null, false).body();
    assertThat(metrics).contains("tollgate_licence_requests_total{product=\"" + productId
        + "\",result=\"ok\",verb=\"activate\"}");
    JsonObject ready = new JsonObject(send(a, "GET", "/health/ready", null, null, false).body());
    assertThat(ready.getJsonObject("tasks").containsKey("licence-last-seen")).isTrue();
  }

  Instant lastSeenInTable(String subscriptionId) throws Exception {
    try (Connection c = DriverManager.getConnection(db.url(), db.user(), null);
        var st = c.prepareStatement("SELECT last_seen_at FROM licence_machines WHERE subscription_id = ?")) {
      st.setString(1, subscriptionId);
      var rs = st.executeQuery();
      assertThat(rs.next()).isTrue();
      return rs.getObject(1, OffsetDateTime.class).toInstant();
    }
  }
}
