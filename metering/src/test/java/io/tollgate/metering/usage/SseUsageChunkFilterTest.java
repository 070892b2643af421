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
    assertThat(in.refCnt()).as("the filter owns and releases what it does not return").isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("data: {\"choices\":[{\"delta\":{}}]}\n\n");
    out.release();
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
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
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
}
