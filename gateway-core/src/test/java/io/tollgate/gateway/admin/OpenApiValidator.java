package io.tollgate.gateway.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.dialect.OpenApi31;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Holds admin-port answers against the OpenAPI document ({@link OpenApiDocument}): the operation
 * is found by method and concrete path (templates such as {@code /admin/v1/products/{id}}
 * resolved, the most literal one winning), the response by status (exact, then {@code 4XX}, then
 * {@code default}), and the body is validated against that response's JSON schema, {@code $ref}s
 * to components followed.
 *
 * <p>Schemas are JSON Schema 2020-12 (the OpenAPI 3.1 dialect), checked by networknt's
 * json-schema-validator with format assertions on, so a {@code date-time} must be one. It was
 * chosen over vertx-openapi, which would also validate responses, because no vertx-openapi of the
 * Vert.x BOM's version resolves here.
 *
 * <p>An answer is invalid when its body does not match, its status or content type is not
 * documented for the operation, a required response header is missing, or a successful answer
 * was given to a query parameter the operation does not document. A path the document does not
 * have may only answer 404 (and a documented path asked with another method only 405), in the
 * error shape, or what the authentication and body handlers answer before routing: 401, 413, 429.
 *
 * <p>Thread-safe: each response schema is built once and shared.
 */
public final class OpenApiValidator {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BASE = "urn:tollgate:openapi";
  private static final String ERROR_SCHEMA = "#/components/schemas/Error";
  /** What the router answers for a path or method no route has, and the handlers before it. */
  private static final Set<Integer> UNROUTED_PATH = Set.of(401, 404, 413, 429);
  private static final Set<Integer> UNROUTED_METHOD = Set.of(401, 405, 413, 429);

  /** The validator of the document the admin port serves (declared after the constants it uses). */
  public static final OpenApiValidator ADMIN = new OpenApiValidator(
      new String(OpenApiDocument.get().bytes(), StandardCharsets.UTF_8));

  private record PathTemplate(String template, Pattern pattern, int literalSegments, JsonNode item) {}

  /** A node of the document and the JSON pointer to it. */
  private record Located(JsonNode node, String pointer) {}

  private final JsonNode document;
  private final SchemaRegistry registry;
  private final List<PathTemplate> paths = new ArrayList<>();
  private final Map<String, Schema> schemas = new ConcurrentHashMap<>();

  /** A validator of the given OpenAPI 3.1 document (JSON). */
  public OpenApiValidator(String documentJson) {
    try {
      this.document = JSON.readTree(documentJson);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.registry = SchemaRegistry.withDialect(OpenApi31.getInstance(), b -> b
        .schemas(Map.of(BASE, documentJson))
        .schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));
    for (Map.Entry<String, JsonNode> p : document.path("paths").properties()) {
      StringBuilder regex = new StringBuilder();
      int literal = 0;
      for (String segment : p.getKey().substring(1).split("/", -1)) {
        regex.append('/');
        if (segment.matches("\\{[^}/]+}")) {
          regex.append("[^/]+");
        } else {
          regex.append(Pattern.quote(segment));
          literal++;
        }
      }
      paths.add(new PathTemplate(p.getKey(), Pattern.compile(regex.toString()), literal, p.getValue()));
    }
  }

  /** Fails (AssertionError) unless the answer {@code r} is documented and valid. */
  public void assertValid(HttpResponse<String> r) {
    var headers = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
    r.headers().map().forEach((k, v) -> headers.put(k, v.isEmpty() ? "" : v.get(0)));
    String query = r.uri().getRawQuery();
    assertValid(r.request().method(), r.uri().getRawPath() + (query == null ? "" : "?" + query), r.statusCode(),
        headers, r.body());
  }

  /**
   * Fails (AssertionError) unless the answer is documented and valid.
   *
   * @param pathAndQuery the request's path, with its query if any
   * @param headers the answer's headers, one value each; names in any case
   */
  public void assertValid(String method, String pathAndQuery, int status, Map<String, String> headers, String body) {
    List<String> problems = problems(method, pathAndQuery, status, headers, body);
    if (!problems.isEmpty()) {
      throw new AssertionError("the answer " + status + " to " + method + " " + pathAndQuery
          + " does not match the OpenAPI document:\n  " + String.join("\n  ", problems) + "\nbody: " + body);
    }
  }

  /** What is wrong with the answer by the document; empty when nothing is. */
  public List<String> problems(String method, String pathAndQuery, int status, Map<String, String> headers,
      String body) {
    var ci = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
    ci.putAll(headers);
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    String query = q < 0 ? "" : pathAndQuery.substring(q + 1);
    List<String> problems = new ArrayList<>();

    PathTemplate template = paths.stream()
        .filter(t -> t.pattern().matcher(path).matches())
        .max(Comparator.comparingInt(PathTemplate::literalSegments))
        .orElse(null);
    if (template == null) {
      if (!UNROUTED_PATH.contains(status)) {
        problems.add("the path " + path + " is not documented (it may only answer " + UNROUTED_PATH + ")");
      } else {
        checkJson(ci, body, ERROR_SCHEMA, problems);
      }
      return problems;
    }
    String where = method + " " + template.template();
    JsonNode operation = template.item().get(method.toLowerCase(Locale.ROOT));
    if (operation == null) {
      if (!UNROUTED_METHOD.contains(status)) {
        problems.add(method + " is not documented for " + template.template() + " (it may only answer "
            + UNROUTED_METHOD + ")");
      } else {
        checkJson(ci, body, ERROR_SCHEMA, problems);
      }
      return problems;
    }
    String operationPointer = "#/paths/" + escape(template.template()) + "/" + method.toLowerCase(Locale.ROOT);

    if (status >= 200 && status < 300 && !query.isEmpty()) {
      Set<String> documented = queryParameters(template.item(), operation);
      for (String pair : query.split("&")) {
        String name = pair.contains("=") ? pair.substring(0, pair.indexOf('=')) : pair;
        if (!name.isEmpty() && !documented.contains(name)) {
          problems.add(where + " succeeded with the query parameter " + name + ", which it does not document");
        }
      }
    }

    JsonNode responses = operation.path("responses");
    String key = responses.has(Integer.toString(status)) ? Integer.toString(status)
        : responses.has(status / 100 + "XX") ? status / 100 + "XX"
        : responses.has("default") ? "default" : null;
    if (key == null) {
      var documented = new ArrayList<String>();
      responses.fieldNames().forEachRemaining(documented::add);
      problems.add("the status " + status + " is not documented for " + where + " (documented: " + documented + ")");
      return problems;
    }
    Located response = resolve(new Located(responses.get(key), operationPointer + "/responses/" + key));

    for (Map.Entry<String, JsonNode> h : response.node().path("headers").properties()) {
      JsonNode header = resolve(new Located(h.getValue(), "")).node();
      String value = ci.get(h.getKey());
      if (value == null) {
        if (header.path("required").asBoolean(false)) {
          problems.add("the header " + h.getKey() + " is required on " + status + " of " + where);
        }
        continue;
      }
      JsonNode schema = header.path("schema");
      if (schema.has("const") && !schema.get("const").asText().equals(value)) {
        problems.add("the header " + h.getKey() + " must be " + schema.get("const").asText() + ", not " + value);
      }
      if ("integer".equals(schema.path("type").asText()) && !value.matches("-?\\d{1,18}")) {
        problems.add("the header " + h.getKey() + " must be an integer, not " + value);
      }
    }

    JsonNode content = response.node().get("content");
    if (content == null || content.isEmpty()) {
      if (body != null && !body.isEmpty()) {
        problems.add(status + " of " + where + " is documented without a body, but has one");
      }
      return problems;
    }
    String contentType = ci.getOrDefault("content-type", "");
    String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    if (!content.has(mediaType)) {
      var documented = new ArrayList<String>();
      content.fieldNames().forEachRemaining(documented::add);
      problems.add("the content type \"" + contentType + "\" is not documented for " + status + " of " + where
          + " (documented: " + documented + ")");
      return problems;
    }
    if (isJson(mediaType) && content.get(mediaType).has("schema")) {
      checkJson(ci, body, response.pointer() + "/content/" + escape(mediaType) + "/schema", problems);
    }
    return problems;
  }

  /** Validates a JSON body against the schema at {@code pointer} ({@code #/...}). */
  private void checkJson(Map<String, String> headers, String body, String pointer, List<String> problems) {
    String type = headers.getOrDefault("content-type", "");
    if (!isJson(type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT))) {
      problems.add("the content type must be application/json, not \"" + type + "\"");
      return;
    }
    JsonNode parsed;
    try {
      parsed = body == null ? null : JSON.readTree(body);
    } catch (IOException e) {
      parsed = null;
    }
    if (parsed == null || parsed.isMissingNode()) {
      problems.add("the body is not JSON");
      return;
    }
    Schema schema = schemas.computeIfAbsent(pointer, p -> {
      Schema s = registry.getSchema(SchemaLocation.of(BASE + uriFragment(p)));
      s.initializeValidators();
      return s;
    });
    for (var e : schema.validate(body, InputFormat.JSON)) {
      problems.add("schema " + pointer + ": " + e);
    }
  }

  /** The names of the query parameters an operation documents, its path item's included. */
  private Set<String> queryParameters(JsonNode item, JsonNode operation) {
    var names = new HashSet<String>();
    for (JsonNode list : List.of(item.path("parameters"), operation.path("parameters"))) {
      for (JsonNode p : list) {
        JsonNode parameter = resolve(new Located(p, "")).node();
        if ("query".equals(parameter.path("in").asText())) {
          names.add(parameter.path("name").asText());
        }
      }
    }
    return names;
  }

  /** Follows {@code $ref}s within the document. */
  private Located resolve(Located at) {
    Located l = at;
    for (int hops = 0; l.node().has("$ref"); hops++) {
      String ref = l.node().get("$ref").asText();
      if (!ref.startsWith("#/") || hops > 16) {
        throw new IllegalArgumentException("cannot follow $ref " + ref + " at " + l.pointer());
      }
      JsonNode target = document.at(ref.substring(1));
      if (target.isMissingNode()) {
        throw new IllegalArgumentException("$ref " + ref + " names nothing (at " + l.pointer() + ")");
      }
      l = new Located(target, ref);
    }
    return l;
  }

  private static boolean isJson(String mediaType) {
    return mediaType.equals("application/json") || mediaType.endsWith("+json");
  }

  /** A JSON pointer segment (RFC 6901): {@code ~} and {@code /} escaped. */
  private static String escape(String segment) {
    return segment.replace("~", "~0").replace("/", "~1");
  }

  /** A {@code #/...} pointer as a URI fragment: characters a fragment may not hold, percent-encoded. */
  private static String uriFragment(String pointer) {
    var out = new StringBuilder();
    for (byte b : pointer.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if (Character.isLetterOrDigit(c) && c < 0x80 || "#/~-._!$&'()*+,;=:@".indexOf(c) >= 0) {
        out.append((char) c);
      } else {
        out.append('%').append(String.format(Locale.ROOT, "%02X", c));
      }
    }
    return out.toString();
  }
}
