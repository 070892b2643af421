package io.tollgate.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tollgate.metering.usage.Dialect;
import io.tollgate.metering.usage.ExtractorOptions;
import io.tollgate.metering.usage.SseUsageChunkFilter;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageExtractor;
import io.tollgate.metering.usage.UsageExtractors;
import io.tollgate.metering.usage.UsageReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Usage extraction per response: a ~1 KB and a ~16 KB OpenAI chat JSON body (with an extractor
 * made per call, and, {@code *Reused}, with one {@link UsageReader} started again per call as the
 * gateway does), and a 100-event OpenAI chat stream fed one event per {@link ByteBuf} (as
 * upstreams flush them), with and without collecting
 * the completion text for estimation. Baselines: Jackson {@code readTree} of the whole body (what
 * a buffering extractor would do at best), and the {@link SseUsageChunkFilter} pass over the same
 * stream. Inputs are generated up front, 16 variants indexed with {@code i++ & MASK}.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java @config/jvm.options -jar benchmarks/target/benchmarks.jar ExtractionBenchmark -f 1 -wi 3 -i 5 -w 1 -r 1 \
 *     -prof gc -rf json -rff /tmp/extraction.json
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ExtractionBenchmark {

  private static final int SIZE = 16;
  private static final int MASK = SIZE - 1;
  private static final int EVENTS = 100;
  private static final int LONG_ANSWER_WORDS = 2_500;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Whether the extractor keeps the delivered text for estimation (the gateway's default). */
  @Param({"true", "false"})
  public boolean collectText;

  private final byte[][] jsonBodies = new byte[SIZE][];
  private final ByteBuf[] jsonBuffers = new ByteBuf[SIZE];
  private final byte[][] longBodies = new byte[SIZE][];
  private final ByteBuf[] longBuffers = new ByteBuf[SIZE];
  private final byte[][][] streams = new byte[SIZE][][];
  private final ByteBuf[][] streamBuffers = new ByteBuf[SIZE][];
  private ExtractorOptions options;
  private final UsageReader reader = new UsageReader();
  private int index;

  @Setup
  public void setUp() {
    options =
        collectText
            ? ExtractorOptions.DEFAULTS
            : ExtractorOptions.DEFAULTS.withMaxCompletionChars(0);
    Random random = new Random(42);
    for (int i = 0; i < SIZE; i++) {
      jsonBodies[i] = jsonBody(random).getBytes(StandardCharsets.UTF_8);
      jsonBuffers[i] = Unpooled.wrappedBuffer(jsonBodies[i]);
      longBodies[i] = jsonBody(random, LONG_ANSWER_WORDS).getBytes(StandardCharsets.UTF_8);
      longBuffers[i] = Unpooled.wrappedBuffer(longBodies[i]);
      streams[i] = stream(random);
      streamBuffers[i] = new ByteBuf[streams[i].length];
      for (int e = 0; e < streams[i].length; e++) {
        streamBuffers[i][e] = Unpooled.wrappedBuffer(streams[i][e]);
      }
    }
  }

  @Benchmark
  public TokenUsage jsonBody() {
    return usageOf(jsonBuffers[index++ & MASK]);
  }

  /** As the gateway reads a body: the connection's reader started again, no reader made per call. */
  @Benchmark
  public TokenUsage jsonBodyReused() {
    return reusedUsageOf(jsonBuffers[index++ & MASK]);
  }

  @Benchmark
  public JsonNode jsonBody_readTreeBaseline() throws IOException {
    return MAPPER.readTree(jsonBodies[index++ & MASK]).get("usage");
  }

  /** A long answer (about 16 KB), where skipping the text rather than tokenizing it shows. */
  @Benchmark
  public TokenUsage jsonBody16k() {
    return usageOf(longBuffers[index++ & MASK]);
  }

  @Benchmark
  public TokenUsage jsonBody16kReused() {
    return reusedUsageOf(longBuffers[index++ & MASK]);
  }

  @Benchmark
  public JsonNode jsonBody16k_readTreeBaseline() throws IOException {
    return MAPPER.readTree(longBodies[index++ & MASK]).get("usage");
  }

  private TokenUsage usageOf(ByteBuf body) {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, false, options);
    extractor.feed(body);
    return extractor.reported();
  }

  private TokenUsage reusedUsageOf(ByteBuf body) {
    reader.start(Dialect.OPENAI, /* stream= */ false, options);
    reader.feed(body);
    return reader.reported();
  }

  @Benchmark
  public TokenUsage sseStream() {
    UsageExtractor extractor = UsageExtractors.create(Dialect.OPENAI, true, options);
    for (ByteBuf event : streamBuffers[index++ & MASK]) {
      extractor.feed(event);
    }
    return extractor.reported();
  }

  /** The filter takes ownership of each chunk, so each gets a fresh wrapper (~50 B of the bytes/op). */
  @Benchmark
  public int sseStream_usageChunkFilter() {
    SseUsageChunkFilter filter = new SseUsageChunkFilter();
    int forwarded = 0;
    for (byte[] event : streams[index++ & MASK]) {
      ByteBuf out = filter.filter(Unpooled.wrappedBuffer(event));
      forwarded += out.readableBytes();
      out.release();
    }
    ByteBuf last = filter.finish();
    forwarded += last.readableBytes();
    last.release();
    return forwarded;
  }

  private static String jsonBody(Random random) {
    return jsonBody(random, 110); // about 700 chars of answer: the whole body is about 1 KB
  }

  private static String jsonBody(Random random, int answerWords) {
    String content = words(random, answerWords);
    return "{\"id\":\"chatcmpl-" + Long.toHexString(random.nextLong()) + "\","
        + "\"object\":\"chat.completion\",\"created\":1770933883,\"model\":\"gpt-4.1-nano-2025-04-14\","
        + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + content
        + "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":" + (10 + random.nextInt(1000)) + ",\"completion_tokens\":"
        + (100 + random.nextInt(200)) + ",\"total_tokens\":1300,\"prompt_tokens_details\":"
        + "{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,"
        + "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
        + "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_38343a2f8f\"}";
  }

  /** 98 content chunks, the usage chunk and [DONE]: 100 events, one per buffer. */
  private static byte[][] stream(Random random) {
    byte[][] events = new byte[EVENTS][];
    String head = "data: {\"id\":\"chatcmpl-" + Long.toHexString(random.nextLong())
        + "\",\"object\":\"chat.completion.chunk\",\"created\":1755137921,"
        + "\"model\":\"gpt-5-nano-2025-08-07\",\"service_tier\":\"default\",\"system_fingerprint\":null,";
    for (int e = 0; e < EVENTS - 2; e++) {
      events[e] = (head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + words(random, 2)
          + "\"},\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"WuQNX\"}\n\n")
          .getBytes(StandardCharsets.UTF_8);
    }
    events[EVENTS - 2] = (head + "\"choices\":[],\"usage\":{\"prompt_tokens\":" + (10 + random.nextInt(500))
        + ",\"completion_tokens\":" + (100 + random.nextInt(100)) + ",\"total_tokens\":112,"
        + "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
        + "\"completion_tokens_details\":{\"reasoning_tokens\":100,\"audio_tokens\":0}},"
        + "\"obfuscation\":\"t9\"}\n\n").getBytes(StandardCharsets.UTF_8);
    events[EVENTS - 1] = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);
    return events;
  }

  private static String words(Random random, int count) {
    String[] words = {"the", "galaxy", "stars", "tonight", "celebrate", "curiosity", "about", "a"};
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < count; i++) {
      text.append(' ').append(words[random.nextInt(words.length)]);
    }
    return text.toString();
  }
}
