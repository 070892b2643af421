package io.tollgate.gateway.proxy;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.tollgate.gateway.api.ApiError;
import java.nio.charset.StandardCharsets;

/** The buyer port's rendering of an {@link ApiError}: a complete Netty response. */
final class ErrorResponses {

  /** RFC 5842's status, which Netty has no constant for. */
  private static final HttpResponseStatus LOOP_DETECTED = HttpResponseStatus.valueOf(508, "Loop Detected");

  private ErrorResponses() {}

  static ByteBuf body(ApiError e, ByteBufAllocator alloc) {
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    String json = "{\"error\":{\"message\":\"" + new String(enc.quoteAsString(e.message())) + "\",\"type\":\""
        + e.type() + "\",\"code\":\"" + e.code() + "\"}}";
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    return alloc.buffer(bytes.length).writeBytes(bytes);
  }

  static FullHttpResponse response(ApiError e, ByteBufAllocator alloc) {
    FullHttpResponse r = new DefaultFullHttpResponse(
        HttpVersion.HTTP_1_1, e.status() == 508 ? LOOP_DETECTED : HttpResponseStatus.valueOf(e.status()), body(e, alloc));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    if (e == ApiError.upstreamOverloaded()) {
      r.headers().setInt(HttpHeaderNames.RETRY_AFTER, ApiError.OVERLOADED_RETRY_AFTER_SECONDS);
    }
    return r;
  }
}
