package io.tollgate.gateway.faults;

import io.tollgate.gateway.admin.OpenApiValidator;
import io.tollgate.gateway.faults.BuyerLoad.Api;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.BuyerLoad.Totals;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import io.tollgate.gateway.testing.TestSecrets;

/**
 * The admin API as the operator and a merchant use it: onboarding through {@code
 * /admin/v1/...}, metered usage from {@code GET /admin/v1/subscriptions/{id}}, and {@code
 * /metrics}. Only the outside contract of DESIGN.md.
 */
final class AdminClient {

  static final String OPERATOR = "faults-operator-token-0123456789";

  private final HttpClient http;
  private final int port;

  AdminClient(HttpClient http, int port) {
    this.http = http;
    this.port = port;
  }

  HttpResponse<String> send(String method, String path, String token, JsonObject body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()))
        .header("content-type", "application/json");
    if (token != null) {
      b.header("authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonObject expect(String method, String path, String token, JsonObject body, int status)
      throws IOException, InterruptedException {
    HttpResponse<String> r = send(method, path, token, body);
    OpenApiValidator.ADMIN.assertValid(r); // every admin answer is as the OpenAPI document says
    if (r.statusCode() != status) {
      throw new AssertionError(method + " " + path + " answered " + r.statusCode() + ", expected " + status + ": " + r.body());
    }
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  /** A merchant, with the support contact that listing its products needs; returns its token. */
  String merchant(String name) throws IOException, InterruptedException {
    return expect("POST", "/admin/v1/merchants", OPERATOR, new JsonObject().put("name", name)
        .put("supportPhone", "+1 555 0100").put("supportEmail", "support@acme.example"), 201).getString("token");
  }

  /** A product of {@code protocol} ({@code openai} or {@code anthropic}) on {@code upstreamUrl}; returns its id. */
  String product(String merchantToken, String name, String protocol, String upstreamUrl)
      throws IOException, InterruptedException {
    return expect("POST", "/admin/v1/products", merchantToken, new JsonObject().put("name", name)
        .put("protocol", protocol)
        .put("endpoints", new JsonArray().add(new JsonObject().put("url", upstreamUrl))), 201).getString("id");
  }

  /** A SKU with {@code billing}; returns its id. */
  String sku(String merchantToken, String productId, String model, JsonObject billing)
      throws IOException, InterruptedException {
    return expect("POST", "/admin/v1/products/" + productId + "/skus", merchantToken, new JsonObject()
        .put("name", "sku-" + model).put("models", new JsonArray().add(model)).put("billing", billing), 201)
        .getString("id");
  }

  static JsonObject perToken() {
    return new JsonObject().put("mode", "PER_TOKEN").put("currency", "USD")
        .put("inputPricePerMillion", "0.15").put("outputPricePerMillion", "0.60");
  }

  static JsonObject tokenPackage(long quota) {
    return new JsonObject().put("mode", "TOKEN_PACKAGE").put("currency", "USD")
        .put("price", "10.00").put("quota", quota).put("period", "MONTH");
  }

  /**
   * A subscription to {@code skuId} bought by {@code buyerId}, as its buyer holds it. The SKU's
   * product is taken through the review first (the operator submits and approves it) if it is not
   * listed yet: only listed products can be bought.
   */
  Buyer subscribe(String skuId, String buyerId, Api api) throws IOException, InterruptedException {
    String productId = expect("GET", "/admin/v1/skus/" + skuId, OPERATOR, null, 200).getString("productId");
    String path = "/admin/v1/products/" + productId;
    if (!expect("GET", path, OPERATOR, null, 200).getString("status").equals("listed")) {
      expect("POST", path + "/submit", OPERATOR, null, 200);
      expect("POST", path + "/approve", OPERATOR, null, 200);
    }
    JsonObject sub = expect("POST", "/admin/v1/subscriptions", OPERATOR,
        new JsonObject().put("skuId", skuId).put("buyerId", buyerId).put("buyerName", buyerId), 201);
    return new Buyer(sub.getString("id"), sub.getString("apiKey"), api);
  }

  /** One OpenAI and one Anthropic product on {@code upstreamUrl}, each with a PER_TOKEN subscription. */
  Buyer[] onboardOpenAiAndAnthropicBuyers(String upstreamUrl) throws IOException, InterruptedException {
    String merchant = merchant("acme");
    String openai = product(merchant, "Acme Chat", "openai", upstreamUrl);
    String anthropic = product(merchant, "Acme Claude", "anthropic", upstreamUrl);
    return new Buyer[] {
        subscribe(sku(merchant, openai, "mock-gpt", perToken()), "buyer-openai", Api.OPENAI_CHAT),
        subscribe(sku(merchant, anthropic, "mock-claude", perToken()), "buyer-anthropic", Api.ANTHROPIC_MESSAGES)};
  }

  /** {@code GET /admin/v1/subscriptions/{id}} as the operator. */
  JsonObject subscription(String id) throws IOException, InterruptedException {
    return expect("GET", "/admin/v1/subscriptions/" + id, OPERATOR, null, 200);
  }

  /** The subscription's metered usage in its current period. */
  Totals metered(String subscriptionId) throws IOException, InterruptedException {
    JsonObject u = subscription(subscriptionId).getJsonObject("usage");
    return new Totals(u.getLong("calls"), u.getLong("inputTokens"), u.getLong("outputTokens"));
  }

  /** The sum of every sample of {@code metric} (all label sets) on {@code /metrics}; 0 if absent. */
  double metricSum(String metric) throws IOException, InterruptedException {
    return metricSum(metric, "");
  }

  /** The sum of the samples of {@code metric} whose labels contain {@code label} (e.g. {@code status="200"}). */
  double metricSum(String metric, String label) throws IOException, InterruptedException {
    String text = send("GET", "/metrics", null, null).body();
    double sum = 0;
    for (String line : text.split("\n")) {
      if ((line.startsWith(metric + "{") || line.startsWith(metric + " ")) && line.contains(label)) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /** {@code GET /health/ready}: its body, with the status code as {@code httpStatus}. */
  JsonObject readiness() throws IOException, InterruptedException {
    HttpResponse<String> r = send("GET", "/health/ready", null, null);
    return new JsonObject(r.body()).put("httpStatus", r.statusCode());
  }

  /** The state ({@code OK}, {@code FAILING}, {@code STALLED}) and cause of background task {@code task}. */
  String task(String task) throws IOException, InterruptedException {
    JsonObject t = readiness().getJsonObject("tasks").getJsonObject(task);
    return t == null ? "absent" : t.getString("status") + (t.getString("cause") == null ? "" : "/" + t.getString("cause"));
  }

  boolean ready() {
    try {
      return send("GET", "/health/ready", null, null).statusCode() == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
