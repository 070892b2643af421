package io.tollgate.metering.usage;

import static io.tollgate.metering.usage.Fixtures.usage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The extraction rules of DESIGN.md, one case at a time, on hand-written bodies. */
class UsageExtractorTest {

  private static final String OPENAI_USAGE =
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,"
          + "\"total_tokens\":10,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n";

  @Test
  void usageThenNullChunk_keepsUsage() {
    TokenUsage usage =
        stream(Dialect.OPENAI, OPENAI_USAGE + "data: {\"choices\":[],\"usage\":null}\n\ndata: [DONE]\n\n");
    assertThat(usage).as("a later usage:null must not erase the usage").isEqualTo(usage(7, 4, 3));
  }

  @Test
  void twoUsageChunks_lastOneWins() {
    String first = "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n";
    assertThat(stream(Dialect.OPENAI, first + OPENAI_USAGE)).isEqualTo(usage(7, 4, 3));
  }

  @Test
  void anthropicDelta_winsFieldByField() {
    String body =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
            + "{\"input_tokens\":10,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":20,"
            + "\"output_tokens\":1}}}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9,"
            + "\"cache_read_input_tokens\":30}}\n\n";
    assertThat(stream(Dialect.ANTHROPIC, body))
        .as("input and cache write from message_start, output and cache read from message_delta")
        .isEqualTo(usage(10 + 5 + 30, 30, 9));
  }

  @Test
  void anthropicIterations_areSummed() {
    String body =
        "data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":2,\"output_tokens\":3,"
            + "\"iterations\":[{\"input_tokens\":1,\"output_tokens\":10,\"cache_read_input_tokens\":5},"
            + "{\"input_tokens\":2,\"output_tokens\":3,\"cache_creation_input_tokens\":7}]}}\n\n";
    assertThat(stream(Dialect.ANTHROPIC, body)).isEqualTo(usage(3 + 7 + 5, 5, 13));
  }

  @Test
  void negativeCount_isRejected() {
    UsageExtractor extractor =
        feed(Dialect.OPENAI, true, "data: {\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":3}}\n\n");
    assertThat(extractor.reported()).isNull();
    assertThat(extractor.rejected()).as("the gateway counts untrusted usage").isTrue();
  }

  @Test
  void countAboveConfiguredBound_isRejected() {
    UsageExtractor extractor =
        UsageExtractors.create(
            Dialect.CUSTOM, false, ExtractorOptions.DEFAULTS.withMaxTokensPerField(1000));
    Chunks.feed(extractor, List.of(bytes("{\"usage\":{\"prompt_tokens\":1001,\"completion_tokens\":1}}")), false);
    assertThat(extractor.reported()).isNull();
    assertThat(extractor.rejected()).isTrue();
  }

  @Test
  void countAtConfiguredBound_isTrusted() {
    UsageExtractor extractor =
        UsageExtractors.create(
            Dialect.CUSTOM, false, ExtractorOptions.DEFAULTS.withMaxTokensPerField(1000));
    Chunks.feed(extractor, List.of(bytes("{\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":1}}")), false);
    assertThat(extractor.reported()).isEqualTo(usage(1000, 0, 1));
    assertThat(extractor.rejected()).isFalse();
  }

  @Test
  void fractionalOrTextualCount_isRejected() {
    for (String value : new String[] {"1.5", "\"12\"", "true", "1e30"}) {
      UsageExtractor extractor =
          feed(Dialect.OPENAI, false, "{\"usage\":{\"prompt_tokens\":" + value + ",\"completion_tokens\":1}}");
      assertThat(extractor.rejected()).as("prompt_tokens %s", value).isTrue();
      assertThat(extractor.reported()).isNull();
    }
  }

  @Test
  void countWithAnExponentPastAnyNumberType_isRejected_notThrown() {
    UsageExtractor extractor =
        feed(Dialect.OPENAI, false, "{\"usage\":{\"prompt_tokens\":922e372036854775807,\"completion_tokens\":1}}");
    assertThat(extractor.rejected()).as("Jackson's BigDecimal threw on this, out of feed()").isTrue();
  }

  @Test
  void wholeNumberWrittenAsFloat_isTrusted() {
    assertThat(body(Dialect.OPENAI, "{\"usage\":{\"prompt_tokens\":12.0,\"completion_tokens\":3}}"))
        .isEqualTo(usage(12, 0, 3));
  }

  @Test
  void moreCachedThanInput_isRejected() {
    UsageExtractor extractor =
        feed(Dialect.OPENAI, false,
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":2}}}");
    assertThat(extractor.rejected()).isTrue();
  }

  @Test
  void rejectedUsage_staysRejectedAfterPlausibleUsage() {
    UsageExtractor extractor =
        feed(Dialect.OPENAI, true,
            "data: {\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1}}\n\n" + OPENAI_USAGE);
    assertThat(extractor.reported()).as("an upstream that lied once is estimated").isNull();
    assertThat(extractor.rejected()).isTrue();
  }

  @Test
  void multipleDataLines_formOneEvent() {
    String body =
        "data: {\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":2,\ndata:\"completion_tokens\":5}}\n\n";
    assertThat(stream(Dialect.OPENAI, body)).isEqualTo(usage(2, 0, 5));
  }

  @Test
  void commentsIdsAndEventLines_areIgnored() {
    String body =
        ": keep-alive\nevent: chunk\nid: 7\nretry: 100\n"
            + "data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}}\n: trailing\n\n";
    assertThat(stream(Dialect.OPENAI, body)).isEqualTo(usage(2, 0, 5));
  }

  @Test
  void fieldNamedLikeData_isNotData() {
    String body = "datax: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}}\n\n";
    assertThat(stream(Dialect.OPENAI, body)).isNull();
  }

  @Test
  void finalEventWithoutBlankLine_countsWhenItsJsonIsComplete() {
    String body = "data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}}";
    assertThat(stream(Dialect.OPENAI, body)).isEqualTo(usage(2, 0, 5));
  }

  @Test
  void truncatedFinalEvent_reportsNothing() {
    String body = "data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}";
    assertThat(stream(Dialect.OPENAI, body)).isNull();
  }

  @Test
  void reportedMidStream_doesNotChangeTheOutcome() {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, true);
    byte[] body = bytes("data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5}}" + "\n\n" + OPENAI_USAGE);
    List<byte[]> chunks = Chunks.ofSize(body, 13);
    for (byte[] chunk : chunks) {
      Chunks.feed(extractor, List.of(chunk), false);
      extractor.reported();
      extractor.completionText();
    }
    assertThat(extractor.reported()).isEqualTo(usage(7, 4, 3));
  }

  @Test
  void malformedEvent_keepsEarlierUsage() {
    String body = OPENAI_USAGE + "data: {\"usage\":{\"prompt_tokens\":99,,}\n\n";
    assertThat(stream(Dialect.OPENAI, body)).isEqualTo(usage(7, 4, 3));
  }

  @Test
  void halfAMegabyteEvent_stillYieldsItsUsage() {
    String big = "x".repeat(512 * 1024);
    String body =
        "data: {\"type\":\"response.completed\",\"response\":{\"output\":\"" + big + "\","
            + "\"usage\":{\"input_tokens\":9,\"output_tokens\":8}}}\n\n";
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, true);
    Chunks.feed(extractor, Chunks.ofSize(bytes(body), 8192), false);
    assertThat(extractor.reported()).isEqualTo(usage(9, 0, 8));
  }

  @Test
  void customPointer_readsUsageAtConfiguredLocation() {
    ExtractorOptions options = ExtractorOptions.DEFAULTS.withUsagePointers("/meta/usage");
    UsageExtractor body = UsageExtractors.create(Dialect.CUSTOM, false, options);
    Chunks.feed(body, List.of(bytes("{\"meta\":{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}}")), false);
    assertThat(body.reported()).isEqualTo(usage(4, 0, 6));

    UsageExtractor stream = UsageExtractors.create(Dialect.CUSTOM, true, options);
    Chunks.feed(stream, List.of(bytes("data: {\"meta\":{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}}\n\n")), false);
    assertThat(stream.reported()).isEqualTo(usage(1, 0, 2));
  }

  @Test
  void usageAtAnUnconfiguredLocation_isNotRead() {
    assertThat(body(Dialect.CUSTOM, "{\"meta\":{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}}"))
        .isNull();
  }

  @Test
  void malformedPointer_failsFast() {
    assertThatThrownBy(() -> ExtractorOptions.DEFAULTS.withUsagePointers("meta/usage"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ExtractorOptions.DEFAULTS.withUsagePointers(""))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void customUsageWithTotalOnly_derivesTheMissingCount() {
    assertThat(body(Dialect.CUSTOM, "{\"usage\":{\"prompt_tokens\":5,\"total_tokens\":12}}"))
        .isEqualTo(usage(5, 0, 7));
  }

  @Test
  void customStream_lastEventWithUsageWins() {
    String body =
        "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n"
            + "data: {\"answer\":\"hi\"}\n\n"
            + "data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n";
    assertThat(stream(Dialect.CUSTOM, body)).isEqualTo(usage(3, 0, 4));
  }

  @Test
  void usageObjectWithoutCounts_reportsNothing() {
    assertThat(body(Dialect.CUSTOM, "{\"usage\":{\"cost\":0.25}}")).isNull();
  }

  @Test
  void nestedUsageOutsideTheDialectsPaths_isIgnored() {
    assertThat(body(Dialect.OPENAI, "{\"choices\":[{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}]}"))
        .isNull();
  }

  @Test
  void truncatedJsonBody_reportsNothing() {
    byte[] whole = Fixtures.bytes("openai-chat.json");
    String truncated = new String(whole, 0, whole.length - 3, StandardCharsets.UTF_8);
    assertThat(body(Dialect.OPENAI, truncated)).as("usage counts once the body is complete").isNull();
  }

  @Test
  void streamCompletionText_isTheDeliveredDeltas() {
    UsageExtractor extractor = feedFixture("openai-chat-stream-no-usage.sse", 1);
    assertThat(extractor.completionText().toString()).startsWith("Hi there!");
  }

  @Test
  void completionText_isTheSameWhateverTheChunking() {
    for (String name : Fixtures.names()) {
      String whole = feedFixture(name, Integer.MAX_VALUE).completionText().toString();
      String bytewise = feedFixture(name, 1).completionText().toString();
      assertThat(bytewise).as(name).isEqualTo(whole);
    }
  }

  @Test
  void completionText_coversEachDialect() {
    assertThat(text("openai-chat.json")).startsWith("**Holiday Name:** Galaxy Day");
    assertThat(text("anthropic-messages.json")).startsWith("Python is a beginner-friendly");
    assertThat(text("openai-responses.json")).isEqualTo("The fruit in the image is a kiwi.");
    assertThat(text("anthropic-messages-stream.sse")).isEqualTo("2");
    assertThat(text("anthropic-messages-stream-thinking.sse")).startsWith("This is a straightforward question about pedestrian safety");
    assertThat(text("openai-responses-stream.sse")).contains("58°F");
    assertThat(text("openai-chat-stream-tool-calls.sse")).contains("country");
  }

  @Test
  void completionText_staysWithinItsBound() {
    ExtractorOptions options = ExtractorOptions.DEFAULTS.withMaxCompletionChars(5);
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, true, options);
    Chunks.feed(extractor, List.of(Fixtures.bytes("openai-chat-stream-no-usage.sse")), false);
    assertThat(extractor.completionText().toString()).isEqualTo("Hi th");
  }

  private static String text(String fixture) {
    return feedFixture(fixture, 7).completionText().toString();
  }

  private static UsageExtractor feedFixture(String name, int chunkSize) {
    Fixtures.Expected expected = Fixtures.EXPECTED.get(name);
    UsageExtractor extractor = UsageExtractors.create(expected.dialect(), expected.stream());
    byte[] body = Fixtures.bytes(name);
    return Chunks.feed(extractor, Chunks.ofSize(body, Math.min(chunkSize, body.length)), false);
  }

  private static TokenUsage stream(Dialect dialect, String body) {
    return feed(dialect, true, body).reported();
  }

  private static TokenUsage body(Dialect dialect, String body) {
    return feed(dialect, false, body).reported();
  }

  private static UsageExtractor feed(Dialect dialect, boolean stream, String body) {
    UsageExtractor extractor = UsageExtractors.create(dialect, stream);
    // fed whole and byte by byte: both must agree, and the byte-wise one is returned
    UsageExtractor whole = UsageExtractors.create(dialect, stream);
    Chunks.feed(whole, List.of(bytes(body)), false);
    Chunks.feed(extractor, Chunks.ofSize(bytes(body), 1), false);
    assertThat(extractor.reported()).as("byte-wise equals whole").isEqualTo(whole.reported());
    return extractor;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
