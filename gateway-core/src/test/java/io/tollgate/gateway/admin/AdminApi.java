package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.auth.CatalogChange;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.testing.TestSecrets;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A running admin server over a test database, and a client for it: what tests of the admin API
 * on H2 and PostgreSQL share. Every answer is validated against the OpenAPI document; every change
 * the server announces is kept in {@link #changes}.
 */
final class AdminApi {

  static final String OPERATOR = "operator-token-for-tests-0123456789";
  static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static final String PRODUCT = """
      {"name":"Acme Chat","protocol":"openai",
       "endpoints":[{"url":"http://127.0.0.1:18080","weight":2}],
       "timeouts":{"connectMs":2000,"responseMs":30000}}
      """;
  static final String PAYG_SKU = """
      {"name":"payg","models":["mock-gpt"],
       "billing":{"mode":"PER_TOKEN","currency":"USD","inputPricePerMillion":"0.15","outputPricePerMillion":"0.60"}}
      """;
  static final String PACKAGE_SKU = """
      {"name":"pro","models":["mock-gpt"],
       "billing":{"mode":"TOKEN_PACKAGE","currency":"USD","price":"9.90","quota":1000000,"period":"MONTH"}}
      """;

  record Resp(int status, JsonNode json, String raw, java.net.http.HttpHeaders headers) {
    /** The first value of a response header, or null. */
    String header(String name) {
      return headers.firstValue(name).orElse(null);
    }
  }

  final TestDatabases.Db db;
  final TestClock clock;
  final CatalogRepository repo;
  final List<CatalogChange> changes = new CopyOnWriteArrayList<>();
  private final Vertx vertx;
  private final AdminServer server;
  private final String base;

  private AdminApi(TestDatabases.Db db, UnaryOperator<AdminServer.Options> options) throws Exception {
    this.db = db;
    this.clock = new TestClock(Instant.parse("2025-03-01T00:00:00Z"));
    this.repo = CatalogRepository.open(db.url(), db.user(), "", clock);
    this.vertx = Vertx.vertx();
    var opts = options.apply(AdminServer.Options.of(OPERATOR).withOnCatalogChange(changes::add));
    this.server = new AdminServer(vertx, repo, opts);
    var http = server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    this.base = "http://127.0.0.1:" + http.actualPort();
  }

  static AdminApi start(TestDatabases.Db db) throws Exception {
    return new AdminApi(db, o -> o);
  }

  static AdminApi start(TestDatabases.Db db, UnaryOperator<AdminServer.Options> options) throws Exception {
    return new AdminApi(db, options);
  }

  AdminServer server() {
    return server;
  }

  Resp call(String method, String path, String token, String body, Map<String, String> headers) throws Exception {
    var b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    b.header("Content-Type", "application/json");
    headers.forEach(b::header);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    TestSecrets.fromJson(body); // secrets it sends (upstream credentials) and keys and tokens it gets: never logged
    TestSecrets.fromJson(r.body());
    OpenApiValidator.ADMIN.assertValid(r);
    boolean isJson = r.headers().firstValue("content-type").orElse("").startsWith("application/json");
    return new Resp(r.statusCode(), isJson ? JSON.readTree(r.body()) : JSON.nullNode(), r.body(), r.headers());
  }

  /**
   * An HTTP/1.1 POST written byte by byte, for header values the JDK client cannot send as they
   * are: over HTTP/1.1 it writes a header as US-ASCII, a non-ASCII character as {@code ?}.
   * {@code extraHeader} is one header line without its CRLF, in bytes. The answer's status and
   * body (the connection closes after it).
   */
  Resp rawPost(String path, String token, String body, byte[] extraHeader) throws Exception {
    URI uri = URI.create(base);
    byte[] content = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
      socket.setSoTimeout(10_000);
      var out = new java.io.ByteArrayOutputStream();
      out.writeBytes(("POST " + path + " HTTP/1.1\r\nHost: " + uri.getHost() + ":" + uri.getPort()
          + "\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/json\r\nContent-Length: "
          + content.length + "\r\nConnection: close\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.writeBytes(extraHeader);
      out.writeBytes("\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.writeBytes(content);
      socket.getOutputStream().write(out.toByteArray());
      String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      int status = Integer.parseInt(answer.substring(9, 12));
      int bodyAt = answer.indexOf("\r\n\r\n") + 4;
      String raw = answer.substring(bodyAt);
      TestSecrets.fromJson(raw);
      return new Resp(status, raw.startsWith("{") ? JSON.readTree(raw) : JSON.nullNode(), raw, null);
    }
  }

  Resp get(String path, String token) throws Exception {
    return call("GET", path, token, null, Map.of());
  }

  Resp post(String path, String token, String body) throws Exception {
    return call("POST", path, token, body, Map.of());
  }

  Resp put(String path, String token, String body) throws Exception {
    return call("PUT", path, token, body, Map.of());
  }

  Resp patch(String path, String token, String body) throws Exception {
    return call("PATCH", path, token, body, Map.of());
  }

  /** A new merchant's {id, token} response; it has no support contact. */
  JsonNode merchant(String name) throws Exception {
    Resp r = post("/admin/v1/merchants", OPERATOR, "{\"name\":\"" + name + "\"}");
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json();
  }

  /** The support contact of {@link #seller}: what submitting a product for review needs. */
  static final String SUPPORT = "\"supportPhone\":\"+1 555 0100\",\"supportEmail\":\"support@acme.example\"";

  /** A new merchant with a support contact, ready to submit products: its {id, token, ...} response. */
  JsonNode seller(String name) throws Exception {
    Resp r = post("/admin/v1/merchants", OPERATOR, "{\"name\":\"" + name + "\"," + SUPPORT + "}");
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json();
  }

  /**
   * Takes a product through the review: submitted by its merchant, approved by the operator. The
   * product needs a SKU, and its merchant a support contact ({@link #seller}).
   */
  void list(String merchantToken, String productId) throws Exception {
    Resp submitted = post("/admin/v1/products/" + productId + "/submit", merchantToken, null);
    assertThat(submitted.status()).as(submitted.raw()).isEqualTo(200);
    Resp approved = post("/admin/v1/products/" + productId + "/approve", OPERATOR, null);
    assertThat(approved.status()).as(approved.raw()).isEqualTo(200);
    assertThat(approved.json().get("status").asText()).isEqualTo("listed");
  }

  String product(String token) throws Exception {
    return created(post("/admin/v1/products", token, PRODUCT));
  }

  String sku(String token, String productId, String body) throws Exception {
    return created(post("/admin/v1/products/" + productId + "/skus", token, body));
  }

  static String created(Resp r) {
    assertThat(r.status()).as(r.raw()).isEqualTo(201);
    return r.json().get("id").asText();
  }

  /** Asserts the error shape and returns the error object. */
  static JsonNode error(Resp r, int status) {
    assertThat(r.status()).as(r.raw()).isEqualTo(status);
    JsonNode e = r.json().path("error");
    assertThat(e.path("message").isTextual()).as(r.raw()).isTrue();
    assertThat(e.path("type").isTextual()).as(r.raw()).isTrue();
    assertThat(e.path("code").isTextual()).as(r.raw()).isTrue();
    return e;
  }

  void close() throws Exception {
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
  }
}
