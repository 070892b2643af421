package io.tollgate.gateway.mock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A merchant endpoint that speaks the OpenAI, Anthropic and custom Agents APIs with deterministic
 * usage, for tests, the demo and benchmarks. Runs in-process on a Vert.x {@link HttpServer}.
 *
 * <h2>Endpoints</h2>
 *
 * <ul>
 *   <li>OpenAI: {@code POST /v1/chat/completions}, {@code /v1/completions} (JSON, or SSE with
 *       {@code "stream":true}; with {@code stream_options.include_usage} the stream ends with a
 *       {@code "choices":[]} usage chunk, without it carries no usage at all; then {@code data:
 *       [DONE]}), {@code POST /v1/embeddings}, {@code POST /v1/responses} (JSON, or SSE ending in
 *       {@code response.completed} with the usage), {@code GET /v1/models}.
 *   <li>Anthropic: {@code POST /v1/messages} (JSON, or SSE: {@code message_start} with input
 *       tokens and output 1, {@code content_block_start}, {@code ping}, deltas, {@code
 *       content_block_stop}, {@code message_delta} with cumulative usage, {@code message_stop}).
 *   <li>Custom: {@code GET} or {@code POST} on {@code /agent/run} and {@link Options#customPaths()}
 *       (a path ending in {@code /*} matches its prefix): {@code {"id","output","usage":{...}}},
 *       or, when {@code ?stream=true}, {@code "stream":true} in the body or {@code Accept:
 *       text/event-stream}, {@code data: {"delta":"tok1"}} events whose last one carries the
 *       whole output and the top-level {@code usage}.
 *   <li>Anything else: 404; a wrong method: 405. Errors use the OpenAI shape {@code
 *       {"error":{"message","type","code"}}}, on {@code /v1/messages} the Anthropic one.
 * </ul>
 *
 * <h2>Usage</h2>
 *
 * A pure function of the request, {@link #expectedUsage}: prompt tokens are the
 * whitespace-separated words of the prompt text plus 3 per message; completion tokens are the
 * requested limit if it is 1..64, else {@code 8 + prompt % 7}; the answer is exactly that many
 * words, {@code tok1 tok2 ...}, streamed one word per event.
 *
 * <h2>Request headers that control a reply</h2>
 *
 * <ul>
 *   <li>{@code x-mock-status: N} (400..599): answer with that status and an error body.
 *   <li>{@code x-mock-delay-ms: N}: wait before the response head (overrides {@link
 *       Options#latencyMs()}).
 *   <li>{@code x-mock-chunk-delay-ms: N}: wait between stream events.
 *   <li>{@code x-mock-abort-after: N}: a stream closes the connection after N events, without the
 *       end of the chunked body; a JSON reply sends its head (with the full {@code
 *       Content-Length}) and its first N bytes (at most all but the last), then closes.
 *   <li>{@code x-mock-no-usage: true}: no usage anywhere in the reply.
 *   <li>{@code x-mock-cache-read: N}: N of the prompt tokens (at most all) are reported as read
 *       from a cache: OpenAI {@code cached_tokens}; Anthropic {@code cache_read_input_tokens},
 *       with {@code input_tokens} the rest, so the prompt total stays what {@link #expectedUsage}
 *       says.
 * </ul>
 *
 * A malformed control header is answered 400. Checks run in this order: required headers and
 * AK/SK (401), path (404) and method (405), {@code x-mock-status}, {@link Options#failEvery()}
 * (500), then the body (400 if an OpenAI/Anthropic body is not a JSON object).
 *
 * <p>Every request that arrives, rejected or not, is recorded in a bounded log ({@link
 * #requests()}), so tests can assert what reached the upstream. Replies never echo a request
 * header, so no credential leaves in a response.
 */
public final class MockUpstream {

  /** The models {@code GET /v1/models} lists; any model name is accepted in requests. */
  public static final List<String> MODELS = List.of("mock-gpt", "mock-claude", "mock-embed");

  static final ObjectMapper JSON = new ObjectMapper();

  private final Vertx vertx;
  private final Options options;
  private final List<String> deployments = new ArrayList<>();
  private final ArrayDeque<ReceivedRequest> log = new ArrayDeque<>();
  private final AtomicLong received = new AtomicLong();
  final AtomicLong calls = new AtomicLong();
  private volatile int port;

  private MockUpstream(Vertx vertx, Options options) {
    this.vertx = vertx;
    this.options = options;
  }

  /**
   * Starts a mock upstream on {@code options.host():options.port()} (port 0 picks a free one),
   * served by {@code options.eventLoops()} event loops.
   */
  public static Future<MockUpstream> start(Vertx vertx, Options options) {
    Objects.requireNonNull(vertx, "vertx");
    Objects.requireNonNull(options, "options");
    MockUpstream mock = new MockUpstream(vertx, options);
    // The instances of one deployment share a fixed port, round robin; with port 0 each would
    // bind its own random port, so several loops first reserve one (a tiny race we accept).
    int listenPort = options.port();
    if (listenPort == 0 && options.eventLoops() > 1) {
      try (java.net.ServerSocket probe =
          new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(options.host()))) {
        listenPort = probe.getLocalPort();
      } catch (IOException e) {
        return Future.failedFuture(e);
      }
    }
    return mock.deploy(listenPort, options.eventLoops())
        .map(
            id -> {
              mock.deployments.add(id);
              return mock;
            });
  }

  private Future<String> deploy(int listenPort, int instances) {
    MockUpstream self = this;
    return vertx.deployVerticle(
        () ->
            new VerticleBase() {
              @Override
              public Future<?> start() {
                HttpServer server =
                    vertx.createHttpServer(
                        new HttpServerOptions()
                            .setHost(options.host())
                            .setPort(listenPort)
                            .setTcpNoDelay(true));
                MockExchange.Shared shared = new MockExchange.Shared(vertx, self, options);
                return server
                    .requestHandler(req -> new MockExchange(shared, req).run())
                    .listen()
                    .compose(s -> self.bound(s.actualPort()));
              }
            },
        new DeploymentOptions().setInstances(instances));
  }

  /** Fails unless every instance of the deployment ended up on one port. */
  private synchronized Future<Void> bound(int actualPort) {
    if (port == 0) {
      port = actualPort;
    } else if (port != actualPort) {
      return Future.failedFuture("mock instances bound ports " + port + " and " + actualPort);
    }
    return Future.succeededFuture();
  }

  /** The port the mock listens on. */
  public int port() {
    return port;
  }

  /** {@code http://host:port}, the base URL to register as a product endpoint. */
  public String baseUrl() {
    return "http://" + options.host() + ":" + port;
  }

  public Options options() {
    return options;
  }

  /** Stops listening; requests in flight are cut. */
  public Future<Void> close() {
    List<Future<Void>> undeploys = new ArrayList<>();
    for (String id : deployments) {
      undeploys.add(vertx.undeploy(id));
    }
    deployments.clear();
    return Future.all(undeploys).mapEmpty();
  }

  /** The last {@link Options#logCapacity()} requests received, oldest first (a copy). */
  public List<ReceivedRequest> requests() {
    synchronized (log) {
      return List.copyOf(log);
    }
  }

  /** How many requests arrived since start, including those no longer in the log. */
  public long requestCount() {
    return received.get();
  }

  public void clearRequests() {
    synchronized (log) {
      log.clear();
    }
  }

  void record(ReceivedRequest request) {
    received.incrementAndGet();
    if (options.logCapacity() == 0) {
      return;
    }
    synchronized (log) {
      if (log.size() == options.logCapacity()) {
        log.removeFirst();
      }
      log.addLast(request);
    }
  }

  /**
   * The usage the mock reports for a request (before {@code x-mock-no-usage}), computed as the
   * server does:
   *
   * <ul>
   *   <li>prompt: words of {@code messages[].content} (a string, or parts' {@code text}) + 3 per
   *       message (chat); of each {@code prompt} + 3 each (completions); of {@code input} (a string
   *       or an array; a pre-tokenized number counts 1), no overhead (embeddings); of {@code
   *       instructions} and each {@code input} item (a string input is one item) + 3 each
   *       (responses); of {@code system} and {@code messages[].content} + 3 each (Anthropic); of
   *       the body's {@code input} (any JSON; a non-JSON body is the input itself) or else the
   *       {@code q} query parameter, + 3 (custom).
   *   <li>completion: the request's {@code max_completion_tokens}, {@code max_tokens} or {@code
   *       max_output_tokens} (custom: also {@code ?max_tokens=}) when 1..64, else {@code 8 +
   *       prompt % 7}; 0 for embeddings.
   * </ul>
   *
   * @param pathAndQuery the request target, e.g. {@code /v1/chat/completions} or {@code
   *     /agent/run?q=hello}; any path that is not an OpenAI or Anthropic one is custom
   * @param requestBody the request body, empty or null for a bodiless GET
   * @throws IllegalArgumentException if an OpenAI or Anthropic body is not a JSON object
   */
  public static Usage expectedUsage(String pathAndQuery, byte[] requestBody) {
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    Map<String, String> query = new LinkedHashMap<>();
    if (q >= 0) {
      for (String pair : pathAndQuery.substring(q + 1).split("&")) {
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        query.putIfAbsent(
            k, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    MockApi api = MockApi.ofPath(path);
    JsonNode body = parseBody(api, requestBody == null ? new byte[0] : requestBody);
    if (body == null) {
      throw new IllegalArgumentException("request body is not a JSON object");
    }
    return UsageFormula.usage(api, body, query::get);
  }

  /** {@link #expectedUsage(String, byte[])} for a UTF-8 body. */
  public static Usage expectedUsage(String pathAndQuery, String requestBody) {
    return expectedUsage(
        pathAndQuery, requestBody == null ? null : requestBody.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The body as the server reads it: a JSON object, or for the custom API anything (non-JSON is a
   * text node, empty is missing); null when an OpenAI/Anthropic body is not a JSON object.
   */
  static JsonNode parseBody(MockApi api, byte[] body) {
    if (body.length == 0) {
      return api == MockApi.CUSTOM || api == MockApi.MODELS ? MissingNode.getInstance() : null;
    }
    try {
      JsonNode node = JSON.readTree(body);
      if (node != null && (node.isObject() || api == MockApi.CUSTOM)) {
        return node;
      }
    } catch (IOException e) {
      // not JSON: only the custom API takes free text
    }
    return api == MockApi.CUSTOM
        ? JSON.getNodeFactory().textNode(new String(body, StandardCharsets.UTF_8))
        : null;
  }

  /** Token counts the mock reports; {@code completionTokens} is 0 for embeddings. */
  public record Usage(int promptTokens, int completionTokens) {
    public Usage {
      if (promptTokens < 0 || completionTokens < 0) {
        throw new IllegalArgumentException("negative token count");
      }
    }

    public int totalTokens() {
      return promptTokens + completionTokens;
    }
  }

  /**
   * One request as it reached the mock.
   *
   * @param query the raw query string, or null
   * @param headers a case-insensitive copy of the request headers
   * @param body the request body bytes (not copied on access; do not modify)
   */
  public record ReceivedRequest(
      String method, String path, String query, MultiMap headers, byte[] body) {
    public ReceivedRequest {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(headers, "headers");
      body = body == null ? new byte[0] : body;
    }

    /** The first value of header {@code name} (any case), or null. */
    public String header(String name) {
      return headers.get(name);
    }

    public String bodyAsString() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * How a mock upstream listens and what it requires. Start from {@link #defaults()} and use the
   * {@code with*} methods.
   *
   * @param host interface to bind; defaults to {@code 127.0.0.1}
   * @param port 0 (the default) picks a free port
   * @param requireAksk access key to secret key; when not empty, every request needs {@code
   *     Authorization: Bearer <jwt>} valid per {@link io.tollgate.gateway.upstream.AkskJwt},
   *     else 401. Defaults to empty
   * @param requireHeaders header name to exact value each request must carry, else 401 (the
   *     {@code headers} upstream auth). Defaults to empty
   * @param latencyMs delay before every response head unless {@code x-mock-delay-ms} says
   *     otherwise; defaults to 0
   * @param failEvery every Nth request (counted over requests that pass auth and routing) gets a
   *     500; 0 (the default) never
   * @param customPaths paths of the custom Agents API besides {@code /agent/run}; a trailing
   *     {@code /*} matches a prefix
   * @param logCapacity how many received requests {@link #requests()} keeps; defaults to 1000
   * @param eventLoops how many event loops serve the port (one server per loop, sharing it; with
   *     port 0 a free port is reserved first); defaults to 1
   */
  public record Options(
      String host,
      int port,
      Map<String, String> requireAksk,
      Map<String, String> requireHeaders,
      long latencyMs,
      int failEvery,
      Set<String> customPaths,
      int logCapacity,
      int eventLoops) {

    public static final String DEFAULT_CUSTOM_PATH = "/agent/run";

    public Options {
      Objects.requireNonNull(host, "host");
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0..65535: " + port);
      }
      if (latencyMs < 0 || failEvery < 0 || logCapacity < 0) {
        throw new IllegalArgumentException("latencyMs, failEvery and logCapacity must be >= 0");
      }
      if (eventLoops < 1) {
        throw new IllegalArgumentException("eventLoops must be at least 1: " + eventLoops);
      }
      requireAksk = requireAksk == null ? Map.of() : Map.copyOf(requireAksk);
      requireHeaders = requireHeaders == null ? Map.of() : Map.copyOf(requireHeaders);
      Set<String> paths = new LinkedHashSet<>();
      paths.add(DEFAULT_CUSTOM_PATH);
      if (customPaths != null) {
        for (String p : customPaths) {
          if (p == null || !p.startsWith("/")) {
            throw new IllegalArgumentException("custom path must start with '/': " + p);
          }
          if (MockApi.ofPath(p) != MockApi.CUSTOM) {
            throw new IllegalArgumentException("custom path is an OpenAI/Anthropic path: " + p);
          }
          paths.add(p);
        }
      }
      customPaths = Set.copyOf(paths);
    }

    public static Options defaults() {
      return new Options("127.0.0.1", 0, Map.of(), Map.of(), 0, 0, Set.of(), 1000, 1);
    }

    public Options withHost(String host) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    public Options withPort(int port) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    /** Adds an accepted access key and its secret. */
    public Options withAksk(String accessKey, String secretKey) {
      if (accessKey == null || accessKey.isEmpty() || secretKey == null || secretKey.isEmpty()) {
        throw new IllegalArgumentException("aksk needs an access key and a secret key");
      }
      Map<String, String> m = new LinkedHashMap<>(requireAksk);
      m.put(accessKey, secretKey);
      return new Options(host, port, m, requireHeaders, latencyMs, failEvery, customPaths,
          logCapacity, eventLoops);
    }

    /** {@link #withAksk(String, String)} from the CLI's {@code --aksk AK:SK}. */
    public Options withAksk(String accessKeyColonSecret) {
      int colon = accessKeyColonSecret == null ? -1 : accessKeyColonSecret.indexOf(':');
      if (colon <= 0 || colon == accessKeyColonSecret.length() - 1) {
        throw new IllegalArgumentException("--aksk must be ACCESS_KEY:SECRET_KEY");
      }
      return withAksk(
          accessKeyColonSecret.substring(0, colon), accessKeyColonSecret.substring(colon + 1));
    }

    public Options withRequiredHeader(String name, String value) {
      Map<String, String> m = new LinkedHashMap<>(requireHeaders);
      m.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return new Options(host, port, requireAksk, m, latencyMs, failEvery, customPaths,
          logCapacity, eventLoops);
    }

    public Options withLatencyMs(long latencyMs) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    public Options withFailEvery(int failEvery) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    public Options withCustomPaths(String... paths) {
      Set<String> s = new LinkedHashSet<>(customPaths);
      s.addAll(List.of(paths));
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery, s,
          logCapacity, eventLoops);
    }

    public Options withLogCapacity(int logCapacity) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    public Options withEventLoops(int eventLoops) {
      return new Options(host, port, requireAksk, requireHeaders, latencyMs, failEvery,
          customPaths, logCapacity, eventLoops);
    }

    boolean isCustomPath(String path) {
      if (customPaths.contains(path)) {
        return true;
      }
      for (String p : customPaths) {
        if (p.endsWith("/*") && path.startsWith(p.substring(0, p.length() - 1))) {
          return true;
        }
      }
      return false;
    }

    /** Never prints secrets. */
    @Override
    public String toString() {
      return "Options[host=" + host + ", port=" + port + ", akskKeys=" + requireAksk.keySet()
          + ", requireHeaders=" + requireHeaders.keySet() + ", latencyMs=" + latencyMs
          + ", failEvery=" + failEvery + ", customPaths=" + customPaths + ", logCapacity="
          + logCapacity + ", eventLoops=" + eventLoops + "]";
    }
  }
}
