package io.tollgate.gateway.mock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MockUpstreamTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final String CHAT =
      "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
          + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"say hello to the world\"}]}]}";

  private static Vertx vertx;
  private static MockUpstream mock;

  @BeforeAll
  static void startMock() throws Exception {
    vertx = Vertx.vertx();
    mock =
        MockUpstream.start(vertx, MockUpstream.Options.defaults().withCustomPaths("/agents/*"))
            .await();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await();
  }

  // ---- the formula itself

  @Test
  void expectedUsage_countsWordsPlusThreePerMessage() {
    // system: 2 words + 3, user: 5 words + 3
    assertThat(MockUpstream.expectedUsage("/v1/chat/completions", CHAT).promptTokens()).isEqualTo(13);
    assertThat(MockUpstream.expectedUsage("/v1/chat/completions", CHAT).completionTokens())
        .as("8 + 13 %% 7").isEqualTo(14);
    assertThat(MockUpstream.expectedUsage("/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}],\"max_tokens\":5}"))
        .isEqualTo(new MockUpstream.Usage(5, 5));
    assertThat(MockUpstream.expectedUsage("/v1/messages",
            "{\"system\":\"x y z\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1024}"))
        .isEqualTo(new MockUpstream.Usage(10, 8 + 10 % 7));
    assertThat(MockUpstream.expectedUsage("/v1/embeddings", "{\"input\":[\"a b\",\"c\"]}"))
        .isEqualTo(new MockUpstream.Usage(3, 0));
    assertThat(MockUpstream.expectedUsage("/agent/run?q=one%20two&max_tokens=2", (byte[]) null))
        .isEqualTo(new MockUpstream.Usage(5, 2));
    assertThatThrownBy(() -> MockUpstream.expectedUsage("/v1/chat/completions", "not json"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---- OpenAI

  @Test
  void chatJson_reportsExpectedUsage_andAnswersThatManyWords() throws Exception {
    HttpResponse<String> r = post("/v1/chat/completions", CHAT);
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/chat/completions", CHAT);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode body = JSON.readTree(r.body());
    assertThat(body.path("object").asText()).isEqualTo("chat.completion");
    assertThat(body.path("model").asText()).isEqualTo("gpt-x");
    assertUsage(body.path("usage"), expected);
    assertThat(body.at("/choices/0/message/content").asText().split(" "))
        .hasSize(expected.completionTokens());
  }

  @Test
  void chatStream_withoutIncludeUsage_carriesNoUsageAnywhere() throws Exception {
    HttpResponse<String> r = post("/v1/chat/completions", withStream(CHAT, false));

    assertThat(r.headers().firstValue("content-type")).hasValue("text/event-stream");
    assertThat(r.body()).doesNotContain("usage");
    List<String> data = dataLines(r.body());
    assertThat(data.get(data.size() - 1)).isEqualTo("[DONE]");
    assertThat(contentOfChatChunks(data))
        .isEqualTo(words(MockUpstream.expectedUsage("/v1/chat/completions", CHAT).completionTokens()));
  }

  @Test
  void chatStream_withIncludeUsage_endsWithAUsageChunkWithNoChoices_thenDone() throws Exception {
    HttpResponse<String> r = post("/v1/chat/completions", withStream(CHAT, true));
    List<String> data = dataLines(r.body());

    assertThat(data.get(data.size() - 1)).isEqualTo("[DONE]");
    JsonNode last = JSON.readTree(data.get(data.size() - 2));
    assertThat(last.path("choices").isArray() && last.path("choices").isEmpty()).isTrue();
    assertUsage(last.path("usage"), MockUpstream.expectedUsage("/v1/chat/completions", CHAT));
    for (String d : data.subList(0, data.size() - 2)) {
      assertThat(JSON.readTree(d).path("usage").isNull()).as("earlier chunks say usage null").isTrue();
    }
  }

  @Test
  void stream_isChunked_andEndsWithTheChunkedTerminator() throws Exception {
    String raw = rawExchange("POST", "/v1/chat/completions", withStream(CHAT, true), "");

    assertThat(raw).startsWith("HTTP/1.1 200").containsIgnoringCase("transfer-encoding: chunked")
        .containsIgnoringCase("content-type: text/event-stream").endsWith("0\r\n\r\n");
  }

  @Test
  void chatStream_finishesWithLength_whenTheLimitCutsIt() throws Exception {
    String req = "{\"stream\":true,\"max_completion_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
    List<String> data = dataLines(post("/v1/chat/completions", req).body());

    assertThat(contentOfChatChunks(data)).isEqualTo("tok1 tok2 tok3");
    assertThat(JSON.readTree(data.get(data.size() - 2)).at("/choices/0/finish_reason").asText())
        .isEqualTo("length");
  }

  @Test
  void completions_jsonAndStream_reportExpectedUsage() throws Exception {
    String req = "{\"model\":\"m\",\"prompt\":\"once upon a time\",\"max_tokens\":4}";
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/completions", req);
    assertThat(expected).isEqualTo(new MockUpstream.Usage(7, 4));

    JsonNode body = JSON.readTree(post("/v1/completions", req).body());
    assertUsage(body.path("usage"), expected);
    assertThat(body.at("/choices/0/text").asText()).isEqualTo("tok1 tok2 tok3 tok4");

    List<String> data = dataLines(post("/v1/completions", withStream(req, true)).body());
    assertUsage(JSON.readTree(data.get(data.size() - 2)).path("usage"), expected);
  }

  @Test
  void embeddings_reportPromptTokensOnly_oneVectorPerInput() throws Exception {
    String req = "{\"model\":\"e\",\"input\":[\"the food was delicious\",\"yes\"],\"dimensions\":4}";
    JsonNode body = JSON.readTree(post("/v1/embeddings", req).body());

    assertThat(body.path("data")).hasSize(2);
    assertThat(body.at("/data/0/embedding")).hasSize(4);
    assertThat(body.path("usage").path("prompt_tokens").asInt()).isEqualTo(5);
    assertThat(body.path("usage").path("total_tokens").asInt()).isEqualTo(5);
    assertThat(body.path("usage").has("completion_tokens")).isFalse();
  }

  @Test
  void responses_jsonAndStream_reportExpectedUsage_inResponseCompleted() throws Exception {
    String req = "{\"model\":\"m\",\"instructions\":\"be nice\",\"input\":\"what is two plus two\"}";
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/responses", req);
    assertThat(expected.promptTokens()).isEqualTo(2 + 3 + 5 + 3);

    JsonNode body = JSON.readTree(post("/v1/responses", req).body());
    assertThat(body.path("usage").path("input_tokens").asInt()).isEqualTo(expected.promptTokens());
    assertThat(body.path("usage").path("output_tokens").asInt()).isEqualTo(expected.completionTokens());
    assertThat(body.path("usage").path("total_tokens").asInt()).isEqualTo(expected.totalTokens());

    HttpResponse<String> r = post("/v1/responses", withStream(req, true));
    List<String[]> events = events(r.body());
    assertThat(events.get(0)[0]).isEqualTo("response.created");
    String[] last = events.get(events.size() - 1);
    assertThat(last[0]).isEqualTo("response.completed");
    assertThat(r.body()).doesNotContain("[DONE]");
    JsonNode usage = JSON.readTree(last[1]).path("response").path("usage");
    assertThat(usage.path("input_tokens").asInt()).isEqualTo(expected.promptTokens());
    assertThat(usage.path("output_tokens").asInt()).isEqualTo(expected.completionTokens());
    assertThat(events.stream().filter(e -> e[0].equals("response.output_text.delta")).count())
        .isEqualTo(expected.completionTokens());
  }

  @Test
  void models_listsTheMockModels() throws Exception {
    HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v1/models")).GET());
    assertThat(JSON.readTree(r.body()).path("data").findValuesAsText("id"))
        .containsExactlyElementsOf(MockUpstream.MODELS);
  }

  // ---- Anthropic

  private static final String MESSAGES =
      "{\"model\":\"claude-x\",\"max_tokens\":1024,\"system\":[{\"type\":\"text\",\"text\":\"you are terse\"}],"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"count to three please\"}]}";

  @Test
  void messagesJson_splitsCacheReadFromInput_keepingThePromptTotal() throws Exception {
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/messages", MESSAGES);
    HttpResponse<String> r = send(json("/v1/messages", MESSAGES).header("x-mock-cache-read", "4"));
    JsonNode usage = JSON.readTree(r.body()).path("usage");

    assertThat(usage.path("input_tokens").asInt()).isEqualTo(expected.promptTokens() - 4);
    assertThat(usage.path("cache_read_input_tokens").asInt()).isEqualTo(4);
    assertThat(usage.path("output_tokens").asInt()).isEqualTo(expected.completionTokens());
    assertThat(JSON.readTree(r.body()).path("type").asText()).isEqualTo("message");
  }

  @Test
  void messagesStream_sendsTheRealEventSequence_withCumulativeUsageInMessageDelta() throws Exception {
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/v1/messages", MESSAGES);
    HttpResponse<String> r = post("/v1/messages", withStream(MESSAGES, true));
    List<String[]> events = events(r.body());
    List<String> types = events.stream().map(e -> e[0]).toList();

    List<String> want = new ArrayList<>(List.of("message_start", "content_block_start", "ping"));
    for (int i = 0; i < expected.completionTokens(); i++) {
      want.add("content_block_delta");
    }
    want.addAll(List.of("content_block_stop", "message_delta", "message_stop"));
    assertThat(types).containsExactlyElementsOf(want);
    for (String[] e : events) {
      assertThat(JSON.readTree(e[1]).path("type").asText()).as("event name = data type").isEqualTo(e[0]);
    }
    JsonNode start = JSON.readTree(events.get(0)[1]).at("/message/usage");
    assertThat(start.path("input_tokens").asInt()).isEqualTo(expected.promptTokens());
    assertThat(start.path("output_tokens").asInt()).isEqualTo(1);
    JsonNode delta = JSON.readTree(events.get(events.size() - 2)[1]).path("usage");
    assertThat(delta.path("output_tokens").asInt()).isEqualTo(expected.completionTokens());
    assertThat(delta.path("input_tokens").asInt()).isEqualTo(expected.promptTokens());
    assertThat(r.body()).doesNotContain("[DONE]");
  }

  // ---- custom Agents API

  @Test
  void customGet_withQuery_reportsTopLevelUsage() throws Exception {
    String target = "/agent/run?q=plan%20my%20trip";
    JsonNode body = JSON.readTree(send(HttpRequest.newBuilder(uri(target)).GET()).body());

    assertUsage(body.path("usage"), MockUpstream.expectedUsage(target, (byte[]) null));
    assertThat(body.path("output").asText()).startsWith("tok1");
  }

  @Test
  void customPost_jsonAndStream_reportExpectedUsage_lastEventCarriesIt() throws Exception {
    String req = "{\"input\":\"summarise this long document\",\"max_tokens\":6}";
    MockUpstream.Usage expected = MockUpstream.expectedUsage("/agent/run", req);
    assertThat(expected).isEqualTo(new MockUpstream.Usage(7, 6));

    assertUsage(JSON.readTree(post("/agent/run", req).body()).path("usage"), expected);

    HttpResponse<String> streamed = post("/agent/run?stream=true", req);
    assertThat(streamed.headers().firstValue("content-type")).hasValue("text/event-stream");
    List<String> data = dataLines(streamed.body());
    assertThat(data).hasSize(expected.completionTokens() + 1);
    assertUsage(JSON.readTree(data.get(data.size() - 1)).path("usage"), expected);
    assertThat(data.subList(0, data.size() - 1)).noneMatch(d -> d.contains("usage"));
  }

  @Test
  void customStream_isChosenByBodyFlagOrAcceptHeader() throws Exception {
    HttpResponse<String> byBody = post("/agents/research", "{\"input\":\"x\",\"stream\":true}");
    HttpResponse<String> byAccept =
        send(HttpRequest.newBuilder(uri("/agent/run?q=x")).header("accept", "text/event-stream").GET());

    assertThat(byBody.headers().firstValue("content-type")).hasValue("text/event-stream");
    assertThat(byAccept.headers().firstValue("content-type")).hasValue("text/event-stream");
    assertThat(dataLines(byAccept.body())).hasSizeGreaterThan(1);
  }

  @Test
  void unknownPath_is404_inTheOpenAiErrorShape_andWrongMethodIs405() throws Exception {
    HttpResponse<String> r = post("/v2/nothing", "{}");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(r.body()).at("/error/code").asText()).isEqualTo("not_found");

    assertThat(send(HttpRequest.newBuilder(uri("/v1/chat/completions")).GET()).statusCode())
        .isEqualTo(405);
  }

  @Test
  void malformedJson_is400() throws Exception {
    HttpResponse<String> r = post("/v1/chat/completions", "{not json");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(r.body()).at("/error/type").asText()).isEqualTo("invalid_request_error");
  }

  // ---- faults

  @Test
  void statusHeader_answersThatStatus_inTheShapeOfTheApi() throws Exception {
    HttpResponse<String> openai = send(json("/v1/chat/completions", CHAT).header("x-mock-status", "429"));
    HttpResponse<String> anthropic = send(json("/v1/messages", MESSAGES).header("x-mock-status", "529"));

    assertThat(openai.statusCode()).isEqualTo(429);
    assertThat(JSON.readTree(openai.body()).at("/error/code").asText()).isEqualTo("rate_limit_exceeded");
    assertThat(anthropic.statusCode()).isEqualTo(529);
    assertThat(JSON.readTree(anthropic.body()).at("/error/type").asText()).isEqualTo("overloaded_error");
  }

  @Test
  void noUsageHeader_removesUsageFromJsonAndStreams() throws Exception {
    assertThat(send(json("/v1/chat/completions", CHAT).header("x-mock-no-usage", "true")).body())
        .doesNotContain("usage");
    assertThat(send(json("/v1/chat/completions", withStream(CHAT, true)).header("x-mock-no-usage", "true")).body())
        .doesNotContain("usage").endsWith("data: [DONE]\n\n");
    assertThat(send(json("/v1/messages", withStream(MESSAGES, true)).header("x-mock-no-usage", "true")).body())
        .doesNotContain("usage").contains("message_stop");
  }

  @Test
  void delayHeaders_holdTheHeadAndSpaceTheChunks() throws Exception {
    long t0 = System.nanoTime();
    assertThat(send(json("/v1/chat/completions", CHAT).header("x-mock-delay-ms", "300")).statusCode())
        .isEqualTo(200);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(300));

    String req = "{\"stream\":true,\"max_tokens\":4,\"messages\":[]}";
    long t1 = System.nanoTime();
    send(json("/v1/chat/completions", req).header("x-mock-chunk-delay-ms", "50"));
    // 4 words + role chunk + finish chunk + [DONE] = 7 events, 6 gaps
    assertThat(Duration.ofNanos(System.nanoTime() - t1)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
  }

  @Test
  void abortAfter_cutsAStreamMidway_withoutTheChunkedTerminator() throws Exception {
    String req = withStream(CHAT, true);
    String raw = rawExchange("POST", "/v1/chat/completions", req, "x-mock-abort-after: 3\r\n");

    assertThat(raw).startsWith("HTTP/1.1 200").containsIgnoringCase("transfer-encoding: chunked");
    assertThat(raw.split("data: ", -1)).as("exactly 3 events arrived").hasSize(4);
    assertThat(raw).doesNotContain("[DONE]").doesNotContain("usage\":{").doesNotEndWith("0\r\n\r\n");
  }

  @Test
  void abortAfter_cutsAJsonBodyShortOfItsContentLength() throws Exception {
    String raw = rawExchange("POST", "/v1/chat/completions", CHAT, "x-mock-abort-after: 40\r\n");
    int headEnd = raw.indexOf("\r\n\r\n");
    String head = raw.substring(0, headEnd);
    int declared = Integer.parseInt(head.replaceAll("(?is).*content-length: *(\\d+).*", "$1"));

    assertThat(raw.length() - headEnd - 4).isEqualTo(40).isLessThan(declared);
  }

  @Test
  void malformedControlHeader_is400() throws Exception {
    assertThat(send(json("/v1/chat/completions", CHAT).header("x-mock-delay-ms", "soon")).statusCode())
        .isEqualTo(400);
  }

  // ---- what reached the upstream

  @Test
  void everyRequest_isRecordedWithMethodPathQueryHeadersAndBody() throws Exception {
    send(json("/agent/run?trace=1", "{\"input\":\"logged\"}").header("X-Customer-Id", "b-42"));

    MockUpstream.ReceivedRequest last =
        mock.requests().stream().filter(q -> "trace=1".equals(q.query())).findFirst().orElseThrow();
    assertThat(last.method()).isEqualTo("POST");
    assertThat(last.path()).isEqualTo("/agent/run");
    assertThat(last.header("x-customer-id")).isEqualTo("b-42");
    assertThat(last.bodyAsString()).isEqualTo("{\"input\":\"logged\"}");
  }

  // ---- helpers

  static URI uri(String target) {
    return URI.create(mock.baseUrl() + target);
  }

  static HttpRequest.Builder json(String target, String body) {
    return HttpRequest.newBuilder(uri(target))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
  }

  static HttpResponse<String> post(String target, String body) throws Exception {
    return send(json(target, body));
  }

  static HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return HTTP.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static String withStream(String body, boolean includeUsage) {
    return "{\"stream\":true,"
        + (includeUsage ? "\"stream_options\":{\"include_usage\":true}," : "")
        + body.substring(1);
  }

  static void assertUsage(JsonNode usage, MockUpstream.Usage expected) {
    assertThat(usage.path("prompt_tokens").asInt(-1)).as("prompt_tokens").isEqualTo(expected.promptTokens());
    assertThat(usage.path("completion_tokens").asInt(-1)).as("completion_tokens")
        .isEqualTo(expected.completionTokens());
    assertThat(usage.path("total_tokens").asInt(-1)).as("total_tokens").isEqualTo(expected.totalTokens());
  }

  static String words(int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i <= n; i++) {
      sb.append(i == 1 ? "" : " ").append("tok").append(i);
    }
    return sb.toString();
  }

  static String contentOfChatChunks(List<String> data) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (String d : data) {
      if (!d.equals("[DONE]")) {
        sb.append(JSON.readTree(d).at("/choices/0/delta/content").asText(""));
      }
    }
    return sb.toString();
  }

  /** The {@code data:} payloads of an SSE body, in order. */
  static List<String> dataLines(String sse) {
    List<String> out = new ArrayList<>();
    for (String e : sse.split("\n\n")) {
      for (String line : e.split("\n")) {
        if (line.startsWith("data: ")) {
          out.add(line.substring(6));
        }
      }
    }
    return out;
  }

  /** {@code [event name, data]} pairs of an SSE body. */
  static List<String[]> events(String sse) {
    List<String[]> out = new ArrayList<>();
    for (String e : sse.split("\n\n")) {
      String name = null;
      String data = null;
      for (String line : e.split("\n")) {
        if (line.startsWith("event: ")) {
          name = line.substring(7);
        } else if (line.startsWith("data: ")) {
          data = line.substring(6);
        }
      }
      if (data != null) {
        out.add(new String[] {name, data});
      }
    }
    return out;
  }

  /** One HTTP/1.1 exchange on a raw socket, read to EOF, so a cut body shows as it arrived. */
  static String rawExchange(String method, String target, String body, String extraHeaders)
      throws IOException {
    try (Socket s = new Socket("127.0.0.1", mock.port())) {
      s.setSoTimeout(10_000);
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      OutputStream out = s.getOutputStream();
      out.write((method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
              + "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n"
              + extraHeaders + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(b);
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) {
          all.write(buf, 0, n);
        }
      } catch (IOException reset) {
        // a reset after the bytes is as good as EOF here
      }
      return all.toString(StandardCharsets.UTF_8);
    }
  }
}
