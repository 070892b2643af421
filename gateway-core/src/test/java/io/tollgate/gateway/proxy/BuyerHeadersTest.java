package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.HttpResponseFor;
import com.anthropic.errors.NotFoundException;
import com.anthropic.errors.RateLimitException;
import com.anthropic.errors.UnauthorizedException;
import com.anthropic.models.ErrorType;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.api.ApiError;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.quota.JdbcQuotaPool;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.testing.Services;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * What buyers' clients read on every answer of the buyer port: the request id, the subscription's
 * own rate limits and quota in the names of each protocol's SDK, never the merchant's account
 * headers, and errors in the product's shape; checked over real HTTP, and with Anthropic's SDK.
 *
 * <p>The gateway runs as one of two instances ({@code metering.instances: 2}), so every limit it
 * shows is its share: half the SKU's, rounded up.
 */
@TestInstance(Lifecycle.PER_CLASS)
class BuyerHeadersTest {

  static final String MERCHANT_ORG = "org-merchant-account-7";
  static final ObjectMapper JSON = new ObjectMapper();
  /** What the merchant's provider says of the merchant's own account. */
  static final Map<String, String> UPSTREAM_ACCOUNT_HEADERS = Map.of(
      "x-ratelimit-limit-requests", "99990",
      "x-ratelimit-remaining-tokens", "99991",
      "x-ratelimit-reset-requests", "9999ms",
      "anthropic-ratelimit-requests-limit", "99992",
      "anthropic-ratelimit-tokens-reset", "2024-01-01T00:00:00Z",
      "anthropic-ratelimit-input-tokens-remaining", "99993",
      "openai-organization", MERCHANT_ORG,
      "openai-project", "proj_merchant",
      "anthropic-organization-id", MERCHANT_ORG);
  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
  static final String CHAT_STREAM = "{\"model\":\"mock-gpt\",\"stream\":true,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
  static final String MESSAGES = "{\"model\":\"mock-claude\",\"max_tokens\":12,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";
  static final String MESSAGES_STREAM = "{\"model\":\"mock-claude\",\"max_tokens\":12,\"stream\":true,"
      + "\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";

  Vertx vertx;
  HttpServer upstream;
  ExecutorService refills;
  ProxyHarness gw;
  HttpClient http;
  Product openai;
  Product anthropic;
  Product custom;
  final List<AnthropicClient> sdkClients = new CopyOnWriteArrayList<>();

  @BeforeAll
  void start() throws Exception {
    vertx = Vertx.vertx();
    upstream = providerWithAccountHeaders(vertx);
    String base = "http://127.0.0.1:" + upstream.actualPort();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    refills = Executors.newSingleThreadExecutor();
    JdbcQuotaPool pool = new JdbcQuotaPool(Services.h2(), "tg_hdr_").migrate();
    QuotaLeases callQuota = new QuotaLeases(pool, refills, 10, Duration.ofSeconds(5), Clock.systemUTC(), registry);
    QuotaLeases tokenQuota = new QuotaLeases(pool, refills, 1000, Duration.ofSeconds(5), Clock.systemUTC(), registry);
    RateLimiter limiter = new RateLimiter(Clock.systemUTC(), /* instances= */ 2, registry);
    gw = new ProxyHarness(1, new CallMetering(tokenQuota, callQuota, limiter, registry));
    openai = ProxyHarness.product(Protocol.OPENAI, base, UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(5), null);
    anthropic = ProxyHarness.product(Protocol.ANTHROPIC, base, UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(5), null);
    custom = ProxyHarness.product(Protocol.CUSTOM, base, UpstreamAuth.NONE, Map.of(), Duration.ofSeconds(5),
        List.of("/v1/chat/completions"));
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  void stop() {
    sdkClients.forEach(AnthropicClient::close);
    gw.close();
    refills.shutdownNow();
    upstream.close().await();
    vertx.close().await();
    assertThat(NettyLeaks.collect()).as("no Netty buffer may leak").isEmpty();
  }

  // ---------------------------------------------------------------- served calls

  @Test
  void openAiCalls_jsonAndStream_showTheSubscriptionsShareOfItsLimits_andNoMerchantAccountHeader() throws Exception {
    String key = gw.subscribe(openai, BillingMode.PER_TOKEN, 61, 100_001, null);

    HttpResponse<String> json = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + key);
    HttpResponse<String> stream = post("/v1/chat/completions", CHAT_STREAM, "authorization", "Bearer " + key);

    assertThat(json.statusCode()).as(json.body()).isEqualTo(200);
    assertThat(stream.statusCode()).as(stream.body()).isEqualTo(200);
    assertThat(stream.headers().firstValue("content-type").orElseThrow()).startsWith("text/event-stream");
    assertThat(stream.body()).endsWith("data: [DONE]\n\n");
    for (HttpResponse<String> r : List.of(json, stream)) {
      assertRequestId(r, /* anthropic= */ false);
      assertThat(header(r, "x-ratelimit-limit-requests")).as("ceil(61 / 2 instances)").isEqualTo("31");
      assertThat(header(r, "x-ratelimit-limit-tokens")).isEqualTo("50001");
      assertThat(Long.parseLong(header(r, "x-ratelimit-remaining-tokens"))).isBetween(0L, 50_000L);
      assertThat(header(r, "x-ratelimit-reset-requests")).matches("(1m)?[0-9]{1,2}s|2m0s");
      assertThat(header(r, "x-ratelimit-reset-tokens")).matches("(1m)?[0-9]{1,2}s|2m0s");
      assertNoMerchantAccountHeader(r);
      assertThat(r.headers().map()).as("no Anthropic names on an OpenAI product")
          .doesNotContainKeys("anthropic-ratelimit-requests-limit", "request-id");
      assertThat(r.headers().firstValue("openai-processing-ms")).as("other upstream headers pass").hasValue("12");
      assertThat(r.headers().map()).doesNotContainKey("x-tollgate-quota-remaining");
    }
    assertThat(header(json, "x-ratelimit-remaining-requests")).isEqualTo("30");
    assertThat(header(stream, "x-ratelimit-remaining-requests")).isEqualTo("29");
  }

  @Test
  void anthropicCalls_jsonAndStream_showAnthropicsNames_withResetsAsRfc3339() throws Exception {
    String key = gw.subscribe(anthropic, BillingMode.PER_TOKEN, 10, 4_000, null);
    Instant before = Instant.now();

    HttpResponse<String> json = post("/v1/messages", MESSAGES, "x-api-key", key);
    HttpResponse<String> stream = post("/v1/messages", MESSAGES_STREAM, "x-api-key", key);

    assertThat(json.statusCode()).as(json.body()).isEqualTo(200);
    assertThat(stream.statusCode()).as(stream.body()).isEqualTo(200);
    assertThat(stream.body()).contains("event: message_stop");
    for (HttpResponse<String> r : List.of(json, stream)) {
      assertRequestId(r, /* anthropic= */ true);
      assertThat(header(r, "anthropic-ratelimit-requests-limit")).isEqualTo("5");
      assertThat(header(r, "anthropic-ratelimit-tokens-limit")).isEqualTo("2000");
      assertThat(Long.parseLong(header(r, "anthropic-ratelimit-tokens-remaining"))).isBetween(0L, 1_999L);
      for (String reset : List.of("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset")) {
        Instant at = Instant.parse(header(r, reset));
        assertThat(at).as(reset).isAfter(before).isBefore(before.plusSeconds(121));
        assertThat(at.getEpochSecond() % 60).as("a rate window fades at a minute's end").isZero();
      }
      assertNoMerchantAccountHeader(r);
      assertThat(r.headers().map()).as("no OpenAI names on an Anthropic product")
          .doesNotContainKeys("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens");
    }
    assertThat(header(json, "anthropic-ratelimit-requests-remaining")).isEqualTo("4");
    assertThat(header(stream, "anthropic-ratelimit-requests-remaining")).isEqualTo("3");
  }

  @Test
  void anUnlimitedDimension_hasNoHeader_andAnUnlimitedSku_onlyTheRequestId() throws Exception {
    String rpmOnly = gw.subscribe(openai, BillingMode.PER_TOKEN, 100, null, null);
    String unlimited = gw.subscribe(custom, BillingMode.PER_TOKEN, null, null, null);

    HttpResponse<String> limited = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + rpmOnly);
    HttpResponse<String> free = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + unlimited);

    assertThat(header(limited, "x-ratelimit-limit-requests")).isEqualTo("50");
    assertThat(limited.headers().map()).doesNotContainKeys("x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens");
    assertThat(free.statusCode()).as(free.body()).isEqualTo(200);
    assertRequestId(free, /* anthropic= */ false);
    assertThat(free.headers().map().keySet()).as("neither ours nor the merchant's")
        .noneMatch(name -> name.startsWith("x-ratelimit-") || name.startsWith("anthropic-ratelimit-"));
    assertNoMerchantAccountHeader(free);
  }

  @Test
  void aCustomProductWithLimits_getsOpenAisNames() throws Exception {
    String key = gw.subscribe(custom, BillingMode.PER_TOKEN, 20, null, null);

    HttpResponse<String> r = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + key);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(header(r, "x-ratelimit-limit-requests")).isEqualTo("10");
    assertThat(header(r, "x-ratelimit-remaining-requests")).isEqualTo("9");
  }

  @Test
  void packageCalls_showWhatIsLeftOfTheQuota() throws Exception {
    String calls = gw.subscribe(openai, BillingMode.CALL_PACKAGE, null, null, 100L);
    String tokens = gw.subscribe(anthropic, BillingMode.TOKEN_PACKAGE, null, null, 1_000_000L);

    HttpResponse<String> first = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + calls);
    HttpResponse<String> second = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + calls);
    HttpResponse<String> models = get("/v1/models", "authorization", "Bearer " + calls);
    HttpResponse<String> tokenCall = post("/v1/messages", MESSAGES, "x-api-key", tokens);

    assertThat(header(first, "x-tollgate-quota-remaining")).as("this call's is reserved").isEqualTo("99");
    assertThat(header(second, "x-tollgate-quota-remaining")).isEqualTo("98");
    assertThat(header(models, "x-tollgate-quota-remaining")).as("two calls used").isEqualTo("98");
    assertThat(Long.parseLong(header(tokenCall, "x-tollgate-quota-remaining")))
        .as("less the call's estimate, reserved until it settles").isBetween(999_000L, 999_999L);
    assertThat(first.headers().map()).as("a package without rpm/tpm has no rate-limit header")
        .doesNotContainKeys("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens");
  }

  // ---------------------------------------------------------------- refusals

  @Test
  void refusalsWithoutAProduct_takeTheRoutesShape_andCarryARequestId() throws Exception {
    HttpResponse<String> noKeyChat = post("/v1/chat/completions", CHAT);
    HttpResponse<String> noKeyMessages = post("/v1/messages", MESSAGES);
    HttpResponse<String> badKeyBelowMessages = post("/v1/messages/count_tokens?beta=true", MESSAGES,
        "x-api-key", "sk-ant-wrong");
    HttpResponse<String> lookalike = post("/v1/messagesx", MESSAGES, "x-api-key", "sk-ant-wrong");

    assertOpenAiError(noKeyChat, 401, "missing_api_key");
    assertRequestId(noKeyChat, /* anthropic= */ false);
    assertAnthropicError(noKeyMessages, 401, "authentication_error");
    assertRequestId(noKeyMessages, /* anthropic= */ true);
    assertAnthropicError(badKeyBelowMessages, 401, "authentication_error");
    assertRequestId(badKeyBelowMessages, /* anthropic= */ true);
    assertOpenAiError(lookalike, 401, "invalid_api_key");
  }

  @Test
  void refusalsOfAnAnthropicProduct_areAnthropicShaped_withItsHeaders() throws Exception {
    String key = gw.subscribe(anthropic, BillingMode.PER_TOKEN, 2, null, null); // this instance: 1 a minute

    HttpResponse<String> unknownModel = post("/v1/messages", MESSAGES.replace("mock-claude", "claude-other"),
        "x-api-key", key);
    HttpResponse<String> openAiPath = post("/v1/chat/completions", CHAT, "x-api-key", key);
    HttpResponse<String> notJson = post("/v1/messages", "{not json", "x-api-key", key);
    HttpResponse<String> served = post("/v1/messages", MESSAGES, "x-api-key", key);
    HttpResponse<String> limited = post("/v1/messages", MESSAGES, "x-api-key", key);

    assertAnthropicError(unknownModel, 404, "not_found_error");
    assertAnthropicError(openAiPath, 404, "not_found_error");
    assertAnthropicError(notJson, 400, "invalid_request_error");
    assertThat(served.statusCode()).isEqualTo(200);
    assertAnthropicError(limited, 429, "rate_limit_error");
    assertThat(limited.headers().firstValue("retry-after")).isPresent();
    assertThat(header(limited, "anthropic-ratelimit-requests-limit")).isEqualTo("1");
    assertThat(header(limited, "anthropic-ratelimit-requests-remaining")).isEqualTo("0");
    for (HttpResponse<String> r : List.of(unknownModel, openAiPath, notJson, limited)) {
      assertRequestId(r, /* anthropic= */ true);
    }
  }

  @Test
  void refusalsOfAnOpenAiProduct_keepOpenAisShape_withItsHeaders() throws Exception {
    String key = gw.subscribe(openai, BillingMode.PER_TOKEN, 2, null, null);

    HttpResponse<String> messagesPath = post("/v1/messages", MESSAGES, "authorization", "Bearer " + key);
    HttpResponse<String> served = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + key);
    HttpResponse<String> limited = post("/v1/chat/completions", CHAT, "authorization", "Bearer " + key);

    assertOpenAiError(messagesPath, 404, "unknown_url");
    assertThat(served.statusCode()).isEqualTo(200);
    assertOpenAiError(limited, 429, "rate_limit_exceeded");
    assertThat(header(limited, "x-ratelimit-remaining-requests")).isEqualTo("0");
    assertThat(header(limited, "x-ratelimit-reset-requests")).matches("(1m)?[0-9]{1,2}s|2m0s");
    for (HttpResponse<String> r : List.of(messagesPath, limited)) {
      assertRequestId(r, /* anthropic= */ false);
      assertThat(header(r, "x-ratelimit-limit-requests")).isEqualTo("1");
    }
  }

  @Test
  void answersTheGatewayGivesItself_carryTheRequestId() throws Exception {
    String key = gw.subscribe(anthropic, BillingMode.PER_TOKEN, 10, null, null);

    HttpResponse<String> models = get("/v1/models", "x-api-key", key);
    HttpResponse<String> subscription = get("/v1/subscription", "x-api-key", key);
    HttpResponse<String> tooLarge = post("/v1/messages", "{\"model\":\"" + "x".repeat(70_000) + "\"}");

    for (HttpResponse<String> r : List.of(models, subscription)) {
      assertThat(r.statusCode()).isEqualTo(200);
      assertRequestId(r, /* anthropic= */ true);
      assertThat(header(r, "anthropic-ratelimit-requests-limit")).isEqualTo("5");
    }
    assertAnthropicError(tooLarge, 413, "request_too_large");
    assertRequestId(tooLarge, /* anthropic= */ true);
  }

  @Test
  void aMalformedRequest_isRefusedWithARequestId() throws Exception {
    try (Socket s = new Socket("127.0.0.1", gw.port)) {
      s.setSoTimeout(5_000);
      OutputStream out = s.getOutputStream();
      out.write("GET /v1/models\u007f HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);

      assertThat(answer).startsWith("HTTP/1.1 400");
      assertThat(answer).containsPattern("(?i)\r\nx-request-id: [0-9a-f-]{36}\r\n");
    }
  }

  @Test
  void aCallTheUpstreamCannotTake_isAnsweredInTheProductsShape_withTheRequestIdOfItsUsageEvent() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    Product down = ProxyHarness.product(Protocol.ANTHROPIC, "http://127.0.0.1:" + closed, UpstreamAuth.NONE, Map.of(),
        Duration.ofSeconds(2), null);
    String key = gw.subscribe(down, BillingMode.PER_TOKEN, 10, null, null);

    HttpResponse<String> r = post("/v1/messages", MESSAGES, "x-api-key", key);

    assertAnthropicError(r, 502, "api_error");
    assertRequestId(r, /* anthropic= */ true);
    assertThat(header(r, "anthropic-ratelimit-requests-limit")).isEqualTo("5");
    UUID id = UUID.fromString(header(r, "x-request-id"));
    UsageEvent event = Awaitility.await().atMost(Duration.ofSeconds(5)).until(
        () -> gw.events.stream().filter(e -> e.requestId().equals(id)).findFirst().orElse(null), Objects::nonNull);
    assertThat(event.billable()).isFalse();
  }

  // ---------------------------------------------------------------- Anthropic's SDK

  @Test
  void anthropicsSdk_raisesItsAuthenticationError_onABadKey() {
    AnthropicClient client = sdk("sk-ant-not-a-tollgate-key");

    assertThatThrownBy(() -> client.messages().create(sdkMessage()))
        .isInstanceOfSatisfying(UnauthorizedException.class, e -> {
          assertThat(e.statusCode()).isEqualTo(401);
          assertThat(e.type()).as("parsed from Anthropic's error shape").hasValue(ErrorType.AUTHENTICATION_ERROR);
          assertThat(e.apiMessage()).hasValue(ApiError.invalidKey().message());
          assertThat(e.requestId()).as("read from request-id").isPresent();
          assertThat(e.requestId().get()).isEqualTo(e.headers().values("x-request-id").get(0));
        });
  }

  @Test
  void anthropicsSdk_readsTheLimits_andRaisesItsTypedErrors() {
    String key = gw.subscribe(anthropic, BillingMode.PER_TOKEN, 2, 10_000, null);
    AnthropicClient client = sdk(key);

    HttpResponseFor<Message> served = client.messages().withRawResponse().create(sdkMessage());
    assertThat(served.statusCode()).isEqualTo(200);
    assertThat(served.parse().usage().outputTokens()).isEqualTo(2);
    assertThat(served.headers().values("anthropic-ratelimit-requests-remaining")).containsExactly("0");
    assertThat(served.headers().values("anthropic-ratelimit-tokens-limit")).containsExactly("5000");
    assertThat(served.headers().values("anthropic-organization-id")).isEmpty();

    assertThatThrownBy(() -> client.messages().create(sdkMessage()))
        .isInstanceOfSatisfying(RateLimitException.class,
            e -> assertThat(e.type()).hasValue(ErrorType.RATE_LIMIT_ERROR));
    assertThatThrownBy(() -> sdk(gw.subscribe(anthropic, BillingMode.PER_TOKEN, null, null, null)).messages()
        .create(sdkMessage().toBuilder().model("claude-not-in-the-sku").build()))
        .isInstanceOfSatisfying(NotFoundException.class,
            e -> assertThat(e.type()).hasValue(ErrorType.NOT_FOUND_ERROR));
  }

  /** A client of the gateway's buyer port, closed after the tests; no retries, so each call is one answer. */
  AnthropicClient sdk(String key) {
    AnthropicClient client = AnthropicOkHttpClient.builder().baseUrl(gw.url("")).apiKey(key).maxRetries(0)
        .timeout(Duration.ofSeconds(10)).build();
    sdkClients.add(client);
    return client;
  }

  static MessageCreateParams sdkMessage() {
    return MessageCreateParams.builder().model("mock-claude").maxTokens(12).addUserMessage("hi there").build();
  }

  // ---------------------------------------------------------------- helpers

  HttpResponse<String> post(String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(20))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gw.url(path))).timeout(Duration.ofSeconds(20)).GET();
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).orElseThrow(() -> new AssertionError("no " + name + " in " + r.headers().map()));
  }

  static void assertRequestId(HttpResponse<?> r, boolean anthropic) {
    List<String> ids = r.headers().allValues("x-request-id");
    assertThat(ids).as("one x-request-id").hasSize(1);
    assertThat(UUID.fromString(ids.get(0)).version()).isEqualTo(4);
    if (anthropic) {
      assertThat(r.headers().allValues("request-id")).as("Anthropic's request-id").containsExactly(ids.get(0));
    } else {
      assertThat(r.headers().map()).doesNotContainKey("request-id");
    }
  }

  static void assertNoMerchantAccountHeader(HttpResponse<String> r) {
    UPSTREAM_ACCOUNT_HEADERS.forEach((name, value) -> assertThat(r.headers().allValues(name))
        .as("the merchant's %s must not reach the buyer", name).doesNotContain(value));
    assertThat(r.headers().map()).doesNotContainKeys("openai-organization", "openai-project",
        "anthropic-organization-id", "anthropic-ratelimit-input-tokens-remaining");
    assertThat(r.headers().map().toString()).doesNotContain(MERCHANT_ORG);
  }

  static void assertOpenAiError(HttpResponse<String> r, int status, String code) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonNode error = JSON.readTree(r.body()).get("error");
    assertThat(error.get("code").asText()).isEqualTo(code);
    assertThat(error.get("type").asText()).isNotEmpty();
    assertThat(error.get("message").asText()).isNotEmpty();
    assertThat(JSON.readTree(r.body()).has("type")).as("not Anthropic's shape").isFalse();
  }

  static void assertAnthropicError(HttpResponse<String> r, int status, String type) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.get("type").asText()).isEqualTo("error");
    assertThat(body.get("error").get("type").asText()).isEqualTo(type);
    assertThat(body.get("error").get("message").asText()).isNotEmpty();
    assertThat(body.get("error").has("code")).as("not OpenAI's shape").isFalse();
  }

  /**
   * A provider as a merchant's endpoint would be: OpenAI and Anthropic answers, JSON and streamed,
   * each with the merchant's own account headers (its rate limits with the provider, its
   * organisation and project), which tollgate must not pass on.
   */
  static HttpServer providerWithAccountHeaders(Vertx vertx) {
    return vertx.createHttpServer().requestHandler(req -> req.body().onComplete(b -> {
      HttpServerResponse res = req.response();
      UPSTREAM_ACCOUNT_HEADERS.forEach(res::putHeader);
      res.putHeader("X-RateLimit-Remaining-Tokens", "99991") // any case
          .putHeader("Anthropic-RateLimit-Tokens-Reset", "2024-01-01T00:00:00Z")
          .putHeader("openai-processing-ms", "12");
      boolean stream = b.result().toString().contains("\"stream\":true");
      if (req.path().startsWith("/v1/messages")) {
        if (stream) {
          res.putHeader("content-type", "text/event-stream").setChunked(true);
          res.write("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
              + "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"mock-claude\",\"content\":[],"
              + "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n");
          res.write("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
              + "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
              + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
              + "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
              + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
          res.end("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
              + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n"
              + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        } else {
          res.putHeader("content-type", "application/json").end("{\"id\":\"msg_1\",\"type\":\"message\","
              + "\"role\":\"assistant\",\"model\":\"mock-claude\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],"
              + "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}");
        }
        return;
      }
      if (stream) {
        res.putHeader("content-type", "text/event-stream").setChunked(true);
        res.write("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
            + "\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n");
        res.end("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\ndata: [DONE]\n\n");
      } else {
        res.putHeader("content-type", "application/json").end("{\"id\":\"c1\",\"object\":\"chat.completion\","
            + "\"model\":\"mock-gpt\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
            + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}");
      }
    })).listen(0, "127.0.0.1").await();
  }
}
