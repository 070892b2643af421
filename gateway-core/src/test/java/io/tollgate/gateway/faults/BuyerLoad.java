package io.tollgate.gateway.faults;

import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * Buyer traffic with a client-side ledger: {@code concurrency} threads, each a buyer SDK in a
 * loop, send a random mix of OpenAI {@code /v1/chat/completions} and Anthropic {@code
 * /v1/messages} calls, streamed or not, with varied prompts and {@code max_tokens}.
 *
 * <p>A call counts as <b>received</b> only when it completed with 200 and a whole body: the JSON
 * parses and carries the usage the mock reports, an OpenAI stream ends with {@code data:
 * [DONE]}, an Anthropic stream holds {@code message_stop}. Its tokens are {@link
 * MockUpstream#expectedUsage} of the request (the mock is deterministic), summed per
 * subscription. Anything else is kept apart: cut-off calls (the gateway died), quota refusals
 * ({@code 429 insufficient_quota}) and anything unexpected, so a test can assert on each.
 */
final class BuyerLoad implements AutoCloseable {

  enum Api {
    OPENAI_CHAT("/v1/chat/completions"),
    ANTHROPIC_MESSAGES("/v1/messages");

    final String path;

    Api(String path) {
      this.path = path;
    }
  }

  /** One subscription as its buyer holds it. */
  record Buyer(String subscriptionId, String apiKey, Api api) {}

  /** Calls and tokens of one subscription. */
  record Totals(long calls, long inputTokens, long outputTokens) {
    static final Totals ZERO = new Totals(0, 0, 0);

    long totalTokens() {
      return inputTokens + outputTokens;
    }

    @Override
    public String toString() {
      return "{calls=" + calls + ", inputTokens=" + inputTokens + ", outputTokens=" + outputTokens + "}";
    }
  }

  /**
   * How the load runs.
   *
   * @param concurrency client threads, each with one call in flight
   * @param stopOnQuotaRefusal a thread stops at its first {@code 429 insufficient_quota}
   * @param streamChunkDelayMs {@code x-mock-chunk-delay-ms} on streams, so calls are in flight
   *     long enough for a fault to cut some
   * @param promptWords prompt length range, inclusive (the mock counts words + 3 per message)
   * @param maxTokens {@code max_tokens} range, inclusive (the mock answers exactly that many)
   */
  record Options(int concurrency, boolean stopOnQuotaRefusal, int streamChunkDelayMs,
      int minPromptWords, int maxPromptWords, int minMaxTokens, int maxMaxTokens, long seed) {
    static Options defaults() {
      return new Options(16, false, 3, 1, 12, 4, 30, 42);
    }

    Options withConcurrency(int n) {
      return new Options(n, stopOnQuotaRefusal, streamChunkDelayMs, minPromptWords, maxPromptWords,
          minMaxTokens, maxMaxTokens, seed);
    }

    Options stoppingOnQuotaRefusal() {
      return new Options(concurrency, true, streamChunkDelayMs, minPromptWords, maxPromptWords,
          minMaxTokens, maxMaxTokens, seed);
    }

    Options withSizes(int minWords, int maxWords, int minMax, int maxMax) {
      return new Options(concurrency, stopOnQuotaRefusal, streamChunkDelayMs, minWords, maxWords,
          minMax, maxMax, seed);
    }

    /** The most tokens one call can cost: prompt words + 3 for the one message + max_tokens. */
    int maxCallTokens() {
      return maxPromptWords + 3 + maxMaxTokens;
    }
  }

  private static final String[] WORDS = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
      "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"};

  private final HttpClient http;
  private final List<Buyer> buyers;
  private final List<Integer> ports;
  private final Options options;
  private final ExecutorService threads;
  private volatile boolean running = true;

  private final Map<String, LongAdder[]> ledger = new ConcurrentHashMap<>();
  private final AtomicLong received = new AtomicLong();
  private final AtomicLong cutOff = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong notConnected = new AtomicLong();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final ConcurrentLinkedQueue<String> cutOffCalls = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> unexpected = new ConcurrentLinkedQueue<>();

  /**
   * Starts the load. Thread {@code i} calls as buyer {@code i % buyers} on port {@code (i /
   * buyers) % ports}, so with several instances every buyer reaches each of them.
   */
  BuyerLoad(HttpClient http, List<Buyer> buyers, List<Integer> ports, Options options) {
    this.http = http;
    this.buyers = List.copyOf(buyers);
    this.ports = List.copyOf(ports);
    this.options = options;
    for (Buyer b : buyers) {
      ledger.put(b.subscriptionId(), new LongAdder[] {new LongAdder(), new LongAdder(), new LongAdder()});
    }
    AtomicInteger n = new AtomicInteger();
    this.threads = Executors.newFixedThreadPool(options.concurrency(), r -> {
      Thread t = new Thread(r, "buyer-" + n.getAndIncrement());
      t.setDaemon(true);
      return t;
    });
    for (int i = 0; i < options.concurrency(); i++) {
      Buyer buyer = this.buyers.get(i % this.buyers.size());
      int port = this.ports.get((i / this.buyers.size()) % this.ports.size());
      Random random = new Random(options.seed() * 1000 + i);
      threads.execute(() -> run(buyer, port, random));
    }
  }

  private record Call(Buyer buyer, boolean stream, String body, MockUpstream.Usage usage) {}

  private void run(Buyer buyer, int port, Random random) {
    while (running) {
      Call call = nextCall(buyer, random);
      HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + buyer.api().path))
          .timeout(Duration.ofSeconds(20))
          .header("content-type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(call.body()));
      if (buyer.api() == Api.ANTHROPIC_MESSAGES) {
        request.header("x-api-key", buyer.apiKey()).header("anthropic-version", "2023-06-01");
      } else {
        request.header("authorization", "Bearer " + buyer.apiKey());
      }
      if (call.stream()) {
        request.header("x-mock-chunk-delay-ms", Integer.toString(options.streamChunkDelayMs()));
      }
      inFlight.incrementAndGet();
      try {
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        String problem = problemWith(call, response);
        if (problem == null) {
          LongAdder[] sums = ledger.get(buyer.subscriptionId());
          sums[0].increment();
          sums[1].add(call.usage().promptTokens());
          sums[2].add(call.usage().completionTokens());
          received.incrementAndGet();
        } else if (response.statusCode() == 429 && isInsufficientQuota(response.body())) {
          refused.incrementAndGet();
          if (options.stopOnQuotaRefusal()) {
            return;
          }
          pause(20);
        } else {
          note(unexpected, buyer.api() + (call.stream() ? " stream" : " json") + ": " + problem);
          pause(20);
        }
      } catch (ConnectException e) {
        // Nobody listens (the gateway is down): the call never reached tollgate.
        notConnected.incrementAndGet();
        pause(20);
      } catch (IOException e) {
        // The connection broke before the whole answer arrived (the gateway died, or a pooled
        // connection to the dead process was reused): not received, so it must not be metered.
        cutOff.incrementAndGet();
        note(cutOffCalls, buyer.subscriptionId() + " " + call.usage() + " " + e);
        pause(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } finally {
        inFlight.decrementAndGet();
      }
    }
  }

  private Call nextCall(Buyer buyer, Random random) {
    int words = between(random, options.minPromptWords(), options.maxPromptWords());
    StringBuilder prompt = new StringBuilder();
    for (int w = 0; w < words; w++) {
      prompt.append(w == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
    }
    int maxTokens = between(random, options.minMaxTokens(), options.maxMaxTokens());
    boolean stream = random.nextBoolean();
    JsonObject body = new JsonObject()
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", prompt.toString())))
        .put("max_tokens", maxTokens);
    if (buyer.api() == Api.OPENAI_CHAT) {
      body.put("model", "mock-gpt");
      if (stream) {
        body.put("stream", true);
        if (random.nextBoolean()) {
          // Half the streams ask for usage themselves; for the rest the gateway must ask.
          body.put("stream_options", new JsonObject().put("include_usage", true));
        }
      }
    } else {
      body.put("model", "mock-claude");
      if (stream) {
        body.put("stream", true);
      }
    }
    String text = body.encode();
    return new Call(buyer, stream, text, MockUpstream.expectedUsage(buyer.api().path, text));
  }

  /** Null when the call was received whole; else what is wrong with it. */
  private static String problemWith(Call call, HttpResponse<String> response) {
    String body = response.body();
    if (response.statusCode() != 200) {
      return "status " + response.statusCode() + ": " + abbreviate(body);
    }
    try {
      if (call.stream()) {
        boolean complete = call.buyer().api() == Api.OPENAI_CHAT
            ? body.stripTrailing().endsWith("data: [DONE]")
            : body.contains("event: message_stop");
        return complete ? null : "stream without its end: " + abbreviate(body);
      }
      JsonObject usage = new JsonObject(body).getJsonObject("usage");
      long in = call.buyer().api() == Api.OPENAI_CHAT ? usage.getLong("prompt_tokens") : usage.getLong("input_tokens");
      long out = call.buyer().api() == Api.OPENAI_CHAT ? usage.getLong("completion_tokens") : usage.getLong("output_tokens");
      if (in != call.usage().promptTokens() || out != call.usage().completionTokens()) {
        return "body usage " + usage + " differs from the mock's " + call.usage();
      }
      return null;
    } catch (RuntimeException e) {
      return "unreadable body (" + e + "): " + abbreviate(body);
    }
  }

  /** A quota refusal in either shape: OpenAI's code, or Anthropic's (no code) with its message. */
  private static boolean isInsufficientQuota(String body) {
    try {
      JsonObject error = new JsonObject(body).getJsonObject("error");
      if ("error".equals(new JsonObject(body).getString("type"))) {
        return io.tollgate.gateway.api.ApiError.quotaExhausted().message().equals(error.getString("message"));
      }
      return "insufficient_quota".equals(error.getString("code"));
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Waits until {@code n} calls were received in all; fails with the load's state if not in time. */
  void awaitReceived(long n, Duration timeout) {
    awaitCondition(() -> received.get() >= n, timeout, "received >= " + n);
  }

  /** Waits until every thread stopped by itself (quota refusals); fails if not in time. */
  void awaitAllStopped(Duration timeout) throws InterruptedException {
    threads.shutdown();
    if (!threads.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      running = false;
      throw new AssertionError("buyers still calling after " + timeout + ": " + this);
    }
  }

  private void awaitCondition(BooleanSupplier done, Duration timeout, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("load did not reach " + what + " within " + timeout + ": " + this);
      }
      pause(10);
    }
  }

  /** Stops starting calls and waits for those in flight to end. */
  void stop() throws InterruptedException {
    running = false;
    threads.shutdown();
    if (!threads.awaitTermination(30, TimeUnit.SECONDS)) {
      throw new AssertionError("buyer calls still in flight 30 s after stop: " + this);
    }
  }

  @Override
  public void close() {
    running = false;
    threads.shutdownNow();
    try {
      threads.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** What the buyers of {@code subscriptionId} received in this load; zero for a subscription it does not call. */
  Totals receivedBy(String subscriptionId) {
    LongAdder[] s = ledger.get(subscriptionId);
    if (s == null) {
      return Totals.ZERO;
    }
    return new Totals(s[0].sum(), s[1].sum(), s[2].sum());
  }

  Totals receivedInAll() {
    long calls = 0;
    long in = 0;
    long out = 0;
    for (LongAdder[] s : ledger.values()) {
      calls += s[0].sum();
      in += s[1].sum();
      out += s[2].sum();
    }
    return new Totals(calls, in, out);
  }

  long received() {
    return received.get();
  }

  long cutOff() {
    return cutOff.get();
  }

  long refused() {
    return refused.get();
  }

  int inFlight() {
    return inFlight.get();
  }

  List<String> unexpected() {
    return new ArrayList<>(unexpected);
  }

  /** The calls cut off, with the usage each would have had: where to look if metered > received. */
  List<String> cutOffCalls() {
    return new ArrayList<>(cutOffCalls);
  }

  @Override
  public String toString() {
    return "BuyerLoad[received=" + received + ", cutOff=" + cutOff + ", notConnected=" + notConnected
        + ", refused=" + refused
        + ", inFlight=" + inFlight + ", unexpected=" + unexpected.size()
        + (unexpected.isEmpty() ? "" : " e.g. " + unexpected.peek()) + "]";
  }

  private static void note(ConcurrentLinkedQueue<String> q, String s) {
    if (q.size() < 200) {
      q.add(s);
    }
  }

  private static int between(Random r, int min, int max) {
    return min + r.nextInt(max - min + 1);
  }

  private static String abbreviate(String s) {
    return s == null || s.length() <= 300 ? s : s.substring(0, 300) + "...";
  }

  private static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
