package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The buyer receives the upstream stream minus exactly the usage chunk tollgate asked for. */
class SseUsageChunkFilterTest {

  static final List<String> OPENAI_STREAMS =
      List.of(
          "openai-chat-stream-include-usage.sse",
          "openai-chat-stream-tool-calls.sse",
          "openai-chat-stream-parallel-tool-calls.sse",
          "openai-chat-stream-usage-then-moderation.sse",
          "azure-openai-chat-stream.sse",
          "openrouter-chat-stream-sse-comments.sse",
          "openai-chat-stream-no-usage.sse");

  @ParameterizedTest
  @ValueSource(
      strings = {
        "openai-chat-stream-include-usage.sse",
        "openai-chat-stream-tool-calls.sse",
        "openai-chat-stream-parallel-tool-calls.sse",
        "openai-chat-stream-usage-then-moderation.sse",
        "azure-openai-chat-stream.sse",
        "openrouter-chat-stream-sse-comments.sse"
      })
  void streamWithUsage_losesExactlyOneEvent(String name) {
    String original = text(name);
    String expected = withoutUsageEvent(original, "\n");
    assertThat(original.length() - expected.length())
        .as("the oracle must find one usage event to remove")
        .isPositive();
    assertThat(filterAll(Chunks.ofSize(Fixtures.bytes(name), Integer.MAX_VALUE))).isEqualTo(expected);
    assertThat(filterAll(Chunks.ofSize(Fixtures.bytes(name), 1))).isEqualTo(expected);
  }

  @Test
  void streamWithoutUsage_passesThroughUnchanged() {
    String name = "openai-chat-stream-no-usage.sse";
    assertThat(filterAll(Chunks.random(Fixtures.bytes(name), 3, 200))).isEqualTo(text(name));
  }

  @Test
  void azurePromptFilterChunk_withEmptyChoicesButNoUsage_isKept() {
    String out = filterAll(List.of(Fixtures.bytes("azure-openai-chat-stream.sse")));
    assertThat(out).as("choices:[] alone is not the usage chunk").contains("prompt_filter_results");
    assertThat(out).doesNotContain("\"usage\":{");
  }

  @Test
  void chunkOfWholeNonUsageEvents_isReturnedItself() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    ByteBuf in = Unpooled.copiedBuffer("data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\n", StandardCharsets.UTF_8);
    ByteBuf out = filter.filter(in);
    assertThat(out).as("hot path: no copy, same buffer").isSameAs(in);
    assertThat(out.refCnt()).isEqualTo(1);
    out.release();
  }

  @Test
  void cutChunk_releasesItsInput() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    ByteBuf in = Unpooled.copiedBuffer(
        "data: {\"choices\":[{\"delta\":{}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
        StandardCharsets.UTF_8);
    ByteBuf out = filter.filter(in);
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("data: {\"choices\":[{\"delta\":{}}]}\n\n");
    assertThat(in.refCnt()).as("what is kept is a slice of the input, not a copy").isEqualTo(1);
    out.release();
    assertThat(in.refCnt()).as("the filter owns and releases what it does not return").isZero();
    assertThat(filter.finish().readableBytes()).isZero();
  }

  @Test
  void splitContentEvent_isLetThroughBeforeItEnds() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    ByteBuf out = filter.filter(Unpooled.copiedBuffer("data: {\"choices\":[{\"delta\":{\"content\":\"He", StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8))
        .as("a chunk with non-empty choices cannot be the usage chunk: no need to wait")
        .startsWith("data: {\"choices\":[{");
    out.release();
    filter.finish().release();
  }

  @ParameterizedTest
  @ValueSource(strings = {"\r\n", "\r"})
  void otherLineEndings_cutTheWholeUsageEvent(String eol) {
    for (String name : OPENAI_STREAMS) {
      String original = text(name).replace("\n", eol);
      String expected = withoutUsageEvent(text(name), "\n").replace("\n", eol);
      for (long seed = 0; seed < 5; seed++) {
        byte[] bytes = original.getBytes(StandardCharsets.UTF_8);
        assertThat(filterAll(Chunks.random(bytes, seed, 64))).as("%s seed %d", name, seed).isEqualTo(expected);
      }
    }
  }

  @Test
  void onlyAnObjectWithEmptyChoicesAndAUsageObject_isTheUsageChunk() {
    String usage = "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}";
    String[] kept = {
      "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]," + usage + "}\n\n", // vLLM-style: the buyer needs its choices
      "data: {\"choices\":[],\"usage\":null}\n\n",
      "data: {\"choices\":[]}\n\n",
      "data: {" + usage + "}\n\n",
      "data: {\"choices\":{}," + usage + "}\n\n",
      "data: {\"x\":{\"choices\":[]," + usage + "}}\n\n",
      "data: [{\"choices\":[]," + usage + "}]\n\n",
      "data: {\"choices\":[]," + usage + ",\"usage\":null}\n\n", // given twice: the last counts
      "data: {\"choices\":[1]," + usage + ",\"choices\":[]}\n\n", // but one that showed a choice is kept
      "data: {\"choices\":[]," + usage + "\n\n", // truncated
      ": {\"choices\":[]," + usage + "}\n\n",
      "data: [DONE]\n\n",
    };
    for (String event : kept) {
      assertThat(filterAll(List.of(bytes(event)))).as(event).isEqualTo(event);
      assertThat(filterAll(Chunks.ofSize(bytes(event), 1))).as("byte by byte: %s", event).isEqualTo(event);
    }
    String[] hidden = {
      "data: {\"choices\":[]," + usage + "}\n\n",
      "data: {\"choices\" : [ ] , " + usage + " }\n\n",
      "data: {\"choices\":null," + usage + ",\"choices\":[]}\n\n", // given twice: the last counts
      "data: {\"\\u0063hoices\":[],\"usag\\u0065\":{\"prompt_tokens\":1}}\n\n",
      "data: {\"choices\":[],\n" + "data: " + usage + "}\n\n", // two data lines
      "id: 7\nevent: chunk\ndata: {\"choices\":[]," + usage + "}\n\n",
      // malformed elsewhere, as the skimmer reads it: its usage is counted, so it is hidden too
      "data: {\"choices\":[],\"n\":01," + usage + "}\n\n",
    };
    for (String event : hidden) {
      String stream = "data: {\"choices\":[{}]}\n\n" + event + "data: [DONE]\n\n";
      assertThat(filterAll(List.of(bytes(stream))))
          .as(event).isEqualTo("data: {\"choices\":[{}]}\n\ndata: [DONE]\n\n");
      assertThat(filterAll(Chunks.ofSize(bytes(stream), 1)))
          .as("byte by byte: %s", event).isEqualTo("data: {\"choices\":[{}]}\n\ndata: [DONE]\n\n");
    }
  }

  @Test
  void usageChunkSplitBeforeItsChoices_isHeldThenHidden_andWhatFollowsGoesOut() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    String content = "data: {\"id\":\"x\",\"choices\":[{\"delta\":{}}]}\n\n";
    ByteBuf first = filter.filter(Unpooled.copiedBuffer(content + "data: {\"id\":\"x\",\"cho", StandardCharsets.UTF_8));
    assertThat(first.toString(StandardCharsets.UTF_8)).as("the split event is held").isEqualTo(content);
    first.release();
    ByteBuf second = filter.filter(Unpooled.copiedBuffer("ices\":[],\"usage\":{}}\r\n\r", StandardCharsets.UTF_8));
    assertThat(second.readableBytes()).as("then hidden").isZero();
    second.release();
    ByteBuf third = filter.filter(Unpooled.copiedBuffer("\ndata: [DONE]\r\n\r\n", StandardCharsets.UTF_8));
    assertThat(third.toString(StandardCharsets.UTF_8))
        .as("the LF of the hidden event's CRLF came with the next chunk: hidden too")
        .isEqualTo("data: [DONE]\r\n\r\n");
    third.release();
    assertThat(filter.finish().readableBytes()).isZero();
  }

  @Test
  void doneIsNeverHeld_aCommentUntilItsEventShowsWhatItIs() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    ByteBuf out = filter.filter(Unpooled.copiedBuffer("data: [DO", StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8)).as("not an object: not the usage chunk").isEqualTo("data: [DO");
    out.release();
    out = filter.filter(Unpooled.copiedBuffer("NE]\n\n: OPENROUTER PROCESSING\n", StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8))
        .as("a comment is part of an event that may still be the usage chunk")
        .isEqualTo("NE]\n\n");
    out.release();
    out = filter.filter(Unpooled.copiedBuffer("\n", StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(": OPENROUTER PROCESSING\n\n");
    out.release();
    filter.finish().release();
  }

  @Test
  void filterOverAnExtractor_readsItsUsageInTheSamePass() {
    for (String name : OPENAI_STREAMS) {
      UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, /* stream= */ true);
      SseUsageChunkFilter filter = SseUsageChunkFilter.over(extractor);
      assertThat(filterAll(filter, Chunks.random(Fixtures.bytes(name), 5, 300)))
          .as(name).isEqualTo(withoutUsageEvent(text(name), "\n"));
      assertThat(extractor.reported()).as(name).isEqualTo(Fixtures.EXPECTED.get(name).usage());
      assertThat(extractor.completionText().toString()).as(name)
          .isEqualTo(UsageExtractorTestSupport.text(name));
    }
  }

  @Test
  void filterOverAnotherExtractor_feedsIt() {
    String name = "openai-chat-stream-include-usage.sse";
    List<Integer> fed = new ArrayList<>();
    UsageExtractor counting = new UsageExtractor() {
      @Override
      public void feed(ByteBuf chunk) {
        fed.add(chunk.readableBytes());
      }

      @Override
      public TokenUsage reported() {
        return null;
      }
    };
    assertThat(filterAll(SseUsageChunkFilter.over(counting), List.of(Fixtures.bytes(name))))
        .isEqualTo(withoutUsageEvent(text(name), "\n"));
    assertThat(fed).containsExactly(Fixtures.bytes(name).length);
  }

  @Property(tries = 200)
  void anyChunking_buyerGetsOriginalMinusUsageEvent(
      @ForAll("streams") String name,
      @ForAll @Size(max = 40) List<@IntRange(min = 1, max = 15_000) Integer> cuts) {
    byte[] bytes = Fixtures.bytes(name);
    List<byte[]> chunks = Chunks.split(bytes, cuts);
    assertThat(filterAll(chunks)).isEqualTo(withoutUsageEvent(text(name), "\n"));

    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, /* stream= */ true);
    Chunks.feed(extractor, chunks, false);
    assertThat(extractor.reported())
        .as("the extractor still sees the usage chunk the buyer does not")
        .isEqualTo(Fixtures.EXPECTED.get(name).usage());
  }

  @Provide
  Arbitrary<String> streams() {
    return Arbitraries.of(OPENAI_STREAMS);
  }

  /** Runs the filter over the chunks as the proxy would, and returns what the buyer received. */
  static String filterAll(List<byte[]> chunks) {
    return filterAll(new SseUsageChunkFilter(), chunks);
  }

  static String filterAll(SseUsageChunkFilter filter, List<byte[]> chunks) {
    ByteArrayOutputStream buyer = new ByteArrayOutputStream();
    List<ByteBuf> inputs = new ArrayList<>();
    for (byte[] chunk : chunks) {
      ByteBuf in = Unpooled.wrappedBuffer(chunk);
      inputs.add(in);
      ByteBuf out = filter.filter(in);
      buyer.writeBytes(ByteBufUtil.getBytes(out));
      out.release();
    }
    ByteBuf last = filter.finish();
    buyer.writeBytes(ByteBufUtil.getBytes(last));
    last.release();
    for (ByteBuf in : inputs) {
      assertThat(in.refCnt()).as("every input is released exactly once").isZero();
    }
    return buyer.toString(StandardCharsets.UTF_8);
  }

  /**
   * The oracle: the stream split at blank lines, without the block whose JSON has empty choices
   * and a usage object (by plain string search, independent of the filter's own scanning).
   */
  static String withoutUsageEvent(String stream, String eol) {
    String separator = eol + eol;
    StringBuilder kept = new StringBuilder();
    int from = 0;
    while (from < stream.length()) {
      int end = stream.indexOf(separator, from);
      end = end < 0 ? stream.length() : end + separator.length();
      String block = stream.substring(from, end);
      if (!(block.contains("\"choices\":[]") && block.contains("\"usage\":{"))) {
        kept.append(block);
      }
      from = end;
    }
    return kept.toString();
  }

  private static String text(String name) {
    return new String(Fixtures.bytes(name), StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The completion text of a fixture, read the two-pass way (extractor fed on its own). */
  private static final class UsageExtractorTestSupport {
    static String text(String name) {
      UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, /* stream= */ true);
      Chunks.feed(extractor, List.of(Fixtures.bytes(name)), false);
      return extractor.completionText().toString();
    }
  }
}
