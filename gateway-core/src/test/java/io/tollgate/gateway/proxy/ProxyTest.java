package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * The buyer port in front of the real mock upstream and of recorded responses, over real HTTP on
 * loopback; once with one event loop and once with two (as Zuul runs its integration suite), and
 * once on each transport that {@code auto} takes (see {@link ProxyHarness}): one loop on epoll, two
 * on io_uring. So each case runs on each loop count and on each transport, though not on all four
 * pairs: that would add the whole contract's time again.
 */
class ProxyTest {

  @Nested
  class OneEventLoopOnEpoll extends Contract {
    OneEventLoopOnEpoll() {
      super(1, Transport.EPOLL);
    }
  }

  @Nested
  class TwoEventLoopsOnIoUring extends Contract {
    TwoEventLoopsOnIoUring() {
      super(2, Transport.IO_URING);
    }
  }

  @TestInstance(Lifecycle.PER_CLASS)
  abstract static class Contract {
    private static final String AK = "ak-merchant-1";
    private static final String SK = "sk-merchant-secret-1";
    private static final String MERCHANT_SECRET = "merchant-static-secret-42";

    final int eventLoops;
    final String transport;
    Vertx vertx;
    MockUpstream mock;
    FixtureUpstream fixtures;
    ProxyHarness gw;
    HttpClient http;
    Product openai;
    Product anthropic;
    Product custom;

    Contract(int eventLoops, String transport) {
      this.eventLoops = eventLoops;
      this.transport = transport;
    }

    @BeforeAll
    void start() throws Exception {
      vertx = Vertx.vertx();
      mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withAksk(AK, SK)
          .withRequiredHeader("x-merchant-secret", MERCHANT_SECRET).withCustomPaths("/agent/search")).await();
      fixtures = new FixtureUpstream(vertx);
      gw = new ProxyHarness(transport, eventLoops, 64 * 1024, ProxyHarness.HEAD_TIMEOUT, ProxyHarness.IDLE_TIMEOUT,
          EndpointLimits.UNLIMITED);
      UpstreamAuth aksk = new UpstreamAuth(UpstreamAuth.Type.AKSK, AK, SK);
      Map<String, String> secret = Map.of("x-merchant-secret", MERCHANT_SECRET);
      openai = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), aksk, secret, Duration.ofSeconds(2), null);
      anthropic = ProxyHarness.product(Protocol.ANTHROPIC, mock.baseUrl(), aksk, secret, Duration.ofSeconds(2), null);
      custom = ProxyHarness.product(Protocol.CUSTOM, mock.baseUrl(), aksk, secret, Duration.ofSeconds(2),
          List.of("/agent/run", "/agent/search"));
      http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    void stop() {
      gw.close();
      fixtures.close();
      mock.close().await();
      vertx.close().await();
      assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
    }

    HttpResponse<byte[]> post(String path, String key, String body, String... headers) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(20))
          .header("content-type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body));
      if (key != null) {
        b.header("authorization", "Bearer " + key);
      }
      if (headers.length > 0) {
        b.headers(headers);
      }
      return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<byte[]> get(String path, String key, String... headers) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(20)).GET();
      if (key != null) {
        b.header("authorization", "Bearer " + key);
      }
      if (headers.length > 0) {
        b.headers(headers);
      }
      return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    static String text(HttpResponse<byte[]> r) {
      return new String(r.body(), StandardCharsets.UTF_8);
    }

    static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"say hello to the world\"}]}";
    static final String CHAT_STREAM = "{\"model\":\"mock-gpt\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"say hello to the world\"}]}";
    static final String MESSAGES = "{\"model\":\"mock-claude\",\"max_tokens\":12,\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";
    static final String MESSAGES_STREAM = "{\"model\":\"mock-claude\",\"max_tokens\":12,\"stream\":true,"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";

    MockUpstream.ReceivedRequest lastUpstreamRequest() {
      List<MockUpstream.ReceivedRequest> all = mock.requests();
      return all.get(all.size() - 1);
    }

    @Test
    void openAiChat_reachesUpstreamSignedAndIdentified_andAnswersBuyer() throws Exception {
      String key = gw.subscribe(openai);
      HttpResponse<byte[]> r = post("/v1/chat/completions", key, CHAT);

      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", CHAT);
      assertThat(text(r)).contains("\"prompt_tokens\":" + expected.promptTokens());
      MockUpstream.ReceivedRequest up = lastUpstreamRequest();
      String requestId = r.headers().firstValue("x-request-id").orElseThrow();
      assertThat(up.header("x-request-id")).as("the upstream and the buyer see the same request id").isEqualTo(requestId);
      assertThat(java.util.UUID.fromString(requestId).version()).isEqualTo(4);
      assertThat(up.header("x-customer-id")).isEqualTo("buyer-1");
      assertThat(up.header("x-customer-name")).as("a name with CR/LF and non-ASCII is percent-encoded")
          .isEqualTo("Buyer%20%C3%9Cn%C3%AFcode%0D%0AX");
      assertThat(up.header("authorization")).as("the upstream gets an AK/SK JWT").startsWith("Bearer ey");
      assertThat(up.headers().toString()).as("buyer key must not reach the upstream").doesNotContain(key);
      assertThat(r.headers().map().toString() + text(r)).as("merchant secret must not reach the buyer")
          .doesNotContain(MERCHANT_SECRET);
      UsageEvent event = eventOf(requestId);
      assertThat(event.billable()).isTrue();
      assertThat(event.tokens().inputTokens()).as("usage the upstream reported").isEqualTo(expected.promptTokens());
      assertThat(event.tokens().outputTokens()).isEqualTo(expected.completionTokens());
    }

    UsageEvent eventOf(String requestId) {
      java.util.UUID id = java.util.UUID.fromString(requestId);
      return org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(
          () -> gw.events.stream().filter(e -> e.requestId().equals(id)).findFirst().orElse(null),
          java.util.Objects::nonNull);
    }

    @Test
    void streamedChat_arrivesWholeAsEventStream() throws Exception {
      String key = gw.subscribe(openai);
      HttpResponse<byte[]> r = post("/v1/chat/completions", key, CHAT_STREAM);

      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
      assertThat(text(r)).contains("\"choices\":[]").endsWith("data: [DONE]\n\n");
      MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", CHAT_STREAM);
      UsageEvent event = eventOf(r.headers().firstValue("x-request-id").orElseThrow());
      assertThat(event.tokens().inputTokens()).isEqualTo(expected.promptTokens());
      assertThat(event.tokens().outputTokens()).isEqualTo(expected.completionTokens());
    }

    @Test
    void anthropicMessages_withXApiKey_jsonAndStream() throws Exception {
      String key = gw.subscribe(anthropic);
      HttpResponse<byte[]> json = post("/v1/messages", null, MESSAGES, "x-api-key", key, "anthropic-version", "2023-06-01");
      assertThat(json.statusCode()).as(text(json)).isEqualTo(200);
      assertThat(text(json)).contains("\"output_tokens\":12");
      assertThat(lastUpstreamRequest().header("anthropic-version")).isEqualTo("2023-06-01");
      assertThat(lastUpstreamRequest().headers().toString()).doesNotContain(key);

      HttpResponse<byte[]> stream = post("/v1/messages", null, MESSAGES_STREAM, "x-api-key", key);
      assertThat(stream.statusCode()).isEqualTo(200);
      assertThat(text(stream)).contains("event: message_start").contains("event: message_delta")
          .contains("event: message_stop");
    }

    @Test
    void customAgentsApi_getAndPost_jsonAndStream() throws Exception {
      String key = gw.subscribe(custom);
      HttpResponse<byte[]> getJson = get("/agent/run?q=find+three+words", key);
      assertThat(getJson.statusCode()).as(text(getJson)).isEqualTo(200);
      assertThat(text(getJson)).contains("\"usage\"");
      assertThat(lastUpstreamRequest().query()).as("the query is forwarded unchanged").contains("q=find+three+words");

      HttpResponse<byte[]> postStream = post("/agent/search", key, "{\"input\":\"look this up\",\"stream\":true}");
      assertThat(postStream.statusCode()).isEqualTo(200);
      assertThat(postStream.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
      assertThat(text(postStream)).contains("\"usage\"");

      HttpResponse<byte[]> undeclared = get("/agent/other", key);
      assertThat(undeclared.statusCode()).as("a path the product does not declare").isEqualTo(404);
    }

    @Test
    void identityAndCredentialHeaders_spelledWithUnderscores_neverReachUpstream() throws Exception {
      // Many servers (CGI, WSGI, PHP, some proxies) read X_Customer_Id as X-Customer-Id: a buyer
      // could forge its identity, or shadow the merchant's own static credential header.
      String key = gw.subscribe(openai);
      HttpResponse<byte[]> r = post("/v1/chat/completions", key, CHAT,
          "X_Customer_Id", "forged-buyer", "x_customer_name", "Forged", "X_Request_Id", "forged-id",
          "X_Api_Key", key, "Proxy_Authorization", "Basic Zm9yZ2Vk", "X_Merchant_Secret", "forged-secret",
          "x-customer_id", "forged-buyer", "X_Trace_Id", "kept");

      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      MockUpstream.ReceivedRequest up = lastUpstreamRequest();
      List<String> spoofs = up.headers().names().stream()
          .filter(n -> List.of("x-customer-id", "x-customer-name", "x-request-id", "x-api-key", "proxy-authorization",
              "authorization", "x-merchant-secret").contains(n.replace('_', '-').toLowerCase(java.util.Locale.ROOT)))
          .filter(n -> n.indexOf('_') >= 0).toList();
      assertThat(spoofs).as("no identity or credential header in its underscore spelling").isEmpty();
      assertThat(up.headers().toString()).as("buyer key must not reach the upstream").doesNotContain(key)
          .doesNotContain("forged");
      assertThat(up.header("x-customer-id")).isEqualTo("buyer-1");
      assertThat(up.header("x-merchant-secret")).isEqualTo(MERCHANT_SECRET);
      assertThat(up.header("X_Trace_Id")).as("other underscore headers pass").isEqualTo("kept");
    }

    @Test
    void callersKeyInTheQuery_isStripped_andTheRestOfTheQueryIsForwardedByteForByte() throws Exception {
      String key = gw.subscribe(custom);
      String encoded = key.replace("-", "%2D");
      HttpResponse<byte[]> r = get("/agent/run?q=find+three+words&api_key=" + key + "&x=%41%2f&&key=" + encoded
          + "&key=someone-else&y=" + key + "-not&API_KEY=" + key + "&z", key);

      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      MockUpstream.ReceivedRequest up = lastUpstreamRequest();
      assertThat(up.query()).as("only the parameters holding the caller's key are removed")
          .isEqualTo("q=find+three+words&x=%41%2f&&key=someone-else&y=" + key + "-not&z");

      get("/agent/run?api_key=" + key, key);
      assertThat(lastUpstreamRequest().query()).as("no query left: no '?' either").isNull();
      assertThat(lastUpstreamRequest().path()).isEqualTo("/agent/run");
    }

    @Test
    void aKeyOnlyInTheQuery_isNotAccepted() throws Exception {
      String key = gw.subscribe(custom);
      long before = mock.requestCount();
      assertError(get("/agent/run?q=x&api_key=" + key, null), 401, "missing_api_key");
      assertError(get("/agent/run?q=x&key=" + key, null), 401, "missing_api_key");
      assertThat(mock.requestCount()).as("keys come from headers only").isEqualTo(before);
    }

    @Test
    void controlBytesInTheRequestTarget_are400_andNeverForwarded() throws Exception {
      // (Whitespace bytes end the target where the codec parses leniently, RFC 9112 section 3;
      // the request line tollgate forwards is written anew, so none of them reaches an upstream.)
      String key = gw.subscribe(custom);
      String chatKey = gw.subscribe(openai);
      long before = mock.requestCount();
      for (String c : List.of("\u0001", "\u007f", "\u001b", "\t", "\u000b", "\u000c", "\r")) {
        String get = "GET /agent/run?q=a" + c + "b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n";
        assertThat(raw(get, 1)).as("control byte %d in a query", (int) c.charAt(0)).startsWith("HTTP/1.1 400")
            .contains("\"code\":\"malformed_request\"");
        String post = "POST /v1/chat/completions?trace=a" + c + "b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + chatKey + "\r\nContent-Length: " + CHAT.length() + "\r\n\r\n" + CHAT;
        assertThat(raw(post, 1)).as("control byte %d in a query", (int) c.charAt(0)).startsWith("HTTP/1.1 400");
      }
      assertThat(mock.requestCount()).as("nothing was forwarded").isEqualTo(before);
      assertThat(get("/agent/run?q=a%01b", key).statusCode()).as("percent-encoded is fine").isEqualTo(200);
    }

    @Test
    void recordedResponses_reachBuyerByteForByte() throws Exception {
      List<String> names = new ArrayList<>();
      try (var files = Files.list(fixtures.dir)) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".sse") || n.endsWith(".json"))
            .sorted().forEach(names::add);
      }
      assertThat(names).hasSizeGreaterThan(10);
      for (String name : names) {
        Protocol protocol = name.startsWith("anthropic") ? Protocol.ANTHROPIC : Protocol.OPENAI;
        Product p = ProxyHarness.product(protocol, fixtures.baseUrl(name), UpstreamAuth.NONE, Map.of(),
            Duration.ofSeconds(5), null);
        String key = gw.subscribe(p);
        String path = protocol == Protocol.ANTHROPIC ? "/v1/messages" : "/v1/chat/completions";
        HttpResponse<byte[]> r = post(path, key, CHAT);
        assertThat(r.statusCode()).as(name).isEqualTo(200);
        assertThat(r.body()).as("%s must reach the buyer unchanged", name)
            .isEqualTo(Files.readAllBytes(fixtures.dir.resolve(name)));
      }
    }

    @Test
    void badKeys_neverReachUpstream() throws Exception {
      Instant past = Instant.now().minusSeconds(60);
      String suspended = gw.subscribe(openai, List.of(), SubscriptionStatus.SUSPENDED, null);
      String cancelled = gw.subscribe(openai, List.of(), SubscriptionStatus.CANCELLED, null);
      String expired = gw.subscribe(openai, List.of(), SubscriptionStatus.ACTIVE, past);
      long before = mock.requestCount();

      assertError(post("/v1/chat/completions", null, CHAT), 401, "missing_api_key");
      assertError(post("/v1/chat/completions", "tg-wrong", CHAT), 401, "invalid_api_key");
      assertError(post("/v1/chat/completions", suspended, CHAT), 403, "subscription_suspended");
      assertError(post("/v1/chat/completions", cancelled, CHAT), 403, "subscription_cancelled");
      assertError(post("/v1/chat/completions", expired, CHAT), 403, "subscription_expired");

      assertThat(mock.requestCount()).as("no refused call may reach the upstream").isEqualTo(before);
    }

    @Test
    void badInput_getsClearErrors_andGatewayKeepsServing() throws Exception {
      String key = gw.subscribe(openai, List.of("mock-gpt"), SubscriptionStatus.ACTIVE, null);
      long before = mock.requestCount();
      assertError(post("/v1/chat/completions", key, "{\"model\": \"mock-gpt\", \"messages\": [}"), 400, "invalid_json");
      assertError(post("/v1/chat/completions", key, "{\"messages\":[]}"), 400, "missing_model");
      assertError(post("/v1/chat/completions", key, "{\"model\":\"gpt-9\"}"), 404, "model_not_found");
      assertError(post("/v1/nope", key, CHAT), 404, "unknown_url");
      assertError(get("/v1/chat/completions", key), 405, "method_not_allowed");
      assertError(post("/v1/chat/completions", key, "{\"model\":\"mock-gpt\",\"pad\":\"" + "x".repeat(70_000) + "\"}"),
          413, "request_too_large");
      assertThat(mock.requestCount()).as("refused calls never reach the upstream").isEqualTo(before);

      assertThat(post("/v1/chat/completions", key, CHAT).statusCode()).isEqualTo(200);
    }

    @Test
    void oversizedBody_theBuyerStillReads413_whileItIsStillSending() throws Exception {
      String key = gw.subscribe(openai);
      long before = mock.requestCount();
      // The gateway answers as soon as the declared length is over the limit, while this client
      // goes on writing 4 MB it will never read back: without a lingering close the kernel resets
      // the connection and the 413 is lost.
      byte[] chunk = "x".repeat(64 * 1024).getBytes(StandardCharsets.US_ASCII);
      int chunks = 64;
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", gw.port)) {
        s.setSoTimeout(10_000);
        java.io.OutputStream out = s.getOutputStream();
        out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
            + "\r\nContent-Type: application/json\r\nContent-Length: " + (long) chunk.length * chunks + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < chunks; i++) {
          out.write(chunk);
        }
        out.flush();
        String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(answer).startsWith("HTTP/1.1 413").contains("request_too_large");
      }
      assertThat(mock.requestCount()).isEqualTo(before);
      assertThat(post("/v1/chat/completions", key, CHAT).statusCode()).isEqualTo(200);
    }

    @Test
    void upstreamDown_is502_slow_is504_andGatewayKeepsServing() throws Exception {
      int deadPort;
      try (ServerSocket s = new ServerSocket(0)) {
        deadPort = s.getLocalPort();
      }
      Product down = ProxyHarness.product(Protocol.OPENAI, "http://127.0.0.1:" + deadPort, UpstreamAuth.NONE, Map.of(),
          Duration.ofSeconds(1), null);
      assertError(post("/v1/chat/completions", gw.subscribe(down), CHAT), 502, "upstream_unavailable");

      Product slow = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), new UpstreamAuth(UpstreamAuth.Type.AKSK, AK, SK),
          Map.of("x-merchant-secret", MERCHANT_SECRET), Duration.ofMillis(300), null);
      assertError(post("/v1/chat/completions", gw.subscribe(slow), CHAT, "x-mock-delay-ms", "1500"), 504, "upstream_timeout");

      assertThat(post("/v1/chat/completions", gw.subscribe(openai), CHAT).statusCode()).isEqualTo(200);
    }

    @Test
    void endpointHeaderThatCannotBeSent_is500InTheErrorShape_andTheConnectionKeepsServing() throws Exception {
      // A header value stored before registration refused control characters: Netty will not put
      // it in a request. The call must end with an answer, not with a dead connection.
      Product broken = ProxyHarness.product(Protocol.OPENAI, mock.baseUrl(), new UpstreamAuth(UpstreamAuth.Type.AKSK, AK, SK),
          Map.of("x-merchant-secret", "merchant\u000bsecret"), Duration.ofSeconds(2), null);
      String brokenKey = gw.subscribe(broken);
      String goodKey = gw.subscribe(openai);
      long before = mock.requestCount();
      String req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
          + CHAT.length() + "\r\nAuthorization: Bearer ";

      String got = raw(req + brokenKey + "\r\n\r\n" + CHAT + req + goodKey + "\r\n\r\n" + CHAT, 2);

      assertThat(got).as(got).startsWith("HTTP/1.1 500 ").contains("{\"error\":{\"message\":\"")
          .contains("\"code\":\"internal_error\"").doesNotContain("merchant\u000bsecret");
      assertThat(got.indexOf("HTTP/1.1 200 ")).as("the same connection serves the next call").isPositive();
      assertThat(mock.requestCount()).as("only the good call reached the upstream").isEqualTo(before + 1);
    }

    @Test
    void upstreamClosingMidStream_cutsBuyerStream_andIsNotBillable() throws Exception {
      String key = gw.subscribe(openai);
      assertThatThrownBy(() -> post("/v1/chat/completions", key, CHAT_STREAM, "x-mock-abort-after", "2"))
          .as("the buyer must see an incomplete response, not a clean end")
          .isInstanceOf(IOException.class);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gw.events.stream()
          .anyMatch(e -> e.outcome() == UsageEvent.Outcome.UPSTREAM_FAILED && !e.billable()));

      assertThat(post("/v1/chat/completions", key, CHAT).statusCode()).isEqualTo(200);
    }

    @Test
    void upstreamError_isPassedThrough_andNotBillable() throws Exception {
      String key = gw.subscribe(openai);
      gw.events.clear();
      HttpResponse<byte[]> r = post("/v1/chat/completions", key, CHAT, "x-mock-status", "429");
      assertThat(r.statusCode()).isEqualTo(429);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !gw.events.isEmpty());
      assertThat(gw.events).allSatisfy(e -> assertThat(e.billable()).isFalse());
    }

    @Test
    void modelsAndSubscription_answeredFromTheSubscription() throws Exception {
      String key = gw.subscribe(openai, List.of("mock-gpt", "mock-gpt-mini"), SubscriptionStatus.ACTIVE, null);
      long before = mock.requestCount();
      HttpResponse<byte[]> models = get("/v1/models", key);
      assertThat(models.statusCode()).isEqualTo(200);
      assertThat(text(models)).contains("\"id\":\"mock-gpt\"").contains("\"id\":\"mock-gpt-mini\"");
      HttpResponse<byte[]> sub = get("/v1/subscription", key);
      assertThat(sub.statusCode()).isEqualTo(200);
      assertThat(text(sub)).contains("\"id\":\"sub-");
      assertThat(mock.requestCount()).isEqualTo(before);
    }

    @Test
    void concurrentCalls_eachGetTheirOwnAnswer() throws Exception {
      String key = gw.subscribe(openai);
      List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        String body = "{\"model\":\"mock-gpt\",\"max_tokens\":" + (1 + i % 30) + ",\"stream\":" + (i % 2 == 0)
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"call " + i + "\"}]}";
        calls.add(http.sendAsync(HttpRequest.newBuilder(URI.create(gw.url("/v1/chat/completions")))
            .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString()));
      }
      for (int i = 0; i < calls.size(); i++) {
        HttpResponse<String> r = calls.get(i).get();
        assertThat(r.statusCode()).isEqualTo(200);
        int n = 1 + i % 30;
        assertThat(r.body()).as("call %d gets its own answer", i).contains("tok" + n).doesNotContain("tok" + (n + 1) + " ")
            .doesNotContain("tok" + (n + 1) + "\"");
      }
    }

    @Test
    void weightedEndpoints_shareCalls_andADeadOneIsLeftOut() throws Exception {
      MockUpstream second = MockUpstream.start(vertx, MockUpstream.Options.defaults().withAksk(AK, SK)
          .withRequiredHeader("x-merchant-secret", MERCHANT_SECRET)).await();
      int deadPort;
      try (ServerSocket s = new ServerSocket(0)) {
        deadPort = s.getLocalPort();
      }
      try {
        Map<String, String> secret = Map.of("x-merchant-secret", MERCHANT_SECRET);
        Product weighted = new Product("p-w-" + eventLoops, "m-1", "weighted", Protocol.OPENAI, List.of(
            new io.tollgate.gateway.catalog.Endpoint(mock.baseUrl(), 3, secret),
            new io.tollgate.gateway.catalog.Endpoint(second.baseUrl(), 1, secret),
            new io.tollgate.gateway.catalog.Endpoint("http://127.0.0.1:" + deadPort, 2, secret)),
            new UpstreamAuth(UpstreamAuth.Type.AKSK, AK, SK), Duration.ofSeconds(1), Duration.ofSeconds(5), null,
            null, null, null, Instant.now());
        String key = gw.subscribe(weighted);
        long firstBefore = mock.requestCount();
        int failed = 0;
        for (int i = 0; i < 120; i++) {
          if (post("/v1/chat/completions", key, CHAT).statusCode() != 200) {
            failed++;
          }
        }
        assertThat(failed).as("the dead endpoint fails a few calls, then is left out")
            .isBetween(1, EndpointHealth.FAILURES_TO_OPEN);
        long first = mock.requestCount() - firstBefore;
        long other = second.requestCount();
        assertThat(first + other).isEqualTo(120 - failed);
        assertThat((double) first / (first + other)).as("weights 3:1").isBetween(0.6, 0.9);
      } finally {
        second.close().await();
      }
    }

    /** Writes raw bytes on one connection and reads until {@code responses} HTTP/1.1 answers arrived. */
    String raw(String requests, int responses) throws Exception {
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gw.port)) {
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write(requests.getBytes(StandardCharsets.UTF_8));
        socket.getOutputStream().flush();
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[8192];
        while (countOf(got.toString(), "HTTP/1.1 ") < responses || !endsWithWholeAnswer(got.toString())) {
          int n = socket.getInputStream().read(buf);
          if (n < 0) {
            break;
          }
          got.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
        return got.toString();
      }
    }

    static int countOf(String s, String part) {
      int n = 0;
      for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
        n++;
      }
      return n;
    }

    static boolean endsWithWholeAnswer(String s) {
      int head = s.lastIndexOf("HTTP/1.1 ");
      int bodyAt = s.indexOf("\r\n\r\n", head);
      if (head < 0 || bodyAt < 0) {
        return false;
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(s.substring(head, bodyAt));
      return m.find() ? s.length() - bodyAt - 4 >= Integer.parseInt(m.group(1)) : s.endsWith("0\r\n\r\n");
    }

    @Test
    void pipelinedRequests_areAnsweredInOrder_onOneConnection() throws Exception {
      String key = gw.subscribe(openai);
      String first = "{\"model\":\"mock-gpt\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"one\"}]}";
      String second = "{\"model\":\"mock-gpt\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"two\"}]}";
      String req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nContent-Length: ";
      String got = raw(req + first.length() + "\r\n\r\n" + first + req + second.length() + "\r\n\r\n" + second, 2);
      assertThat(countOf(got, "HTTP/1.1 200")).as(got).isEqualTo(2);
      assertThat(got.indexOf("tok3\"")).as("the first answer comes first").isPositive()
          .isLessThan(got.indexOf("tok5\""));
    }

    @Test
    void chunkedRequestBody_withExpectContinue_isForwardedWhole() throws Exception {
      String key = gw.subscribe(openai);
      String body = CHAT;
      String chunked = Integer.toHexString(10) + "\r\n" + body.substring(0, 10) + "\r\n"
          + Integer.toHexString(body.length() - 10) + "\r\n" + body.substring(10) + "\r\n0\r\n\r\n";
      String got = raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
          + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
          + chunked, 2);
      assertThat(got).as(got).startsWith("HTTP/1.1 100 Continue").contains("HTTP/1.1 200");
      MockUpstream.ReceivedRequest up = lastUpstreamRequest();
      assertThat(up.bodyAsString()).isEqualTo(body);
      assertThat(up.header("content-length")).isEqualTo(Integer.toString(body.length()));
      assertThat(up.header("expect")).isNull();
    }

    @Test
    void twentyMegabyteAnswers_areBilledWithTheUsageTheUpstreamReported() throws Exception {
      String content = "0123456789abcdef ".repeat((20 << 20) / 17); // ~20 MB of answer text
      String usage = "\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":4934475,\"total_tokens\":4934496}";
      String delta = "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
          + "\"delta\":{\"content\":\"" + content.substring(0, 20_000) + "\"}}],\"usage\":null}\n\n";
      Map<String, String> answers = new java.util.LinkedHashMap<>();
      answers.put("/json", "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
          + "\"content\":\"" + content + "\"},\"finish_reason\":\"stop\"}]," + usage + "}");
      answers.put("/sse", delta.repeat(1_050) + "data: {\"object\":\"chat.completion.chunk\",\"choices\":[]," + usage
          + "}\n\ndata: [DONE]\n\n");
      // One 20 MB event that carries the usage, as vLLM's last chunk does.
      answers.put("/sse-one-event", "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
          + "\"delta\":{\"content\":\"" + content + "\"},\"finish_reason\":\"stop\"}]," + usage
          + "}\n\ndata: [DONE]\n\n");
      var upstream = vertx.createHttpServer().requestHandler(req -> req.body().onComplete(b -> {
        String answer = "/" + req.path().split("/")[1]; // the product's base path, then the buyer's
        byte[] bytes = answers.get(answer).getBytes(StandardCharsets.UTF_8);
        var res = req.response().setChunked(true)
            .putHeader("content-type", answer.startsWith("/sse") ? "text/event-stream" : "application/json");
        for (int i = 0; i < bytes.length; i += 64 * 1024) {
          res.write(io.vertx.core.buffer.Buffer.buffer().appendBytes(bytes, i, Math.min(64 * 1024, bytes.length - i)));
        }
        res.end();
      })).listen(0, "127.0.0.1").await();
      try {
        for (String path : answers.keySet()) {
          Product p = ProxyHarness.product(Protocol.OPENAI, "http://127.0.0.1:" + upstream.actualPort() + path,
              UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(10), null);
          HttpResponse<byte[]> r = post("/v1/chat/completions", gw.subscribe(p), path.startsWith("/sse") ? CHAT_STREAM : CHAT);

          assertThat(r.statusCode()).as(path).isEqualTo(200);
          assertThat(r.body()).as("%s reaches the buyer whole", path).hasSize(answers.get(path).length());
          UsageEvent event = eventOf(r.headers().firstValue("x-request-id").orElseThrow());
          assertThat(event.tokens())
              .as("%s: the usage the upstream reported after 20 MB, not an estimate or zero", path)
              .isEqualTo(new io.tollgate.metering.usage.TokenUsage(21, 0, 4_934_475, /* estimated= */ false));
        }
      } finally {
        upstream.close().await();
      }
    }

    static void assertError(HttpResponse<byte[]> r, int status, String code) {
      assertThat(r.statusCode()).as(text(r)).isEqualTo(status);
      assertThat(text(r)).as("OpenAI error shape").startsWith("{\"error\":{\"message\":\"")
          .contains("\"code\":\"" + code + "\"");
    }
  }
}
