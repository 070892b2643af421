package io.tollgate.gateway.api;

/**
 * An error tollgate answers itself, on either port, in the OpenAI error shape {@code
 * {"error":{"message","type","code"}}} that both official SDKs surface as a typed exception: the
 * buyer port renders it with Netty ({@code proxy.ErrorResponses}), the admin port with Jackson
 * ({@code admin.AdminHttp}). One type, so the same refusal (a wrong key, say) has the same status,
 * type and code wherever it happens. Messages name the offending field and never carry a secret.
 *
 * <p>Thrown by admin routes (no stack trace is filled: it is an answer, not a bug), passed as a
 * value on the buyer port. Immutable (no stack trace, no suppression, no cause to set), so an
 * error with nothing of the call in it is one shared instance, whose bodies the buyer port renders
 * once.
 */
public final class ApiError extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String type;
  private final String code;

  public ApiError(int status, String type, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }

  public String code() {
    return code;
  }

  public String message() {
    return getMessage();
  }

  // ---------------------------------------------------------------- admin port

  public static ApiError invalid(String message) {
    return new ApiError(400, "invalid_request_error", "invalid_value", message);
  }

  public static ApiError malformedJson(String message) {
    return new ApiError(400, "invalid_request_error", "invalid_json", message);
  }

  /** A missing or wrong admin token: the same type and code as a wrong buyer key, as OpenAI answers a wrong key. */
  public static ApiError unauthorized(String message) {
    return new ApiError(401, "invalid_request_error", "invalid_api_key", message);
  }

  public static ApiError forbidden(String message) {
    return new ApiError(403, "permission_error", "forbidden", message);
  }

  public static ApiError notFound(String message) {
    return new ApiError(404, "invalid_request_error", "not_found", message);
  }

  public static ApiError conflict(String message) {
    return new ApiError(409, "invalid_request_error", "conflict", message);
  }

  // ---------------------------------------------------------------- buyer port

  public static ApiError missingKey() {
    return MISSING_KEY;
  }

  private static final ApiError MISSING_KEY = new ApiError(401, "invalid_request_error", "missing_api_key",
      "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");

  public static ApiError invalidKey() {
    return INVALID_KEY;
  }

  private static final ApiError INVALID_KEY = new ApiError(401, "invalid_request_error", "invalid_api_key",
      "Incorrect API key provided.");

  public static ApiError subscriptionInactive(String status) {
    String s = status.toLowerCase(java.util.Locale.ROOT);
    return new ApiError(403, "permission_error", "subscription_" + s,
        "This API key's subscription is " + s + ".");
  }

  public static ApiError unknownUrl(String path) {
    return new ApiError(404, "invalid_request_error", "unknown_url", "Unknown request URL: " + path + ".");
  }

  public static ApiError methodNotAllowed(String method, String path) {
    return new ApiError(405, "invalid_request_error", "method_not_allowed",
        "Method " + method + " is not allowed on " + path + ".");
  }

  public static ApiError modelNotFound(String model) {
    return new ApiError(404, "invalid_request_error", "model_not_found",
        "The model '" + model + "' does not exist or your subscription does not include it.");
  }

  public static ApiError badRequest(String code, String message) {
    return new ApiError(400, "invalid_request_error", code, message);
  }

  /** The request head did not arrive whole within {@code server.requestHeaderTimeout}. */
  public static ApiError requestHeadTimeout() {
    return REQUEST_HEAD_TIMEOUT;
  }

  private static final ApiError REQUEST_HEAD_TIMEOUT = new ApiError(408, "invalid_request_error", "request_timeout",
      "The request head did not arrive in time; the connection is closed.");

  public static ApiError tooLarge(long limit) {
    return new ApiError(413, "invalid_request_error", "request_too_large",
        "Request body exceeds the limit of " + limit + " bytes.");
  }

  public static ApiError rateLimited(String limit, long retryAfterSeconds) {
    return new ApiError(429, "rate_limit_exceeded", "rate_limit_exceeded",
        "Rate limit reached for this subscription (" + limit + "). Try again in " + retryAfterSeconds + "s.");
  }

  public static ApiError quotaExhausted() {
    return QUOTA_EXHAUSTED;
  }

  private static final ApiError QUOTA_EXHAUSTED = new ApiError(429, "insufficient_quota", "insufficient_quota",
      "You exceeded your current quota: this subscription's package is used up for the period.");

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
  public static final int OVERLOADED_RETRY_AFTER_SECONDS = 1;

  /**
   * The endpoint's connection cap was reached and the call could not wait for a connection
   * (upstream.maxConnectionsPerEndpoint / maxPendingPerEndpoint). Sent with {@code Retry-After}.
   */
  public static ApiError upstreamOverloaded() {
    return UPSTREAM_OVERLOADED;
  }

  /** No connection to the upstream endpoint could be made (refused, unreachable, TLS failed). */
  public static ApiError upstreamUnavailable() {
    return UPSTREAM_UNAVAILABLE;
  }

  /**
   * The upstream's answer could not be read as HTTP/1.1 (conflicting or malformed framing, a head
   * cut short) or the connection closed before any answer.
   */
  public static ApiError badUpstreamResponse() {
    return BAD_UPSTREAM_RESPONSE;
  }

  /** The request carries this gateway's own {@code Via}: it went round in a loop. */
  public static ApiError loopDetected() {
    return LOOP_DETECTED;
  }

  private static final ApiError LOOP_DETECTED = new ApiError(508, "invalid_request_error", "loop_detected",
      "This request has already passed through this gateway, so it was not forwarded again:"
          + " the product's endpoint leads back to the gateway.");

  public static ApiError upstreamTimeout() {
    return UPSTREAM_TIMEOUT;
  }

  private static final ApiError UPSTREAM_TIMEOUT = new ApiError(504, "upstream_error", "upstream_timeout",
      "The upstream endpoint did not answer in time.");

  /** The catalog or a quota store did not answer: the call was not forwarded and nothing was billed. */
  public static ApiError storeUnavailable() {
    return STORE_UNAVAILABLE;
  }

  private static final ApiError STORE_UNAVAILABLE = new ApiError(503, "server_error", "store_unavailable",
      "The gateway cannot reach its store right now, so this call was not forwarded and nothing was billed. "
          + "Retry shortly.");

  /**
   * The gateway itself failed to forward the call (e.g. an endpoint header stored before
   * registration validated it that no request may carry): nothing reached the upstream, nothing
   * was billed. The cause goes to the log, never to the buyer.
   */
  public static ApiError internal() {
    return INTERNAL;
  }

  private static final ApiError INTERNAL = new ApiError(500, "server_error", "internal_error",
      "The gateway could not forward this call to the upstream endpoint; nothing was billed.");
}
