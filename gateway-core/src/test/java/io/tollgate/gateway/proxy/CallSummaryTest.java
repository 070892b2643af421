package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.observe.CallSummary;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The buyer port tells its observer of every call exactly once, with one {@link CallSummary} whose
 * fields say what happened: a served JSON call, a stream, a refusal by the rate limit, an unknown
 * key, an upstream that cannot be reached.
 */
class CallSummaryTest {

  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}]}";
  static final String STREAM = "{\"model\":\"mock-gpt\",\"stream\":true,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"four five\"}]}";

  Vertx vertx;
  MockUpstream mock;
  ProxyHarness harness;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
    SimpleMeterRegistry limits = new SimpleMeterRegistry();
    harness = new ProxyHarness(1, new CallMetering(null, null, new RateLimiter(Clock.systemUTC(), 1, limits), limits));
  }

  @AfterEach
  void stop() {
    harness.close();
    mock.close().await();
    vertx.close().await();
  }

  HttpResponse<String> post(String path, String key, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(harness.url(path))).timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString(body)).header("content-type", "application/json");
    if (key != null) {
      b.header("authorization", "Bearer " + key);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The one summary of the call just made, once it came; no other call's. */
  CallSummary told(int before) {
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> harness.calls.size() > before);
    assertThat(harness.calls).as("one summary per call").hasSize(before + 1);
    return List.copyOf(harness.calls).get(before);
  }

  UsageEvent lastEvent(int before) {
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> harness.events.size() > before);
    return List.copyOf(harness.events).get(before);
  }

  @Test
  void servedStreamedAndRefusedCalls_eachToldOnceWithWhatHappened() throws Exception {
    Product product = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), UpstreamAuth.NONE, Map.of(),
        Duration.ofSeconds(5), null);
    // rpm 2 of the limiter's 1 instance: two calls a minute, the third refused
    String key = harness.subscribe(product, BillingMode.PER_TOKEN, 2, null, null);
    String endpoint = "127.0.0.1:" + URI.create(mock.baseUrl()).getPort();

    HttpResponse<String> json = post("/v1/chat/completions?trace=1", key, CHAT);
    assertThat(json.statusCode()).isEqualTo(200);
    CallSummary served = told(0);
    MockUpstream.Usage usage = MockUpstream.expectedUsage("/v1/chat/completions", CHAT);
    UsageEvent event = lastEvent(0);
    assertThat(served.requestId()).isEqualTo(event.requestId())
        .hasToString(json.headers().firstValue("x-request-id").orElseThrow());
    assertThat(served.subscriptionId()).isEqualTo(event.subscriptionId());
    assertThat(served.productId()).isEqualTo(product.id());
    assertThat(served.skuId()).isEqualTo(event.skuId());
    assertThat(served.protocol()).isEqualTo("openai");
    assertThat(served.model()).isEqualTo("mock-gpt");
    assertThat(served.method()).isEqualTo("POST");
    assertThat(served.path()).as("no query").isEqualTo("/v1/chat/completions");
    assertThat(served.status()).isEqualTo(200);
    assertThat(served.upstreamStatus()).isEqualTo(200);
    assertThat(served.inputTokens()).isEqualTo(usage.promptTokens());
    assertThat(served.outputTokens()).isEqualTo(usage.completionTokens());
    assertThat(served.estimated()).isFalse();
    assertThat(served.bytesOut()).isEqualTo(json.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
    assertThat(served.endpoint()).isEqualTo(endpoint);
    assertThat(served.ttftNanos()).isPositive().isLessThanOrEqualTo(served.durationNanos());

    HttpResponse<String> stream = post("/v1/chat/completions", key, STREAM);
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.body()).contains("data: [DONE]").doesNotContain("prompt_tokens");
    CallSummary streamed = told(1);
    MockUpstream.Usage streamUsage = MockUpstream.expectedUsage("/v1/chat/completions", STREAM);
    assertThat(streamed.status()).isEqualTo(200);
    assertThat(streamed.upstreamStatus()).isEqualTo(200);
    assertThat(streamed.inputTokens()).isEqualTo(streamUsage.promptTokens());
    assertThat(streamed.outputTokens()).isEqualTo(streamUsage.completionTokens());
    assertThat(streamed.ttftNanos()).isPositive().isLessThan(streamed.durationNanos());
    assertThat(streamed.bytesOut()).as("the events the buyer got, without the hidden usage chunk")
        .isEqualTo(stream.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
    assertThat(streamed.endpoint()).isEqualTo(endpoint);

    HttpResponse<String> refused = post("/v1/chat/completions", key, CHAT);
    assertThat(refused.statusCode()).isEqualTo(429);
    CallSummary limited = told(2);
    assertThat(limited.status()).isEqualTo(429);
    assertThat(limited.upstreamStatus()).as("never reached the upstream").isZero();
    assertThat(limited.productId()).isEqualTo(product.id());
    assertThat(limited.subscriptionId()).isEqualTo(served.subscriptionId());
    assertThat(limited.model()).isEqualTo("mock-gpt");
    assertThat(limited.ttftNanos()).isEqualTo(-1);
    assertThat(limited.inputTokens() + limited.outputTokens()).isZero();
    assertThat(limited.endpoint()).isNull();
    assertThat(limited.bytesOut()).isEqualTo(refused.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);

    Thread.sleep(200);
    assertThat(harness.calls).as("three calls, three summaries").hasSize(3);
  }

  @Test
  void unknownKey_andAnUnreachableUpstream_areToldToo() throws Exception {
    HttpResponse<String> unknown = post("/v1/chat/completions?api-key=tg-secret-in-query", "tg-nobody", CHAT);
    assertThat(unknown.statusCode()).isEqualTo(401);
    CallSummary nobody = told(0);
    assertThat(nobody.productId()).isNull();
    assertThat(nobody.subscriptionId()).isNull();
    assertThat(nobody.skuId()).isNull();
    assertThat(nobody.protocol()).isNull();
    assertThat(nobody.path()).isEqualTo("/v1/chat/completions");
    assertThat(nobody.method()).isEqualTo("POST");
    assertThat(nobody.status()).isEqualTo(401);
    assertThat(nobody.upstreamStatus()).isZero();
    assertThat(nobody.requestId()).hasToString(unknown.headers().firstValue("x-request-id").orElseThrow());

    int deadPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      deadPort = s.getLocalPort();
    }
    Product dead = ProxyHarness.product(Protocol.OPENAI, "http://127.0.0.1:" + deadPort, UpstreamAuth.NONE,
        Map.of(), Duration.ofSeconds(5), null);
    String key = harness.subscribe(dead, BillingMode.PER_TOKEN, null, null, null);
    HttpResponse<String> failed = post("/v1/chat/completions", key, CHAT);
    assertThat(failed.statusCode()).isIn(502, 503, 504);
    CallSummary down = told(1);
    assertThat(down.status()).isEqualTo(failed.statusCode());
    assertThat(down.upstreamStatus()).isZero();
    assertThat(down.productId()).isEqualTo(dead.id());
    assertThat(down.endpoint()).isEqualTo("127.0.0.1:" + deadPort);
    assertThat(down.ttftNanos()).isEqualTo(-1);
    assertThat(down.inputTokens() + down.outputTokens()).isZero();
    assertThat(down.bytesOut()).isEqualTo(failed.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);

    Thread.sleep(200);
    assertThat(harness.calls).hasSize(2);
  }
}
