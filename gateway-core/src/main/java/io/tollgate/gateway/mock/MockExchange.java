package io.tollgate.gateway.mock;

import com.fasterxml.jackson.databind.JsonNode;
import io.tollgate.gateway.upstream.AkskJwt;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * One request at the mock upstream, from its body to the last byte of the reply. Confined to the
 * event loop of the server that accepted it; timers it sets run there too.
 *
 * <p>An abort waits for the bytes before it to be written: a write made while the request is
 * still being read is flushed only at the end of the read, and closing the channel first would
 * drop it.
 */
final class MockExchange {

  static final String STATUS = "x-mock-status";
  static final String DELAY = "x-mock-delay-ms";
  static final String CHUNK_DELAY = "x-mock-chunk-delay-ms";
  static final String ABORT_AFTER = "x-mock-abort-after";
  static final String NO_USAGE = "x-mock-no-usage";
  static final String CACHE_READ = "x-mock-cache-read";

  /** What every exchange of one server shares. */
  record Shared(Vertx vertx, MockUpstream mock, MockUpstream.Options options) {}

  private final Shared shared;
  private final HttpServerRequest req;
  private final HttpServerResponse resp;
  private MockApi api;

  MockExchange(Shared shared, HttpServerRequest req) {
    this.shared = shared;
    this.req = req;
    this.resp = req.response();
  }

  void run() {
    req.body()
        .onSuccess(body -> handle(body.getBytes()))
        .onFailure(err -> req.connection().close());
  }

  private void handle(byte[] body) {
    String path = req.path();
    shared.mock().record(
        new MockUpstream.ReceivedRequest(
            req.method().name(), path, req.query(),
            HttpHeaders.headers().addAll(req.headers()), body));
    MockApi fixed = MockApi.ofPath(path);
    api = fixed != MockApi.CUSTOM || shared.options().isCustomPath(path) ? fixed : null;

    String denied = authFailure();
    if (denied != null) {
      error(401, denied);
      return;
    }
    if (api == null) {
      error(404, "no such path at the mock upstream: " + path);
      return;
    }
    if (!methodAllowed(req.method())) {
      resp.putHeader(HttpHeaders.ALLOW, api == MockApi.MODELS ? "GET"
          : api == MockApi.CUSTOM ? "GET, POST" : "POST");
      error(405, req.method().name() + " is not allowed on " + path);
      return;
    }
    int status;
    long delay;
    long chunkDelay;
    int abortAfter;
    int cacheRead;
    try {
      status = intHeader(STATUS, -1);
      delay = intHeader(DELAY, (int) Math.min(Integer.MAX_VALUE, shared.options().latencyMs()));
      chunkDelay = intHeader(CHUNK_DELAY, 0);
      abortAfter = intHeader(ABORT_AFTER, -1);
      cacheRead = intHeader(CACHE_READ, 0);
      if (status != -1 && (status < 400 || status > 599)) {
        throw new IllegalArgumentException(STATUS + " must be 400..599");
      }
    } catch (IllegalArgumentException e) {
      error(400, e.getMessage());
      return;
    }
    if (status != -1) {
      after(delay, () -> error(status, "mock upstream answered " + status + " as asked"));
      return;
    }
    int failEvery = shared.options().failEvery();
    if (failEvery > 0 && shared.mock().calls.incrementAndGet() % failEvery == 0) {
      after(delay, () -> error(500, "mock upstream failure (every " + failEvery + " calls)"));
      return;
    }
    JsonNode json = MockUpstream.parseBody(api, body);
    if (json == null) {
      error(400, "request body must be a JSON object");
      return;
    }
    MockUpstream.Usage usage = UsageFormula.usage(api, json, req::getParam);
    MockReply reply =
        new MockReply(
            api,
            idPrefix() + "mock" + shared.mock().requestCount(),
            System.currentTimeMillis() / 1000,
            json.path("model").isTextual() ? json.path("model").textValue() : defaultModel(),
            usage,
            Math.min(cacheRead, usage.promptTokens()),
            /* reportUsage= */ !"true".equalsIgnoreCase(req.getHeader(NO_USAGE)),
            /* includeUsage= */ json.path("stream_options").path("include_usage").asBoolean(false),
            UsageFormula.hitLimit(api, json, req::getParam, usage.completionTokens()),
            json);
    if (streams(json)) {
      after(delay, () -> stream(reply.events(), chunkDelay, abortAfter));
    } else {
      after(delay, () -> json(200, reply.json(), abortAfter));
    }
  }

  private String authFailure() {
    for (Map.Entry<String, String> h : shared.options().requireHeaders().entrySet()) {
      if (!h.getValue().equals(req.getHeader(h.getKey()))) {
        return "missing or wrong " + h.getKey() + " header"; // never the value
      }
    }
    Map<String, String> aksk = shared.options().requireAksk();
    if (aksk.isEmpty()) {
      return null;
    }
    String auth = req.getHeader(HttpHeaders.AUTHORIZATION);
    String token =
        auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim() : null;
    AkskJwt.Verdict verdict = AkskJwt.verify(token, aksk::get, System.currentTimeMillis());
    return verdict instanceof AkskJwt.Invalid invalid
        ? "invalid upstream credential: " + invalid.reason()
        : null;
  }

  private boolean methodAllowed(HttpMethod method) {
    return switch (api) {
      case MODELS -> method == HttpMethod.GET;
      case CUSTOM -> method == HttpMethod.GET || method == HttpMethod.POST;
      default -> method == HttpMethod.POST;
    };
  }

  private boolean streams(JsonNode json) {
    return switch (api) {
      case EMBEDDINGS, MODELS -> false;
      case CUSTOM -> "true".equalsIgnoreCase(req.getParam("stream"))
          || json.path("stream").asBoolean(false)
          || String.valueOf(req.getHeader(HttpHeaders.ACCEPT)).contains("text/event-stream");
      default -> json.path("stream").asBoolean(false);
    };
  }

  private String idPrefix() {
    return switch (api) {
      case CHAT -> "chatcmpl-";
      case COMPLETIONS -> "cmpl-";
      case RESPONSES -> "resp_";
      case MESSAGES -> "msg_";
      case CUSTOM -> "run_";
      default -> "";
    };
  }

  private String defaultModel() {
    return switch (api) {
      case MESSAGES -> "mock-claude";
      case EMBEDDINGS -> "mock-embed";
      default -> "mock-gpt";
    };
  }

  private int intHeader(String name, int absent) {
    String v = req.getHeader(name);
    if (v == null) {
      return absent;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a non-negative integer");
    }
  }

  private void after(long delayMs, Runnable action) {
    if (delayMs > 0) {
      shared.vertx().setTimer(delayMs, t -> action.run());
    } else {
      action.run();
    }
  }

  // ---- writing

  private void error(int status, String message) {
    StringBuilder sb = new StringBuilder(128);
    String[] kind = errorKind(status);
    if (api == MockApi.MESSAGES) {
      sb.append("{\"type\":\"error\",\"error\":{\"type\":\"").append(kind[2])
          .append("\",\"message\":");
      JsonText.quote(sb, message).append("}}");
    } else {
      sb.append("{\"error\":{\"message\":");
      JsonText.quote(sb, message).append(",\"type\":\"").append(kind[0])
          .append("\",\"param\":null,\"code\":\"").append(kind[1]).append("\"}}");
    }
    if (status == 429) {
      resp.putHeader("retry-after", "1");
    }
    json(status, sb.toString(), -1);
  }

  /** OpenAI type, OpenAI code, Anthropic type. */
  private static String[] errorKind(int status) {
    return switch (status) {
      case 400 -> new String[] {"invalid_request_error", "invalid_request", "invalid_request_error"};
      case 401 -> new String[] {"invalid_request_error", "invalid_api_key", "authentication_error"};
      case 403 -> new String[] {"invalid_request_error", "permission_denied", "permission_error"};
      case 404 -> new String[] {"invalid_request_error", "not_found", "not_found_error"};
      case 405 -> new String[] {"invalid_request_error", "method_not_allowed", "invalid_request_error"};
      case 413 -> new String[] {"invalid_request_error", "request_too_large", "request_too_large"};
      case 429 -> new String[] {"requests", "rate_limit_exceeded", "rate_limit_error"};
      case 503, 529 -> new String[] {"server_error", "overloaded", "overloaded_error"};
      default -> status >= 500
          ? new String[] {"server_error", "server_error", "api_error"}
          : new String[] {"invalid_request_error", "mock_status_" + status, "invalid_request_error"};
    };
  }

  private void json(int status, String body, int abortAfter) {
    if (resp.closed()) {
      return;
    }
    resp.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
    if (abortAfter < 0) {
      resp.end(body);
      return;
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(abortAfter, bytes.length - 1);
    resp.putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(bytes.length));
    Future<Void> written = n == 0 ? resp.writeHead() : resp.write(Buffer.buffer(bytes).slice(0, n));
    written.onComplete(ar -> resp.reset());
  }

  private void stream(List<String> events, long chunkDelay, int abortAfter) {
    if (resp.closed()) {
      return;
    }
    resp.setStatusCode(200)
        .setChunked(true)
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache");
    Future<Void> head = resp.writeHead();
    if (abortAfter == 0) {
      head.onComplete(ar -> resp.reset());
      return;
    }
    int stopAt = abortAfter < 0 ? events.size() : Math.min(abortAfter, events.size());
    writeFrom(events, 0, stopAt, chunkDelay, abortAfter >= 0);
  }

  /** Writes events[from, stopAt) with {@code chunkDelay} between them, then ends or aborts. */
  private void writeFrom(List<String> events, int from, int stopAt, long chunkDelay, boolean abort) {
    for (int i = from; i < stopAt; i++) {
      if (resp.closed()) {
        return; // the client went away
      }
      Future<Void> written = resp.write(events.get(i));
      if (i + 1 == stopAt) {
        if (abort) {
          written.onComplete(ar -> resp.reset());
        } else {
          resp.end();
        }
        return;
      }
      if (chunkDelay > 0) {
        int next = i + 1;
        shared.vertx().setTimer(chunkDelay, t -> writeFrom(events, next, stopAt, chunkDelay, abort));
        return;
      }
    }
    if (!abort && !resp.closed()) {
      resp.end(); // no events at all
    }
  }
}
