package io.tollgate.gateway;

import io.tollgate.billing.Exporter;
import io.tollgate.billing.RecordQuery;
import io.tollgate.billing.UsageRecord;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tollgate demo}: a gateway on the embedded store and a mock merchant endpoint in one
 * process; registers a merchant, two products, their SKUs and a buyer's subscriptions through the
 * admin API, makes buyer calls (streamed and not), prints what happened and the usage, then the
 * usage records the exporter made of it, and exits 0 when every step did what it should.
 *
 * <p>The demo cannot wait for an hour's window to close: it runs with one-minute windows and no
 * grace, on a clock it moves a window ahead once the usage is metered, and runs the exporter
 * once. Moving the clock ahead is what the passing of time does; nothing else reads it
 * differently.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run a gateway and a mock merchant endpoint, make a few buyer calls, print the usage and its records.")
final class Demo implements Callable<Integer> {

  @Option(names = "--config", description = "YAML config file (default: config/tollgate.yaml if present)")
  Path config;

  @Option(names = "--data-dir", defaultValue = "./data/demo", description = "where the demo keeps its store (default ${DEFAULT-VALUE})")
  String dataDir;

  @Spec
  CommandSpec spec;

  private PrintWriter out;

  @Override
  public Integer call() {
    out = spec.commandLine().getOut();
    GatewayConfig base = Main.loadConfig(config);
    // Free ports, so the demo runs next to a gateway already serving 8080/9090.
    GatewayConfig cfg = new GatewayConfig(
        new GatewayConfig.Server("127.0.0.1", 0, 2, base.server().maxBodyBytes(), base.server().idleTimeout(),
            base.server().healthCheckInterval()),
        new GatewayConfig.Admin("127.0.0.1", 0, base.admin().token()),
        new GatewayConfig.Store(dataDir, base.store().jdbcUrl(), base.store().jdbcUser(), base.store().jdbcPassword(),
            base.store().redisUri()),
        // The exporter runs at start, then when the demo runs it: what it prints is what that run did.
        base.metering(), new GatewayConfig.Export(Duration.ofMinutes(1), Duration.ZERO, Duration.ofHours(1),
            base.export().jsonl()), null, base.catalog(), base.metrics(), base.logging());
    String ak = "demo-access-key";
    String sk = "demo-secret-key-" + Long.toHexString(System.nanoTime());
    MovedClock clock = new MovedClock();
    try (Gateway gw = Gateway.start(cfg, clock)) {
      MockUpstream mock = MockUpstream.start(gw.vertx(), MockUpstream.Options.defaults().withAksk(ak, sk)).await();
      WebClient web = WebClient.create(gw.vertx());
      String admin = "http://127.0.0.1:" + gw.adminPort();
      String buyer = "http://127.0.0.1:" + gw.buyerPort();
      out.println("tollgate demo: gateway buyer port " + gw.buyerPort() + ", admin port " + gw.adminPort()
          + ", mock merchant endpoint " + mock.baseUrl());

      JsonObject merchant = call(web, "POST", admin + "/admin/v1/merchants", gw.operatorToken(),
          new JsonObject().put("name", "acme").put("supportPhone", "+1 555 0100")
              .put("supportEmail", "support@acme.example"), 201);
      String merchantToken = merchant.getString("token");
      step("merchant", merchant.getString("id"));

      JsonObject auth = new JsonObject().put("type", "aksk").put("accessKey", ak).put("secretKey", sk);
      JsonArray endpoints = new JsonArray().add(new JsonObject().put("url", mock.baseUrl()));
      JsonObject chat = call(web, "POST", admin + "/admin/v1/products", merchantToken, new JsonObject()
          .put("name", "Acme Chat").put("protocol", "openai").put("endpoints", endpoints).put("auth", auth), 201);
      JsonObject claude = call(web, "POST", admin + "/admin/v1/products", merchantToken, new JsonObject()
          .put("name", "Acme Messages").put("protocol", "anthropic").put("endpoints", endpoints).put("auth", auth), 201);
      step("products", chat.getString("id") + " (openai), " + claude.getString("id") + " (anthropic)");

      JsonObject payg = call(web, "POST", admin + "/admin/v1/products/" + chat.getString("id") + "/skus", merchantToken,
          new JsonObject().put("name", "payg").put("models", new JsonArray().add("mock-gpt"))
              .put("billing", new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD")
                  .put("inputPricePerMillion", "0.15").put("outputPricePerMillion", "0.60")), 201);
      JsonObject pack = call(web, "POST", admin + "/admin/v1/products/" + claude.getString("id") + "/skus",
          merchantToken, new JsonObject().put("name", "1M tokens a month").put("models", new JsonArray().add("mock-claude"))
              .put("billing", new JsonObject().put("mode", "TOKEN_PACKAGE").put("currency", "USD")
                  .put("quota", 1_000_000).put("price", "9.90").put("period", "MONTH")), 201);
      step("SKUs", payg.getString("id") + " (PER_TOKEN), " + pack.getString("id") + " (TOKEN_PACKAGE)");

      // The marketplace reviews a product before buyers can buy it: the merchant submits, the
      // operator approves.
      for (JsonObject product : new JsonObject[] {chat, claude}) {
        String path = admin + "/admin/v1/products/" + product.getString("id");
        call(web, "POST", path + "/submit", merchantToken, new JsonObject(), 200);
        JsonObject listed = call(web, "POST", path + "/approve", gw.operatorToken(), new JsonObject(), 200);
        expect(listed.getString("status").equals("listed"), "an approved product must be listed: " + listed);
      }
      step("review", "both products submitted by acme, approved by the operator: listed");

      JsonObject chatSub = call(web, "POST", admin + "/admin/v1/subscriptions", gw.operatorToken(),
          new JsonObject().put("skuId", payg.getString("id")).put("buyerId", "buyer-1").put("buyerName", "Bea"), 201);
      JsonObject claudeSub = call(web, "POST", admin + "/admin/v1/subscriptions", gw.operatorToken(),
          new JsonObject().put("skuId", pack.getString("id")).put("buyerId", "buyer-1").put("buyerName", "Bea"), 201);
      String chatKey = chatSub.getString("apiKey");
      String claudeKey = claudeSub.getString("apiKey");
      step("subscriptions", chatSub.getString("id") + ", " + claudeSub.getString("id")
          + ": buyer-1 holds two keys (shown once)");

      // Lists page like the OpenAI API's: ?limit= and ?after=<the last id of the page before>.
      List<String> pages = new ArrayList<>();
      String after = null;
      do {
        JsonObject page = call(web, "GET", admin + "/admin/v1/subscriptions?limit=1"
            + (after == null ? "" : "&after=" + after), merchantToken, null, 200);
        pages.add(page.getJsonArray("data").getJsonObject(0).getString("buyerName") + " "
            + page.getString("last_id"));
        after = page.getBoolean("has_more") ? page.getString("last_id") : null;
      } while (after != null);
      expect(pages.size() == 2, "acme's two sales, one page each: " + pages);
      step("acme's buyers, one per page", String.join(" | ", pages));

      JsonObject messages = new JsonObject().put("model", "mock-gpt").put("messages", new JsonArray()
          .add(new JsonObject().put("role", "user").put("content", "Write a haiku about toll gates")));
      buyerCall(web, buyer + "/v1/chat/completions", chatKey, "authorization", messages.copy(), "openai chat");
      // Streamed without stream_options.include_usage: tollgate asks the upstream for the usage
      // chunk, meters it, and removes it from what the buyer receives.
      buyerCall(web, buyer + "/v1/chat/completions", chatKey, "authorization", messages.copy().put("stream", true),
          "openai chat, streamed");
      JsonObject anthropic = new JsonObject().put("model", "mock-claude").put("max_tokens", 16).put("messages",
          new JsonArray().add(new JsonObject().put("role", "user").put("content", "Hello Claude")));
      buyerCall(web, buyer + "/v1/messages", claudeKey, "x-api-key", anthropic.copy(), "anthropic messages");
      buyerCall(web, buyer + "/v1/messages", claudeKey, "x-api-key", anthropic.copy().put("stream", true),
          "anthropic messages, streamed");

      HttpResponse<Buffer> refused = web.postAbs(buyer + "/v1/chat/completions").putHeader("authorization", "Bearer tg-wrong")
          .sendJsonObject(messages).await();
      expect(refused.statusCode() == 401, "a wrong key must get 401, got " + refused.statusCode());
      step("wrong key", "401 " + refused.bodyAsJsonObject().getJsonObject("error").getString("code")
          + "; upstream calls so far: " + mock.requestCount());

      // Usage reaches the meter store with the aggregator's next flush (metering.flushInterval).
      String[][] subscriptions = {{chatKey, "Acme Chat", chatSub.getString("id")},
          {claudeKey, "Acme Messages", claudeSub.getString("id")}};
      Map<String, JsonObject> metered = new HashMap<>();
      for (String[] k : subscriptions) {
        JsonObject s = null;
        long deadline = System.nanoTime() + 5_000_000_000L;
        do {
          if (s != null) {
            sleep(50);
          }
          HttpResponse<Buffer> sub = web.getAbs(buyer + "/v1/subscription")
              .putHeader("authorization", "Bearer " + k[0]).send().await();
          expect(sub.statusCode() == 200, "GET /v1/subscription: " + sub.statusCode());
          s = sub.bodyAsJsonObject();
        } while (s.getJsonObject("usage").getLong("calls") < 2 && System.nanoTime() < deadline);
        expect(s.getJsonObject("usage").getLong("calls") == 2, "two calls metered for " + k[1] + ", got " + s);
        metered.put(k[2], s.getJsonObject("usage"));
        step("usage of " + k[1], k[2] + " " + s.getJsonObject("usage") + ", remaining " + s.getValue("remaining"));
      }

      // Usage windows close a window + grace after they end: move the clock there, export once.
      clock.advance(cfg.export().window().plus(cfg.export().grace()));
      Exporter.Summary export = gw.exporter().runOnce();
      step("export", "clock moved " + cfg.export().window().toMinutes() + " min ahead: " + export.windows()
          + " window(s) closed, " + export.records() + " record(s) written");
      for (String[] k : subscriptions) {
        List<UsageRecord> records = gw.ledger().page(new RecordQuery(null, k[2], null, null, null, null, null,
            RecordQuery.MAX_LIMIT)).records();
        long[] exported = new long[3];
        for (UsageRecord r : records) {
          step("record " + r.kind().wireName(), r.subscriptionId() + " " + r.skuId() + ": " + r.calls() + " calls, "
              + r.inputTokens() + " input + " + r.outputTokens() + " output tokens, " + r.amountText() + " "
              + r.currency());
          exported[0] += r.calls();
          exported[1] += r.inputTokens();
          exported[2] += r.outputTokens();
        }
        JsonObject u = metered.get(k[2]);
        expect(exported[0] == u.getLong("calls") && exported[1] == u.getLong("inputTokens")
            && exported[2] == u.getLong("outputTokens"), "the records of " + k[1] + " add up to " + exported[0]
            + " calls, " + exported[1] + " input and " + exported[2] + " output tokens; metered: " + u);
      }
      licence(web, admin, buyer, merchantToken);
      out.println("tollgate demo: done");
      return 0;
    } catch (DemoFailure e) {
      spec.commandLine().getErr().println("tollgate demo failed: " + e.getMessage());
      return 1;
    }
  }

  /**
   * A merchant's software checking its licence: a licence product sold per month by users, a test
   * code, one machine activated and one heartbeat on the buyer port, each answer's signature
   * verified with the product's public key, then the machines the merchant sees.
   */
  private void licence(WebClient web, String admin, String buyer, String merchantToken) {
    JsonObject product = call(web, "POST", admin + "/admin/v1/products", merchantToken, new JsonObject()
        .put("name", "Acme CAD").put("protocol", "licence")
        .put("licence", new JsonObject().put("heartbeatInterval", "PT10M")), 201);
    String publicKey = product.getJsonObject("licence").getString("publicKey");
    JsonObject sku = call(web, "POST", admin + "/admin/v1/products/" + product.getString("id") + "/skus",
        merchantToken, new JsonObject().put("name", "per seat")
            .put("quantities", new JsonObject().put("users", new JsonObject().put("min", 1).put("max", 50)))
            .put("billing", new JsonObject().put("mode", "PERIOD").put("currency", "USD").put("price", "10.00")
                .put("period", "MONTH")), 201);
    JsonObject code = call(web, "POST", admin + "/admin/v1/subscriptions", merchantToken, new JsonObject()
        .put("skuId", sku.getString("id")).put("buyerId", "acme-dev").put("test", true)
        .put("quantities", new JsonObject().put("users", 2)), 201);
    step("licence", product.getString("id") + " (licence, PERIOD " + sku.getString("id") + "), test code for 2 seats");
    for (String verb : new String[] {"activate", "heartbeat"}) {
      HttpResponse<Buffer> r = web.postAbs(buyer + "/licence/v1/" + verb).sendJsonObject(new JsonObject()
          .put("code", code.getString("apiKey")).put("fingerprint", "demo-machine-1").put("hostname", "cad-01")
          .put("nonce", "demo-" + verb)).await();
      expect(r.statusCode() == 200, verb + ": HTTP " + r.statusCode() + " " + r.bodyAsString());
      String signature = r.getHeader("x-tollgate-signature");
      boolean verified;
      try {
        java.security.Signature v = java.security.Signature.getInstance("Ed25519");
        v.initVerify(io.tollgate.gateway.catalog.LicenceKeys.publicKey(publicKey));
        v.update(r.body().getBytes());
        verified = signature != null && signature.startsWith("ed25519 ")
            && v.verify(java.util.Base64.getDecoder().decode(signature.substring("ed25519 ".length())));
      } catch (java.security.GeneralSecurityException | IllegalArgumentException e) {
        verified = false;
      }
      expect(verified, verb + ": the answer's signature does not verify with the product's public key");
      JsonObject a = r.bodyAsJsonObject();
      step("licence " + verb, "200 " + a.getString("status") + ", valid " + a.getBoolean("valid") + ", seats "
          + a.getJsonObject("seats") + ", signature verified with the public key");
    }
    JsonObject machines = call(web, "GET", admin + "/admin/v1/subscriptions/" + code.getString("id") + "/machines",
        merchantToken, null, 200);
    step("licence machines", machines.getJsonArray("data").encode());
  }

  private void buyerCall(WebClient web, String url, String key, String header, JsonObject body, String what) {
    HttpResponse<Buffer> r = web.postAbs(url)
        .putHeader(header, "authorization".equals(header) ? "Bearer " + key : key)
        .sendJsonObject(body).await();
    expect(r.statusCode() == 200, what + ": HTTP " + r.statusCode() + " " + r.bodyAsString());
    String text = r.bodyAsString();
    int at = text.lastIndexOf("\"usage\":{");
    String usage = at >= 0 ? text.substring(at) : "no usage in what the buyer received (tollgate asked for it and metered it)";
    int end = usage.indexOf('}');
    step(what, "200, request " + r.getHeader("x-request-id") + ", " + (text.length()) + " bytes, "
        + (end > 0 ? usage.substring(0, end + 1) : usage));
  }

  private JsonObject call(WebClient web, String method, String url, String token, JsonObject body, int expected) {
    var request = ("POST".equals(method) ? web.postAbs(url) : web.getAbs(url)).putHeader("authorization", "Bearer " + token);
    HttpResponse<Buffer> r = (body == null ? request.send() : request.sendJsonObject(body)).await();
    expect(r.statusCode() == expected, method + " " + url + ": HTTP " + r.statusCode() + " " + r.bodyAsString());
    return r.bodyAsJsonObject();
  }

  private void step(String what, String detail) {
    out.printf("  %-28s %s%n", what, detail);
    out.flush();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DemoFailure("interrupted");
    }
  }

  private static void expect(boolean ok, String message) {
    if (!ok) {
      throw new DemoFailure(message);
    }
  }

  private static final class DemoFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DemoFailure(String message) {
      super(message);
    }
  }
}
