package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Chunk boundaries never change the outcome; no input makes an extractor throw. */
class UsageExtractionProperties {

  @Property(tries = 200)
  void anyChunkBoundaries_giveTheSameUsageAsTheWholeBody(
      @ForAll("fixtures") String name,
      @ForAll @Size(max = 60) List<@IntRange(min = 1, max = 32_000) Integer> cuts,
      @ForAll boolean direct) {
    Fixtures.Expected expected = Fixtures.EXPECTED.get(name);
    UsageExtractor extractor = UsageExtractors.create(expected.dialect(), expected.stream());
    Chunks.feed(extractor, Chunks.split(Fixtures.bytes(name), cuts), direct);
    assertThat(extractor.reported()).as(name).isEqualTo(expected.usage());
  }

  @Property(tries = 200)
  void truncatedBodies_neverThrow_andJsonBodiesReportNothing(
      @ForAll("fixtures") String name, @ForAll @IntRange(min = 0, max = 32_000) int keep) {
    Fixtures.Expected expected = Fixtures.EXPECTED.get(name);
    byte[] whole = Fixtures.bytes(name);
    int length = Math.min(keep, whole.length - 1);
    // the last byte of each JSON fixture is its closing brace or a newline after it
    byte[] truncated = Arrays.copyOf(whole, length);
    UsageExtractor extractor = UsageExtractors.create(expected.dialect(), expected.stream());
    Chunks.feed(extractor, Chunks.random(truncated, keep, 300), false);
    TokenUsage usage = extractor.reported();
    if (!expected.stream() && length < lastBrace(whole)) {
      assertThat(usage).as("a JSON body cut before its end reports nothing").isNull();
    }
    if (expected.stream()) {
      assertThat(usage == null || usage.equals(expected.usage()) || expected.dialect() == Dialect.ANTHROPIC)
          .as("a cut OpenAI stream reports its usage or nothing, never something else")
          .isTrue();
    }
  }

  @Property(tries = 200)
  void corruptedFixtures_neverThrow(
      @ForAll("fixtures") String name,
      @ForAll @Size(max = 20) List<@IntRange(min = 0, max = 32_000) Integer> positions,
      @ForAll byte value,
      @ForAll Dialect dialect,
      @ForAll boolean stream) {
    byte[] bytes = Fixtures.bytes(name);
    for (int position : positions) {
      bytes[position % bytes.length] = value;
    }
    UsageExtractor extractor = UsageExtractors.create(dialect, stream);
    Chunks.feed(extractor, Chunks.random(bytes, value, 100), false);
    extractor.reported();
    extractor.rejected();
    assertThat(extractor.completionText().length()).isLessThanOrEqualTo(bytes.length);
  }

  @Property(tries = 200)
  void arbitraryBytes_neverThrow(
      @ForAll("noise") byte[] bytes, @ForAll Dialect dialect, @ForAll boolean stream) {
    UsageExtractor extractor = UsageExtractors.create(dialect, stream);
    Chunks.feed(extractor, Chunks.random(bytes, bytes.length, 17), false);
    TokenUsage usage = extractor.reported();
    if (usage != null) {
      assertThat(usage.cachedInputTokens()).isLessThanOrEqualTo(usage.inputTokens());
    }
  }

  @Provide
  Arbitrary<String> fixtures() {
    return Arbitraries.of(Fixtures.names());
  }

  /** Random bytes biased towards the characters SSE and JSON framing is made of. */
  @Provide
  Arbitrary<byte[]> noise() {
    byte[] alphabet = "data: {}[]\":,\n\r usage 0123456789-e.".getBytes(StandardCharsets.UTF_8);
    Arbitrary<Byte> framing =
        Arbitraries.integers().between(0, alphabet.length - 1).map(i -> alphabet[i]);
    return Arbitraries.frequencyOf(Tuple.of(4, framing), Tuple.of(1, Arbitraries.bytes()))
        .array(byte[].class)
        .ofMaxSize(2000);
  }

  private static int lastBrace(byte[] json) {
    for (int i = json.length - 1; i >= 0; i--) {
      if (json[i] == '}') {
        return i + 1;
      }
    }
    return json.length;
  }
}
