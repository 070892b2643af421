package io.tollgate.gateway.proxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The few top-level fields of a request body that admission and routing need, read with Jackson's
 * streaming parser: nested values are skipped, never materialised, so a large prompt costs one
 * pass over its bytes and no tree.
 *
 * @param json whether the body is a well-formed JSON object
 * @param model the top-level {@code model}, or null
 * @param stream the top-level {@code stream} is {@code true}
 * @param includeUsage {@code stream_options.include_usage} is {@code true}
 * @param streamOptions the body has a top-level {@code stream_options}, whatever its value
 */
record RequestBody(boolean json, String model, boolean stream, boolean includeUsage, boolean streamOptions) {

  static final RequestBody EMPTY = new RequestBody(false, null, false, false, false);
  private static final JsonFactory JSON = new JsonFactory();

  /** Scans {@code body} without moving its indices; a malformed body gives {@code json=false}. */
  static RequestBody scan(ByteBuf body) {
    if (!body.isReadable()) {
      return EMPTY;
    }
    try (InputStream in = new ByteBufInputStream(body.duplicate());
        JsonParser p = JSON.createParser(in)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return EMPTY;
      }
      String model = null;
      boolean stream = false;
      boolean includeUsage = false;
      boolean streamOptions = false;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "model" -> model = v == JsonToken.VALUE_STRING ? p.getText() : null;
          case "stream" -> stream = v == JsonToken.VALUE_TRUE;
          case "stream_options" -> {
            streamOptions = true;
            includeUsage = readIncludeUsage(p, v);
          }
          default -> p.skipChildren();
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        return EMPTY;
      }
      return new RequestBody(true, model, stream, includeUsage, streamOptions);
    } catch (IOException e) {
      return EMPTY;
    }
  }

  private static boolean readIncludeUsage(JsonParser p, JsonToken v) throws IOException {
    if (v != JsonToken.START_OBJECT) {
      p.skipChildren();
      return false;
    }
    boolean include = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken f = p.nextToken();
      if ("include_usage".equals(name)) {
        include = f == JsonToken.VALUE_TRUE;
      } else {
        p.skipChildren();
      }
    }
    return include;
  }
}
