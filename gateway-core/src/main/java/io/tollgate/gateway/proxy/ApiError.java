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
import java.nio.charset.StandardCharsets;

/**
 * An error the buyer port answers itself, in the OpenAI error shape {@code
 * {"error":{"message","type","code"}}} that both official SDKs surface as a typed exception.
 */
record ApiError(int status, String type, String code, String message) {

  /** RFC 5842's status, which Netty has no constant for. */
  private static final HttpResponseStatus LOOP_DETECTED = HttpResponseStatus.valueOf(508, "Loop Detected");

  static ApiError missingKey() {
    return new ApiError(401, "invalid_request_error", "missing_api_key",
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");
  }

  static ApiError invalidKey() {
    return new ApiError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
  }

  static ApiError subscriptionInactive(String status) {
    String s = status.toLowerCase(java.util.Locale.ROOT);
    return new ApiError(403, "permission_error", "subscription_" + s,
        "This API key's subscription is " + s + ".");
  }

  static ApiError notFound(String path) {
    return new ApiError(404, "invalid_request_error", "unknown_url", "Unknown request URL: " + path + ".");
  }

  static ApiError methodNotAllowed(String method, String path) {
    return new ApiError(405, "invalid_request_error", "method_not_allowed",
        "Method " + method + " is not allowed on " + path + ".");
  }

  static ApiError modelNotFound(String model) {
    return new ApiError(404, "invalid_request_error", "model_not_found",
        "The model '" + model + "' does not exist or your subscription does not include it.");
  }

  static ApiError badRequest(String code, String message) {
    return new ApiError(400, "invalid_request_error", code, message);
  }

  /** The request head did not arrive whole within {@code server.requestHeaderTimeout}. */
  static ApiError requestHeadTimeout() {
    return new ApiError(408, "invalid_request_error", "request_timeout",
        "The request head did not arrive in time; the connection is closed.");
  }

  static ApiError tooLarge(long limit) {
    return new ApiError(413, "invalid_request_error", "request_too_large",
        "Request body exceeds the limit of " + limit + " bytes.");
  }

  static ApiError rateLimited(String limit, long retryAfterSeconds) {
    return new ApiError(429, "rate_limit_exceeded", "rate_limit_exceeded",
        "Rate limit reached for this subscription (" + limit + "). Try again in " + retryAfterSeconds + "s.");
  }

  static ApiError quotaExhausted() {
    return new ApiError(429, "insufficient_quota", "insufficient_quota",
        "You exceeded your current quota: this subscription's package is used up for the period.");
  }

  /*
   * The two 502s say what happened in words a buyer can act on, never why in the merchant's terms:
   * an address, a port or an exception's text would tell a buyer where the merchant's endpoint is
   * and how it fails. The cause goes to the gateway's log with the request id.
   */
  private static final ApiError UPSTREAM_UNAVAILABLE = new ApiError(502, "upstream_error", "upstream_unavailable",
      "The upstream endpoint could not be reached. Nothing was billed; retry later.");
  private static final ApiError BAD_UPSTREAM_RESPONSE = new ApiError(502, "upstream_error", "bad_upstream_response",
      "The upstream endpoint sent an invalid or incomplete response. Nothing was billed.");

  private static final ApiError UPSTREAM_OVERLOADED = new ApiError(503, "upstream_error", "upstream_overloaded",
      "Too many calls to this endpoint are in flight at the gateway, so this call was not forwarded and nothing"
          + " was billed. Retry shortly.");
  /** Seconds a buyer is asked to wait after {@link #upstreamOverloaded()}: a queued call waits at most a connect timeout. */
  static final int OVERLOADED_RETRY_AFTER_SECONDS = 1;

  /**
   * The endpoint's connection cap was reached and the call could not wait for a connection
   * (upstream.maxConnectionsPerEndpoint / maxPendingPerEndpoint). Sent with {@code Retry-After}.
   */
  static ApiError upstreamOverloaded() {
    return UPSTREAM_OVERLOADED;
  }

  /** No connection to the upstream endpoint could be made (refused, unreachable, TLS failed). */
  static ApiError upstreamUnavailable() {
    return UPSTREAM_UNAVAILABLE;
  }

  /**
   * The upstream's answer could not be read as HTTP/1.1 (conflicting or malformed framing, a head
   * cut short) or the connection closed before any answer.
   */
  static ApiError badUpstreamResponse() {
    return BAD_UPSTREAM_RESPONSE;
  }

  /** The request carries this gateway's own {@code Via}: it went round in a loop. */
  static ApiError loopDetected() {
    return new ApiError(508, "invalid_request_error", "loop_detected",
        "This request has already passed through this gateway, so it was not forwarded again:"
            + " the product's endpoint leads back to the gateway.");
  }

  static ApiError upstreamTimeout() {
    return new ApiError(504, "upstream_error", "upstream_timeout", "The upstream endpoint did not answer in time.");
  }

  /** The catalog or a quota store did not answer: the call was not forwarded and nothing was billed. */
  static ApiError storeUnavailable() {
    return new ApiError(503, "server_error", "store_unavailable",
        "The gateway cannot reach its store right now, so this call was not forwarded and nothing was billed. "
            + "Retry shortly.");
  }

  /**
   * The gateway itself failed to forward the call (e.g. an endpoint header stored before
   * registration validated it that no request may carry): nothing reached the upstream, nothing
   * was billed. The cause goes to the log, never to the buyer.
   */
  static ApiError internal() {
    return new ApiError(500, "server_error", "internal_error",
        "The gateway could not forward this call to the upstream endpoint; nothing was billed.");
  }

  ByteBuf body(ByteBufAllocator alloc) {
    JsonStringEncoder enc = JsonStringEncoder.getInstance();
    String json = "{\"error\":{\"message\":\"" + new String(enc.quoteAsString(message)) + "\",\"type\":\""
        + type + "\",\"code\":\"" + code + "\"}}";
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    return alloc.buffer(bytes.length).writeBytes(bytes);
  }

  FullHttpResponse response(ByteBufAllocator alloc) {
    FullHttpResponse r = new DefaultFullHttpResponse(
        HttpVersion.HTTP_1_1, status == 508 ? LOOP_DETECTED : HttpResponseStatus.valueOf(status), body(alloc));
    r.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    if (this == UPSTREAM_OVERLOADED) {
      r.headers().setInt(HttpHeaderNames.RETRY_AFTER, OVERLOADED_RETRY_AFTER_SECONDS);
    }
    return r;
  }
}
