package io.tollgate.gateway.proxy;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.tollgate.gateway.api.ApiError;
import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The buyer port's rendering of an {@link ApiError}: a complete Netty response, in one of two
 * shapes with the same status. OpenAI's {@code {"error":{"message","type","code"}}}, for OpenAI and
 * custom products; Anthropic's {@code {"type":"error","error":{"type","message"}}}, for Anthropic
 * products, whose error type follows from the status as Anthropic's API documents it (400
 * {@code invalid_request_error}, 401 {@code authentication_error}, 403 {@code permission_error},
 * 404 {@code not_found_error}, 413 {@code request_too_large}, 429 {@code rate_limit_error}, 503
 * and 529 {@code overloaded_error}; another 4xx {@code invalid_request_error}, another 5xx
 * {@code api_error}), so Anthropic's SDKs raise their typed errors. The error's code is not in
 * Anthropic's shape: its message says what happened.
 *
 * <p>The bodies of the constant errors (those with no detail of the call) are rendered once, in
 * both shapes.
 */
final class ErrorResponses {

  /** RFC 5842's status, which Netty has no constant for. */
  private static final HttpResponseStatus LOOP_DETECTED = HttpResponseStatus.valueOf(508, "Loop Detected");

  private static final Map<ApiError, byte[]> OPENAI_BODIES = new IdentityHashMap<>();
  private static final Map<ApiError, byte[]> ANTHROPIC_BODIES = new IdentityHashMap<>();

  static {
    for (ApiError e : List.of(ApiError.missingKey(), ApiError.invalidKey(), ApiError.quotaExhausted(),
        ApiError.requestHeadTimeout(), ApiError.loopDetected(), ApiError.upstreamOverloaded(),
        ApiError.upstreamUnavailable(), ApiError.badUpstreamResponse(), ApiError.upstreamTimeout(),
        ApiError.storeUnavailable(), ApiError.internal())) {
      OPENAI_BODIES.put(e, render(e, /* anthropic= */ false));
      ANTHROPIC_BODIES.put(e, render(e, /* anthropic= */ true));
    }
  }

  private ErrorResponses() {}

  /** The error in OpenAI's shape. */
  static FullHttpResponse response(ApiError e, ByteBufAllocator alloc) {
    return response(e, /* anthropic= */ false, alloc);
  }

  static FullHttpResponse response(ApiError e, boolean anthropic, ByteBufAllocator alloc) {
    byte[] body = (anthropic ? ANTHROPIC_BODIES : OPENAI_BODIES).get(e);
    if (body == null) {
      body = render(e, anthropic);
    }
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        e.status() == 508 ? LOOP_DETECTED : HttpResponseStatus.valueOf(e.status()),
        alloc.buffer(body.length).writeBytes(body));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    if (e == ApiError.upstreamOverloaded()) {
      r.headers().setInt(HttpHeaderNames.RETRY_AFTER, ApiError.OVERLOADED_RETRY_AFTER_SECONDS);
    }
    return r;
  }

  static byte[] render(ApiError e, boolean anthropic) {
    String message = new String(JsonStringEncoder.getInstance().quoteAsString(e.message()));
    String json = anthropic
        ? "{\"type\":\"error\",\"error\":{\"type\":\"" + anthropicType(e.status()) + "\",\"message\":\""
            + message + "\"}}"
        : "{\"error\":{\"message\":\"" + message + "\",\"type\":\"" + e.type() + "\",\"code\":\"" + e.code() + "\"}}";
    return json.getBytes(StandardCharsets.UTF_8);
  }

  /** Anthropic's error type for an HTTP status. */
  static String anthropicType(int status) {
    return switch (status) {
      case 400 -> "invalid_request_error";
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 413 -> "request_too_large";
      case 429 -> "rate_limit_error";
      case 503, 529 -> "overloaded_error";
      default -> status >= 500 ? "api_error" : "invalid_request_error";
    };
  }
}
