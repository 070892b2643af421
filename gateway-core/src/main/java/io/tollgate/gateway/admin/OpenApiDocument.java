package io.tollgate.gateway.admin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The admin port's OpenAPI 3.1 document ({@value #RESOURCE} on the class path, written by hand),
 * served at {@value #PATH} without a token.
 *
 * <p>The resource is read and parsed once per class loader ({@link #get()}); every request is
 * answered from the same bytes. {@link #operations()} lists what the document promises, so a
 * test can hold it against the router.
 */
public final class OpenApiDocument {

  /** Where the document is served. */
  public static final String PATH = "/admin/v1/openapi.json";
  /** The class-path resource holding the document. */
  public static final String RESOURCE = "openapi/admin.json";

  private static final Set<String> METHODS =
      Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace");

  /**
   * One operation of the document.
   *
   * @param method upper case, such as {@code GET}
   * @param pathTemplate as the document writes it, such as {@code /admin/v1/products/{id}}
   */
  public record Operation(String method, String pathTemplate) {

    /** The path as a Vert.x route writes it: {@code /admin/v1/products/:id}. */
    public String routePath() {
      return pathTemplate.replaceAll("\\{([^}/]+)}", ":$1");
    }
  }

  private static final class Holder {
    static final OpenApiDocument INSTANCE = load();
  }

  private final byte[] json;
  private final Set<Operation> operations;

  private OpenApiDocument(byte[] json, Set<Operation> operations) {
    this.json = json;
    this.operations = operations;
  }

  /** The document, read from the class path on first use. */
  public static OpenApiDocument get() {
    return Holder.INSTANCE;
  }

  private static OpenApiDocument load() {
    byte[] bytes;
    try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the OpenAPI document " + RESOURCE + " is not on the class path");
      }
      bytes = in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
    JsonNode root;
    try {
      root = JsonInput.JSON.readTree(bytes);
    } catch (IOException e) {
      throw new IllegalStateException(RESOURCE + " is not JSON: " + e.getMessage(), e);
    }
    var operations = new LinkedHashSet<Operation>();
    for (Map.Entry<String, JsonNode> path : root.path("paths").properties()) {
      for (Map.Entry<String, JsonNode> item : path.getValue().properties()) {
        if (METHODS.contains(item.getKey())) {
          operations.add(new Operation(item.getKey().toUpperCase(Locale.ROOT), path.getKey()));
        }
      }
    }
    return new OpenApiDocument(bytes, Set.copyOf(operations));
  }

  /**
   * Serves the document at {@value #PATH}: {@code GET}, no token, {@code application/json}. The
   * route is ordered before the routes added so far, so it precedes the {@code /admin/v1/*}
   * authentication handler whether it is mounted before or after it.
   */
  public void mount(Router router) {
    router.get(PATH).order(-1).handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(Buffer.buffer(json)));
  }

  /** Every (method, path template) pair the document describes. */
  public Set<Operation> operations() {
    return operations;
  }

  /** The document's bytes, as served. */
  public byte[] bytes() {
    return json.clone();
  }
}
