package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * The admin port's OpenAPI document: a valid OpenAPI 3.1 document (swagger-parser, and every
 * schema a valid JSON Schema 2020-12), internally consistent, and served without a token.
 */
class OpenApiDocumentTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace");
  static final String PENDING = "x-tollgate-pending";

  static String text() {
    return new String(OpenApiDocument.get().bytes(), StandardCharsets.UTF_8);
  }

  static JsonNode tree() throws Exception {
    return JSON.readTree(text());
  }

  static SwaggerParseResult parse(String json) {
    var options = new ParseOptions();
    options.setResolve(true);
    return new OpenAPIV3Parser().readContents(json, null, options);
  }

  /** Every operation: (path, method, operation node). */
  static void forEachOperation(JsonNode doc, TriConsumer each) {
    for (Map.Entry<String, JsonNode> path : doc.path("paths").properties()) {
      for (Map.Entry<String, JsonNode> item : path.getValue().properties()) {
        if (METHODS.contains(item.getKey())) {
          each.accept(path.getKey(), item.getKey(), item.getValue());
        }
      }
    }
  }

  @FunctionalInterface
  interface TriConsumer {
    void accept(String path, String method, JsonNode operation);
  }

  /** Every node of the tree with its JSON pointer. */
  static void walk(JsonNode node, String pointer, BiConsumer<String, JsonNode> each) {
    each.accept(pointer, node);
    if (node.isObject()) {
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        walk(e.getValue(), pointer + "/" + e.getKey().replace("~", "~0").replace("/", "~1"), each);
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        walk(node.get(i), pointer + "/" + i, each);
      }
    }
  }

  // ---------------------------------------------------------------- validity

  @Test
  void theDocument_isAValidOpenApi31Document() throws Exception {
    SwaggerParseResult result = parse(text());

    assertThat(result.getMessages()).as("swagger-parser's findings").isEmpty();
    assertThat(result.getOpenAPI().getOpenapi()).startsWith("3.1.");
    assertThat(result.getOpenAPI().getPaths()).hasSize(tree().path("paths").size());
  }

  /** The check above can fail: the parser finds what is wrong in a broken copy. */
  @Test
  void aBrokenCopy_isRefusedByTheSameCheck() throws Exception {
    ObjectNode noResponses = (ObjectNode) tree();
    ((ObjectNode) noResponses.at("/paths/~1admin~1v1~1products/get")).remove("responses");
    ObjectNode danglingRef = (ObjectNode) tree();
    ((ObjectNode) danglingRef.at("/paths/~1admin~1v1~1products~1{id}/get/responses/200/content/application~1json/schema"))
        .put("$ref", "#/components/schemas/NoSuchSchema");
    ObjectNode undeclaredParameter = (ObjectNode) tree();
    ((ObjectNode) undeclaredParameter.at("/paths/~1admin~1v1~1skus~1{id}")).remove("parameters");
    ObjectNode duplicateId = (ObjectNode) tree();
    ((ObjectNode) duplicateId.at("/paths/~1admin~1v1~1skus~1{id}/put")).put("operationId", "getSku");

    for (ObjectNode broken : List.of(noResponses, danglingRef, undeclaredParameter, duplicateId)) {
      assertThat(parse(broken.toString()).getMessages()).as("a broken document is reported").isNotEmpty();
    }
  }

  @Test
  void everySchema_isAValidJsonSchema202012() throws Exception {
    Schema metaSchema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
        .getSchema(SchemaLocation.of("https://json-schema.org/draft/2020-12/schema"));
    var problems = new ArrayList<String>();
    var schemas = new ArrayList<String>();
    walk(tree(), "", (pointer, node) -> {
      if (pointer.endsWith("/schema") || pointer.matches("/components/schemas/[^/]+")) {
        schemas.add(pointer);
        metaSchema.validate(node.toString(), InputFormat.JSON).forEach(e -> problems.add(pointer + ": " + e));
      }
    });

    assertThat(schemas).as("schemas found").hasSizeGreaterThan(50);
    assertThat(problems).isEmpty();
    assertThat(metaSchema.validate("{\"type\":\"strng\"}", InputFormat.JSON)).as("the meta-schema bites").isNotEmpty();
  }

  @Test
  void everyRef_namesSomethingInTheDocument() throws Exception {
    JsonNode doc = tree();
    var dangling = new ArrayList<String>();
    var refs = new ArrayList<String>();
    walk(doc, "", (pointer, node) -> {
      if (node.isObject() && node.has("$ref")) {
        String ref = node.get("$ref").asText();
        refs.add(ref);
        if (!ref.startsWith("#/") || doc.at(ref.substring(1)).isMissingNode()) {
          dangling.add(pointer + " -> " + ref);
        }
      }
    });

    assertThat(refs).hasSizeGreaterThan(100);
    assertThat(dangling).isEmpty();
  }

  // ---------------------------------------------------------------- what every operation promises

  @Test
  void everyOperation_hasAUniqueOperationId() throws Exception {
    var ids = new ArrayList<String>();
    forEachOperation(tree(), (path, method, op) -> ids.add(op.path("operationId").asText("")));

    assertThat(ids).doesNotContain("").doesNotHaveDuplicates();
  }

  @Test
  void adminAndBillingOperations_needTheBearerToken_andAnswerTheAuthenticationErrorsInTheErrorShape()
      throws Exception {
    JsonNode doc = tree();
    assertThat(doc.at("/components/securitySchemes/bearer/scheme").asText()).isEqualTo("bearer");
    assertThat(doc.at("/security/0/bearer").isArray()).as("the bearer token is the default").isTrue();
    var problems = new ArrayList<String>();
    forEachOperation(doc, (path, method, op) -> {
      String where = method + " " + path;
      boolean open = path.equals(OpenApiDocument.PATH) || !(path.startsWith("/admin/v1/") || path.startsWith("/billing/v1/"));
      if (open) {
        if (!op.path("security").isArray() || !op.path("security").isEmpty()) {
          problems.add(where + " needs no token, so it must say security: []");
        }
        return;
      }
      if (op.has("security")) {
        problems.add(where + " must not override the bearer token");
      }
      for (String status : List.of("401", "429", "500", "503")) {
        if (!op.path("responses").has(status)) {
          problems.add(where + " does not document " + status);
        }
      }
      for (Map.Entry<String, JsonNode> r : op.path("responses").properties()) {
        if (r.getKey().startsWith("4") || r.getKey().startsWith("5")) {
          String ref = r.getValue().path("$ref").asText();
          JsonNode response = ref.isEmpty() ? r.getValue() : doc.at(ref.substring(1));
          String schema = response.at("/content/application~1json/schema/$ref").asText();
          if (!schema.equals("#/components/schemas/Error")) {
            problems.add(where + " " + r.getKey() + " is not in the error shape");
          }
        }
      }
      boolean hasBody = op.has("requestBody") || method.equals("post") || method.equals("put") || method.equals("patch");
      if (hasBody && !op.path("responses").has("413")) {
        problems.add(where + " takes a body but does not document 413");
      }
      if (path.contains("{") && !op.path("responses").has("404")) {
        problems.add(where + " names an object but does not document 404");
      }
    });

    assertThat(problems).isEmpty();
  }

  /** Nothing is specified ahead of the code any more: every operation and field is served. */
  @Test
  void nothingIsMarkedPending() throws Exception {
    var pending = new ArrayList<String>();
    walk(tree(), "", (pointer, node) -> {
      if (node.isObject() && node.has(PENDING)) {
        pending.add(pointer);
      }
    });
    assertThat(pending).isEmpty();
  }

  // ---------------------------------------------------------------- OpenApiDocument

  @Test
  void operations_areEveryMethodAndPathOfTheDocument() throws Exception {
    var expected = new HashSet<OpenApiDocument.Operation>();
    forEachOperation(tree(), (path, method, op) ->
        expected.add(new OpenApiDocument.Operation(method.toUpperCase(Locale.ROOT), path)));

    Set<OpenApiDocument.Operation> operations = OpenApiDocument.get().operations();

    assertThat(operations).isEqualTo(expected)
        .contains(new OpenApiDocument.Operation("POST", "/admin/v1/subscriptions/{id}/renew"),
            new OpenApiDocument.Operation("GET", "/billing/v1/records"),
            new OpenApiDocument.Operation("GET", OpenApiDocument.PATH));
    assertThat(new OpenApiDocument.Operation("GET", "/admin/v1/products/{id}/skus").routePath())
        .isEqualTo("/admin/v1/products/:id/skus");
    assertThat(OpenApiDocument.get()).as("loaded once").isSameAs(OpenApiDocument.get());
  }

  /** What a test does with a port serving the document behind the admin server's authentication. */
  @FunctionalInterface
  interface OnPort {
    void run(int port) throws Exception;
  }

  /**
   * Runs {@code test} against an admin server on H2 with the document mounted, after the
   * constructor's /admin/v1/* authentication handler; closes everything after.
   */
  static void withDocumentServed(OnPort test) throws Exception {
    Vertx vertx = Vertx.vertx();
    TestDatabases.Db db = TestDatabases.h2();
    CatalogRepository repo = CatalogRepository.open(db.url(), db.user(), "", new TestClock(Instant.parse("2025-03-01T00:00:00Z")));
    AdminServer server = new AdminServer(vertx, repo, AdminServer.Options.of("operator-token-for-openapi-tests-01"));
    OpenApiDocument.get().mount(server.router());
    try {
      test.run(server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS)
          .actualPort());
    } finally {
      server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      repo.close();
      db.drop();
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void mount_servesTheDocumentWithoutAToken_evenAfterTheAuthenticationHandler() throws Exception {
    withDocumentServed(port -> {
      // HTTP/1.1, as curl and the SDKs call the admin port (which now answers an h2c upgrade in
      // HTTP/1.1 too: see h2cUpgrade_isAnsweredInHttp11_andEveryDocumentArrivesWhole).
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + OpenApiDocument.PATH))
          .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      HttpResponse<String> products = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/admin/v1/products"))
          .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());

      assertThat(r.statusCode()).as("the document needs no token").isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
      assertThat(r.body()).isEqualTo(OpenApiDocument.get().bytes());
      OpenApiValidator.ADMIN.assertValid("GET", OpenApiDocument.PATH, 200,
          Map.of("content-type", "application/json"), new String(r.body(), StandardCharsets.UTF_8));
      assertThat(products.statusCode()).as("every other admin route still needs one").isEqualTo(401);
    });
  }

  /**
   * The JDK client offers an h2c upgrade on each new connection; the admin port answers in
   * HTTP/1.1. When it accepted the upgrade, about one large answer in 75 reached the client out of
   * frame ("Frame type(32) length(7103603) exceeds MAX_FRAME_SIZE"): 4 of 300 fresh clients here.
   */
  @Test
  void h2cUpgrade_isAnsweredInHttp11_andEveryDocumentArrivesWhole() throws Exception {
    withDocumentServed(port -> {
      for (int i = 0; i < 150; i++) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build(); // HTTP/2 preferred
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + OpenApiDocument.PATH))
            .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.version()).as("request %d", i).isEqualTo(HttpClient.Version.HTTP_1_1);
        assertThat(r.body()).as("request %d", i).isEqualTo(OpenApiDocument.get().bytes());
      }
    });
  }
}
