package io.tollgate.gateway.proxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The few top-level fields of a request body that admission and routing need, read in one pass
 * over its bytes by {@link RequestBodyScanner}: nested values are validated and skipped, never
 * materialised, and a call allocates at most its {@code model} string and this record (neither
 * for a body without a model, nor for one with the same model and flags as the thread's last: the
 * model string comes from {@link HeadStrings} and the record is reused). The bytes that Jackson takes for UTF-16 or UTF-32 (a zero
 * or a UTF-16 byte order mark in the first two) still go through Jackson's streaming parser, as
 * every body did before: such a body is never UTF-8 JSON, and RFC 8259 has JSON between systems
 * in UTF-8, so SDKs do not send it, but the gateway answers it as it always has.
 *
 * @param json whether the body is a well-formed JSON object
 * @param model the top-level {@code model}, or null
 * @param stream the top-level {@code stream} is {@code true}
 * @param includeUsage {@code stream_options.include_usage} is {@code true}
 * @param streamOptions the body has a top-level {@code stream_options}, whatever its value
 */
record RequestBody(boolean json, String model, boolean stream, boolean includeUsage, boolean streamOptions) {

  static final RequestBody EMPTY = new RequestBody(false, null, false, false, false);
  /** The bodies without a model, indexed by {@link #flags}: shared, as nothing else varies. */
  private static final RequestBody[] WITHOUT_MODEL = new RequestBody[8];

  static {
    for (int f = 0; f < WITHOUT_MODEL.length; f++) {
      WITHOUT_MODEL[f] = new RequestBody(true, null, (f & 4) != 0, (f & 2) != 0, (f & 1) != 0);
    }
  }

  private static final JsonFactory JSON = new JsonFactory();

  /** Scans {@code body} without moving its indices; a malformed body gives {@code json=false}. */
  static RequestBody scan(ByteBuf body) {
    int n = body.readableBytes();
    if (n == 0) {
      return EMPTY;
    }
    int first = body.getUnsignedByte(body.readerIndex());
    if (first == 0 || first == 0xFE || first == 0xFF || n > 1 && body.getByte(body.readerIndex() + 1) == 0) {
      return withJackson(body);
    }
    return RequestBodyScanner.get().scan(body);
  }

  /** A well-formed body's fields: a shared instance when it has no model. */
  static RequestBody of(String model, boolean stream, boolean includeUsage, boolean streamOptions) {
    if (model == null) {
      return WITHOUT_MODEL[flags(stream, includeUsage, streamOptions)];
    }
    return new RequestBody(true, model, stream, includeUsage, streamOptions);
  }

  private static int flags(boolean stream, boolean includeUsage, boolean streamOptions) {
    return (stream ? 4 : 0) | (includeUsage ? 2 : 0) | (streamOptions ? 1 : 0);
  }

  /**
   * The same fields read with Jackson's streaming parser (a parser per call): how a body in the
   * encodings Jackson detects besides UTF-8 is read, and the reference {@link RequestBodyScanner}
   * is tested against on every body. A {@code model}, {@code stream} or {@code include_usage}
   * holding an object or array is read past.
   */
  static RequestBody withJackson(ByteBuf body) {
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
          case "model" -> {
            model = v == JsonToken.VALUE_STRING ? p.getText() : null;
            p.skipChildren();
          }
          case "stream" -> {
            stream = v == JsonToken.VALUE_TRUE;
            p.skipChildren();
          }
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
      return of(model, stream, includeUsage, streamOptions);
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
      }
      p.skipChildren();
    }
    return include;
  }
}
