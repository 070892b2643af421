package io.tollgate.gateway.proxy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The oracle of RequestBodyTest: {@link RequestBody#scan} as it was before {@link RequestBodyScanner},
 * a Jackson streaming parser made per body (default {@code JsonFactory}), kept as it was but for
 * one fix both now share: a {@code model}, {@code stream} or {@code include_usage} holding an
 * object or array is skipped (the old loop read on inside it as if it were the parent).
 */
final class JacksonRequestBody {

  private static final JsonFactory JSON = new JsonFactory();

  private JacksonRequestBody() {}

  static RequestBody scan(ByteBuf body) {
    if (!body.isReadable()) {
      return RequestBody.EMPTY;
    }
    try (InputStream in = new ByteBufInputStream(body.duplicate());
        JsonParser p = JSON.createParser(in)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return RequestBody.EMPTY;
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
        return RequestBody.EMPTY;
      }
      return new RequestBody(true, model, stream, includeUsage, streamOptions);
    } catch (IOException e) {
      return RequestBody.EMPTY;
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
