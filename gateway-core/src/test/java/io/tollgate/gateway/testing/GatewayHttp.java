package io.tollgate.gateway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.admin.OpenApiValidator;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A whole gateway's two ports over real HTTP on loopback, as the end-to-end tests call them: any
 * request, and admin calls whose answers are checked against the OpenAPI document and the status
 * the test expects.
 */
public final class GatewayHttp {

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** {@code method url} with a JSON body (or none), a bearer token (or none) and extra header pairs. */
  public HttpResponse<String> send(String method, String url, String token, String body, String... headers)
      throws Exception {
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

  /** An admin call of {@code g}: its answer is as the OpenAPI document says, with {@code status}. */
  public JsonObject admin(Gateway g, String method, String path, String token, JsonObject body, int status)
      throws Exception {
    HttpResponse<String> r = send(method, "http://127.0.0.1:" + g.adminPort() + path, token,
        body == null ? null : body.encode());
    OpenApiValidator.ADMIN.assertValid(r);
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(status);
    TestSecrets.fromJson(r.body()); // keys and tokens it hands out: never to be logged
    return new JsonObject(r.body());
  }

  /** A buyer call to {@code g}'s buyer port. */
  public HttpResponse<String> buyer(Gateway g, String method, String path, String key, String body) throws Exception {
    return send(method, "http://127.0.0.1:" + g.buyerPort() + path, key, body);
  }

  /** {@code g}'s Prometheus exposition. */
  public String metrics(Gateway g) throws Exception {
    HttpResponse<String> r = send("GET", "http://127.0.0.1:" + g.adminPort() + "/metrics", null, null);
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  /** A merchant with the support contact that listing its products needs. */
  public static JsonObject seller() {
    return new JsonObject().put("name", "acme").put("supportPhone", "+1 555 0100")
        .put("supportEmail", "support@acme.example");
  }

  /** Takes a product with a SKU through the review (the operator submits and approves it): buyers can buy it. */
  public void list(Gateway g, String operator, String productId) throws Exception {
    admin(g, "POST", "/admin/v1/products/" + productId + "/submit", operator, null, 200);
    admin(g, "POST", "/admin/v1/products/" + productId + "/approve", operator, null, 200);
  }
}
