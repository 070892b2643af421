package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The reader the gateway can keep: reused call after call, one pass, nothing allocated per event. */
class UsageReaderTest {

  private static final List<String> STREAMS =
      Fixtures.names().stream().filter(n -> n.endsWith(".sse")).toList();

  @Test
  void aReusedReader_readsEachResponseAsAFreshOne() {
    UsageReader reused = new UsageReader();
    Random random = new Random(1);
    for (int round = 0; round < 3; round++) {
      for (String name : Fixtures.names()) {
        Fixtures.Expected expected = Fixtures.EXPECTED.get(name);
        List<byte[]> chunks = Chunks.random(Fixtures.bytes(name), random.nextLong(), 700);
        reused.start(expected.dialect(), expected.stream(), ExtractorOptions.DEFAULTS, expected.stream());
        byte[] buyer = OnePassUsageTest.forwardAll(reused, chunks, random.nextBoolean());

        UsageExtractor fresh = UsageExtractors.create(expected.dialect(), expected.stream());
        Chunks.feed(fresh, chunks, false);
        assertThat(OnePassUsageTest.result(reused)).as(name).isEqualTo(OnePassUsageTest.result(fresh));
        assertThat(reused.reported()).as(name).isEqualTo(expected.usage());
        if (expected.stream()) {
          assertThat(new String(buyer, StandardCharsets.UTF_8)).as(name)
              .isEqualTo(SseUsageChunkFilterTest.withoutUsageEvent(new String(Fixtures.bytes(name), StandardCharsets.UTF_8), "\n"));
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aReusedReader_allocatesNothingPerEvent(boolean direct) {
    byte[][] events = chatStream(1000);
    List<ByteBuf> chunks = new ArrayList<>();
    for (byte[] event : events) {
      // wrapped, not allocated: the tests' paranoid leak detection records every access of those
      chunks.add(direct ? Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(event.length).put(event).flip())
          : Unpooled.wrappedBuffer(event));
    }
    UsageReader reader = new UsageReader();
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long allocated = 0;
    for (int round = 0; round < 20; round++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      reader.start(Dialect.OPENAI, /* stream= */ true, ExtractorOptions.DEFAULTS, /* hideUsageChunk= */ true);
      for (ByteBuf chunk : chunks) {
        reader.forward(chunk.retain()).release();
      }
      reader.finish().release();
      TokenUsage usage = reader.reported();
      allocated = threads.getCurrentThreadAllocatedBytes() - before;
      assertThat(usage).isEqualTo(Fixtures.usage(12, 0, 100));
    }
    chunks.forEach(ByteBuf::release);
    assertThat(allocated).as("bytes allocated for a 1000-event stream, after the first: its TokenUsage").isLessThan(100);
  }

  @Test
  void directBuffersLongerThanTheScratch_areCutWhereTheUsageChunkIs() {
    byte[][] events = chatStream(200);
    for (String eol : new String[] {"\n", "\r\n"}) {
      StringBuilder stream = new StringBuilder();
      for (byte[] event : events) {
        stream.append(new String(event, StandardCharsets.UTF_8).replace("\n", eol));
      }
      String whole = stream.toString();
      String expected = SseUsageChunkFilterTest.withoutUsageEvent(whole, eol);
      int usageAt = whole.indexOf("\"choices\":[]");
      for (int shift = -400; shift <= 400; shift += 7) { // the usage chunk across the 8 KiB scratch
        int start = Math.max(0, usageAt - 8192 + shift);
        byte[] bytes = whole.getBytes(StandardCharsets.UTF_8);
        List<byte[]> chunks = Chunks.split(bytes, List.of(start));
        UsageReader reader = new UsageReader().start(Dialect.OPENAI, true, ExtractorOptions.DEFAULTS, true);
        byte[] buyer = OnePassUsageTest.forwardAll(reader, chunks, /* direct= */ true);
        assertThat(new String(buyer, StandardCharsets.UTF_8)).as("shift %d", shift).isEqualTo(expected);
        assertThat(reader.reported()).isEqualTo(Fixtures.usage(12, 0, 100));
      }
    }
  }

  /**
   * Events that begin alike are read from the state kept for their common beginning. Damage
   * anywhere in the first bytes of some events, and the outcome must still be what reading every
   * byte gives: byte by byte, no template is ever taken.
   */
  @Property(tries = 150)
  void eventsThatBeginAlmostAlike_readAsIfReadByteByByte(@ForAll("streams") String name, @ForAll long seed) {
    Random random = new Random(seed);
    String[] events = new String(Fixtures.bytes(name), StandardCharsets.UTF_8).split("(?<=\n\n)");
    StringBuilder stream = new StringBuilder();
    for (String event : events) {
      if (stream.length() > 6000) {
        break; // read byte by byte below: a few dozen events are enough
      }
      if (random.nextInt(3) == 0) {
        char[] chars = event.toCharArray();
        int at = random.nextInt(Math.min(chars.length, 320));
        chars[at] = "{}[]\":,x0 \\\n".charAt(random.nextInt(12));
        event = new String(chars);
      }
      stream.append(event);
    }
    byte[] bytes = stream.toString().getBytes(StandardCharsets.UTF_8);
    Dialect dialect = Fixtures.EXPECTED.get(name).dialect();
    boolean hide = dialect == Dialect.OPENAI; // as the gateway does: only OpenAI chat has it asked for

    UsageReader whole = new UsageReader().start(dialect, true, ExtractorOptions.DEFAULTS, hide);
    byte[] wholeBuyer = OnePassUsageTest.forwardAll(whole, List.of(bytes), random.nextBoolean());
    UsageReader bytewise = new UsageReader().start(dialect, true, ExtractorOptions.DEFAULTS, hide);
    byte[] bytewiseBuyer = OnePassUsageTest.forwardAll(bytewise, Chunks.ofSize(bytes, 1), false);
    UsageReader random300 = new UsageReader().start(dialect, true, ExtractorOptions.DEFAULTS, hide);
    byte[] randomBuyer = OnePassUsageTest.forwardAll(random300, Chunks.random(bytes, seed, 300), false);

    assertThat(OnePassUsageTest.result(whole)).isEqualTo(OnePassUsageTest.result(bytewise));
    assertThat(OnePassUsageTest.result(random300)).isEqualTo(OnePassUsageTest.result(bytewise));
    assertThat(wholeBuyer).isEqualTo(bytewiseBuyer);
    assertThat(randomBuyer).isEqualTo(bytewiseBuyer);
  }

  @Provide
  Arbitrary<String> streams() {
    return Arbitraries.of(STREAMS);
  }

  @Test
  void withoutHiding_forwardReturnsTheChunkItself() {
    UsageReader reader = new UsageReader().start(Dialect.OPENAI, true, ExtractorOptions.DEFAULTS);
    ByteBuf in = Unpooled.wrappedBuffer(Fixtures.bytes("openai-chat-stream-include-usage.sse"));
    assertThat(reader.forward(in)).isSameAs(in);
    assertThat(in.refCnt()).isEqualTo(1);
    in.release();
    assertThat(reader.reported()).isEqualTo(Fixtures.usage(12, 0, 100));
  }

  @Test
  void onlyAStream_hasAUsageChunkToHide() {
    assertThatThrownBy(() -> new UsageReader().start(Dialect.OPENAI, false, ExtractorOptions.DEFAULTS, true))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * The content events of openai-chat-stream-include-usage.sse repeated to {@code content} events,
   * then its usage chunk and [DONE]: one event per array.
   */
  static byte[][] chatStream(int content) {
    String[] recorded = new String(Fixtures.bytes("openai-chat-stream-include-usage.sse"), StandardCharsets.UTF_8)
        .split("(?<=\n\n)");
    List<String> contentEvents = new ArrayList<>();
    String usage = null;
    for (String e : recorded) {
      if (e.contains("\"choices\":[]")) {
        usage = e;
      } else if (e.contains("\"content\":")) {
        contentEvents.add(e);
      }
    }
    byte[][] events = new byte[content + 2][];
    for (int i = 0; i < content; i++) {
      events[i] = contentEvents.get(i % contentEvents.size()).getBytes(StandardCharsets.UTF_8);
    }
    events[content] = usage.getBytes(StandardCharsets.UTF_8);
    events[content + 1] = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);
    return events;
  }
}
