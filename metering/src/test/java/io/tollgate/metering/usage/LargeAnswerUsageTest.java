package io.tollgate.metering.usage;

import static io.tollgate.metering.usage.Fixtures.usage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Answers of tens of megabytes, made from the recorded fixtures by growing their completion text:
 * the usage the upstream reported is read from a body of any size, wherever it sits, in bounded
 * memory; without a report, the estimate has the text kept up to its bound.
 */
class LargeAnswerUsageTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int TWENTY_MB = 20 << 20;
  /** What a socket hands over at a time, about. */
  private static final int CHUNK = 16 * 1024;

  /** About 20 MB of answer text, with escapes and multi-byte characters as real answers have. */
  private static final String LONG_TEXT = longText(TWENTY_MB);

  @Test
  void twentyMegabyteChatBody_usageAtTheEnd_isRead() throws Exception {
    byte[] body = chatBody(/* usageFirst= */ false, /* withUsage= */ true);

    assertThat(body.length).isGreaterThan(TWENTY_MB);
    assertThat(reported(body, /* stream= */ false, CHUNK))
        .as("the usage after a 20 MB content string must be read")
        .isEqualTo(usage(16, 0, 363));
    assertThat(reported(body, /* stream= */ false, body.length)).as("fed as one buffer").isEqualTo(usage(16, 0, 363));
  }

  @Test
  void twentyMegabyteChatBody_usageAtTheStart_isRead() throws Exception {
    byte[] body = chatBody(/* usageFirst= */ true, /* withUsage= */ true);

    assertThat(reported(body, /* stream= */ false, CHUNK))
        .as("a usage read before the long content must still count once the body is whole")
        .isEqualTo(usage(16, 0, 363));
  }

  @Test
  void twentyMegabyteStreamEvent_carryingTheUsage_isRead() {
    // vLLM and other OpenAI-compatible servers put the usage on the last content chunk.
    byte[] stream = chatStream(/* usageInTheBigEvent= */ true, /* endsCleanly= */ true);

    assertThat(reported(stream, /* stream= */ true, CHUNK))
        .as("a 20 MB data line with the usage in it must yield that usage")
        .isEqualTo(usage(12, 0, 100));
  }

  @Test
  void twentyMegabyteFinalEvent_withoutItsBlankLine_stillCounts() {
    byte[] stream = chatStream(/* usageInTheBigEvent= */ true, /* endsCleanly= */ false);

    assertThat(reported(stream, /* stream= */ true, CHUNK))
        .as("as for a small last event: complete JSON without the closing blank line counts")
        .isEqualTo(usage(12, 0, 100));
  }

  @Test
  void twentyMegabyteAnswerWithoutUsage_isEstimatedFromTheTextKept_neverZero() throws Exception {
    int bound = ExtractorOptions.DEFAULTS.maxCompletionChars();
    for (boolean stream : new boolean[] {false, true}) {
      byte[] body = stream
          ? chatStream(/* usageInTheBigEvent= */ false, /* endsCleanly= */ true)
          : chatBody(/* usageFirst= */ false, /* withUsage= */ false);
      UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, stream);
      Chunks.feed(extractor, Chunks.ofSize(body, CHUNK), false);
      String kept = extractor.completionText().toString();
      TokenUsage estimate = TokenEstimator.forDialect(Dialect.OPENAI)
          .estimate(Dialect.OPENAI, "{}".getBytes(StandardCharsets.UTF_8), extractor.completionText());

      assertThat(extractor.reported()).as("stream=%s reported nothing", stream).isNull();
      assertThat(kept).as("stream=%s: the text is kept up to its bound", stream).hasSize(bound);
      assertThat(LONG_TEXT).as("stream=%s: decoded exactly", stream).startsWith(kept);
      assertThat(estimate.outputTokens()).as("stream=%s: never silently zero", stream).isGreaterThan(bound / 8);
      assertThat(estimate.estimated()).as("an estimate says so").isTrue();
    }
  }

  @Test
  void twentyMegabyteAnswers_areReadInBoundedMemory() throws Exception {
    for (boolean stream : new boolean[] {false, true}) {
      long small = allocatedToExtract(stream, longText(5 << 20));
      long large = allocatedToExtract(stream, LONG_TEXT);

      // The kept text, 1 Mi chars, is 2 MiB as UTF-16, grown by doubling; a stream adds its
      // 256 KiB event buffer.
      assertThat(large).as("stream=%s: memory is the kept text's, not the body's", stream).isLessThan(12L << 20);
      assertThat(large - small).as("stream=%s: 15 MB more answer costs no more memory", stream)
          .isLessThan(1L << 20);
    }
  }

  /** Bytes the extractor allocates reading the answer, its usage at the end, in socket-sized chunks. */
  private static long allocatedToExtract(boolean stream, String text) throws Exception {
    byte[] body = stream ? chatStream(text, true, true) : chatBody(text, false, true);
    List<ByteBuf> chunks = new ArrayList<>();
    for (byte[] chunk : Chunks.ofSize(body, CHUNK)) {
      chunks.add(Unpooled.wrappedBuffer(chunk));
    }
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, stream);
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    chunks.forEach(extractor::feed);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    chunks.forEach(ByteBuf::release);
    assertThat(extractor.reported()).as("stream=%s: the usage is read", stream).isNotNull();
    return allocated;
  }

  @Test
  void longStringsCutAnywhere_decodeToTheSameText() throws Exception {
    String original = longText(300_000);
    Map<String, Object> answer = Map.of("choices", List.of(
        Map.of("message", Map.of("role", "assistant", "content", original))));
    ExtractorOptions keepAll = ExtractorOptions.DEFAULTS.withMaxCompletionChars(1 << 20);
    // Raw UTF-8, and every non-ASCII character as a backslash-u escape (surrogate pairs for the emoji).
    for (byte[] body : List.of(JSON.writeValueAsBytes(answer),
        JSON.writer().with(JsonWriteFeature.ESCAPE_NON_ASCII).writeValueAsBytes(answer))) {
      List<List<byte[]>> chunkings = List.of(
          List.of(body), Chunks.ofSize(body, 1), Chunks.ofSize(body, 5), Chunks.ofSize(body, 7),
          Chunks.random(body, 1, 40), Chunks.random(body, 2, 70_000), Chunks.insideUtf8Characters(body));
      for (List<byte[]> chunks : chunkings) {
        UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, false, keepAll);
        Chunks.feed(extractor, chunks, false);

        assertThat(extractor.completionText().toString())
            .as("%d chunks: escapes and characters cut between chunks decode whole", chunks.size())
            .isEqualTo(original);
      }
    }
  }

  @Test
  void badEscapeInALongString_makesTheBodyUnreadable_howeverItIsCut() {
    String body = "{\"choices\":[{\"message\":{\"content\":\"" + "a".repeat(40_000) + "\\q\"}}],"
        + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}";
    for (int chunk : new int[] {body.length(), 1, 1000}) {
      UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, false);
      Chunks.feed(extractor, Chunks.ofSize(body.getBytes(StandardCharsets.UTF_8), chunk), false);

      assertThat(extractor.reported()).as("chunks of %d: not JSON, so estimated", chunk).isNull();
    }
  }

  /** openai-chat.json with its content replaced by {@link #LONG_TEXT}, usage where asked. */
  private static byte[] chatBody(boolean usageFirst, boolean withUsage) throws Exception {
    return chatBody(LONG_TEXT, usageFirst, withUsage);
  }

  private static byte[] chatBody(String content, boolean usageFirst, boolean withUsage) throws Exception {
    ObjectNode recorded = (ObjectNode) JSON.readTree(Fixtures.bytes("openai-chat.json"));
    ((ObjectNode) recorded.at("/choices/0/message")).put("content", content);
    ObjectNode out = JSON.createObjectNode();
    if (usageFirst) {
      out.set("usage", recorded.get("usage"));
    }
    for (var f : recorded.properties()) {
      if (!f.getKey().equals("usage")) {
        out.set(f.getKey(), f.getValue());
      }
    }
    if (!usageFirst && withUsage) {
      out.set("usage", recorded.get("usage"));
    }
    return JSON.writeValueAsBytes(out);
  }

  /**
   * openai-chat-stream-include-usage.sse, its usage chunk also carrying {@link #LONG_TEXT} as a
   * delta (or, without usage, a 20 MB delta chunk in the usage chunk's place).
   */
  private static byte[] chatStream(boolean usageInTheBigEvent, boolean endsCleanly) {
    return chatStream(LONG_TEXT, usageInTheBigEvent, endsCleanly);
  }

  private static byte[] chatStream(String content, boolean usageInTheBigEvent, boolean endsCleanly) {
    String recorded = new String(Fixtures.bytes("openai-chat-stream-include-usage.sse"), StandardCharsets.UTF_8);
    List<String> events = new ArrayList<>(List.of(recorded.split("\n\n")));
    int usageAt = events.size() - 2; // the usage chunk, before [DONE]
    String quotedText;
    try {
      quotedText = JSON.writeValueAsString(content);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    String big = "\"choices\":[{\"index\":0,\"delta\":{\"content\":" + quotedText + "},\"finish_reason\":\"length\"}]";
    String usageEvent = events.get(usageAt);
    assertThat(usageEvent).contains("\"choices\":[]").contains("\"usage\":{");
    if (!usageInTheBigEvent) {
      usageEvent = usageEvent.replaceAll("\"usage\":\\{.*}},", "\"usage\":null,");
      assertThat(usageEvent).doesNotContain("\"usage\":{");
    }
    events.set(usageAt, usageEvent.replace("\"choices\":[]", big));
    if (!endsCleanly) {
      events.remove(events.size() - 1); // no [DONE], and the big event's blank line is missing
      return String.join("\n\n", events).getBytes(StandardCharsets.UTF_8);
    }
    return (String.join("\n\n", events) + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  private static TokenUsage reported(byte[] body, boolean stream, int chunkSize) {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, stream);
    Chunks.feed(extractor, Chunks.ofSize(body, chunkSize), false);
    return extractor.reported();
  }

  /**
   * Text of about {@code bytes} UTF-8 bytes: words, newlines, quotes, backslashes, a control
   * character (written as a backslash-u escape), é, 中, 😀.
   */
  private static String longText(int bytes) {
    String[] pieces = {"lorem ", "ipsum ", "dolor\n", "\"quoted\" ", "back\\slash ", "café ", "中文 ", "😀 ", "\t", "\u0001"};
    Random random = new Random(42);
    StringBuilder sb = new StringBuilder(bytes);
    int size = 0;
    while (size < bytes) {
      String p = pieces[random.nextInt(pieces.length)];
      sb.append(p);
      size += p.getBytes(StandardCharsets.UTF_8).length;
    }
    return sb.toString();
  }
}
