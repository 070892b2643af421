package io.tollgate.benchmarks;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ByteProcessor;
import io.tollgate.metering.usage.Dialect;
import io.tollgate.metering.usage.ExtractorOptions;
import io.tollgate.metering.usage.SseUsageChunkFilter;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageExtractor;
import io.tollgate.metering.usage.UsageExtractors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The SSE pass, in bytes per second: what the exchange runs over each chunk of an OpenAI chat
 * stream whose buyer did not ask for usage: one pass that reads the usage and keeps the completion
 * text for the extractor and removes the usage chunk tollgate asked for ({@code
 * SseUsageChunkFilter.over}), as the exchange does with the gateway's extractor options. The {@code bytes} counter is the
 * stream's bytes per second; the primary score is whole streams per second, and {@code
 * gc.alloc.rate.norm} the bytes allocated per stream.
 *
 * <p>The stream is made from the recorded fixtures ({@code fixtures/}, or {@code -Dfixtures=DIR}):
 * the 48 content events of {@code openai-chat-stream-no-usage.sse} repeated to {@code
 * contentEvents} events, each with the {@code "usage":null} OpenAI adds when usage is asked for,
 * between that file's first and last events, then the usage chunk of {@code
 * openai-chat-stream-include-usage.sse} and {@code [DONE]}. {@code framing=event} hands it over
 * one event per buffer (as OpenAI flushes); {@code framing=16384} in 16 KiB buffers that cut
 * events anywhere (the reads of a fast upstream). Buffers are pooled direct ones, as the
 * transport's, or heap ones ({@code -p buffers=heap}). {@code baseline_findLines} is a pass that
 * only finds each line's end: the cost of looking at every byte once.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar SsePassBenchmark -prof gc -rf json -rff benchmarks/results/sse-pass.json
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SsePassBenchmark {

  @Param({"event", "16384"})
  public String framing;

  @Param({"direct"})
  public String buffers;

  @Param({"1000"})
  public int contentEvents;

  private ByteBuf[] chunks;
  private long streamBytes;

  /** The stream's bytes, counted per second. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Bytes {
    public long bytes;

    @Setup(Level.Iteration)
    public void reset() {
      bytes = 0;
    }
  }

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Path dir = Path.of(System.getProperty("fixtures", "fixtures"));
    List<String> plain = events(Files.readString(dir.resolve("openai-chat-stream-no-usage.sse")));
    List<String> withUsage = events(Files.readString(dir.resolve("openai-chat-stream-include-usage.sse")));
    String usageChunk = withUsage.stream().filter(e -> e.contains("\"choices\":[]")).findFirst().orElseThrow();
    List<String> content = plain.subList(1, plain.size() - 2); // without the role, finish and [DONE] events
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    List<byte[]> events = new ArrayList<>();
    events.add(askedForUsage(plain.get(0)));
    for (int e = 0; e < contentEvents; e++) {
      events.add(askedForUsage(content.get(e % content.size())));
    }
    events.add(askedForUsage(plain.get(plain.size() - 2)));
    events.add(usageChunk.getBytes(StandardCharsets.UTF_8));
    events.add(plain.get(plain.size() - 1).getBytes(StandardCharsets.UTF_8));
    events.forEach(stream::writeBytes);
    byte[] all = stream.toByteArray();
    streamBytes = all.length;

    List<byte[]> pieces = new ArrayList<>();
    if (framing.equals("event")) {
      pieces = events;
    } else {
      int size = Integer.parseInt(framing);
      for (int at = 0; at < all.length; at += size) {
        pieces.add(Arrays.copyOfRange(all, at, Math.min(all.length, at + size)));
      }
    }
    chunks = new ByteBuf[pieces.size()];
    for (int c = 0; c < chunks.length; c++) {
      byte[] p = pieces.get(c);
      chunks[c] = switch (buffers) {
        case "direct" -> PooledByteBufAllocator.DEFAULT.directBuffer(p.length).writeBytes(p);
        case "heap" -> Unpooled.buffer(p.length).writeBytes(p);
        default -> throw new IllegalArgumentException("buffers must be direct or heap: " + buffers);
      };
    }
    check(all.length - usageChunk.length());
  }

  /** The pass gives the fixture's usage and forwards all but the usage chunk, and leaves the input as it was. */
  private void check(long expectedForwarded) {
    Bytes counter = new Bytes();
    for (int run = 0; run < 2; run++) {
      long[] forwarded = {0};
      TokenUsage usage = pass(counter, out -> forwarded[0] += out.readableBytes());
      if (usage == null || usage.inputTokens() != 12 || usage.outputTokens() != 100
          || forwarded[0] != expectedForwarded) {
        throw new IllegalStateException("SSE pass gave " + usage + " and forwarded " + forwarded[0]
            + " bytes; expected 12/100 and " + expectedForwarded);
      }
    }
  }

  /** One event of the recorded stream as the upstream sends it when asked for usage. */
  private static byte[] askedForUsage(String event) {
    return event.replace(",\"obfuscation\":", ",\"usage\":null,\"obfuscation\":").getBytes(StandardCharsets.UTF_8);
  }

  /** The events of an SSE body, each with its closing blank line. */
  private static List<String> events(String body) {
    List<String> events = new ArrayList<>();
    for (String e : body.split("(?<=\n\n)")) {
      if (!e.isBlank()) {
        events.add(e);
      }
    }
    return events;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (ByteBuf c : chunks) {
      c.release();
    }
  }

  @Benchmark
  public TokenUsage ssePass(Bytes b) {
    return pass(b, null);
  }

  /** Exchange.onContent per chunk, then the end of the stream; {@code sink} sees what the buyer gets. */
  private TokenUsage pass(Bytes b, Consumer<ByteBuf> sink) {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, /* stream= */ true, ExtractorOptions.DEFAULTS);
    // one pass, as Exchange does it: the filter reads the usage for the extractor
    SseUsageChunkFilter filter = SseUsageChunkFilter.over(extractor);
    for (ByteBuf chunk : chunks) {
      // The filter owns what it is given: the retain keeps the prepared chunk for the next stream.
      ByteBuf out = filter.filter(chunk.retain());
      if (sink != null) {
        sink.accept(out);
      }
      out.release();
    }
    ByteBuf tail = filter.finish();
    if (sink != null) {
      sink.accept(tail);
    }
    tail.release();
    b.bytes += streamBytes;
    return extractor.reported();
  }

  /** Every byte looked at once: the ends of the stream's lines found, nothing else. */
  @Benchmark
  public int baseline_findLines(Bytes b) {
    int lines = 0;
    for (ByteBuf chunk : chunks) {
      int end = chunk.writerIndex();
      for (int i = chunk.readerIndex(); i < end; ) {
        int lf = chunk.forEachByte(i, end - i, ByteProcessor.FIND_LF);
        if (lf < 0) {
          break;
        }
        lines++;
        i = lf + 1;
      }
    }
    b.bytes += streamBytes;
    return lines;
  }
}
