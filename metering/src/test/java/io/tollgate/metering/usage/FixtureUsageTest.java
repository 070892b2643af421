package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every recorded response yields exactly the usage its README gives, however it is chunked. */
class FixtureUsageTest {

  static List<String> fixtures() {
    return Fixtures.names();
  }

  @Test
  void everyFixtureFile_hasAnExpectation() {
    assertThat(Fixtures.EXPECTED.keySet())
        .as("a fixture without an expected usage would go untested")
        .containsExactlyInAnyOrderElementsOf(Fixtures.names());
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void wholeBody_yieldsReadmeUsage(String name) {
    assertUsage(name, List.of(Fixtures.bytes(name)), /* direct= */ false);
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void oneByteChunks_yieldReadmeUsage(String name) {
    assertUsage(name, Chunks.ofSize(Fixtures.bytes(name), 1), /* direct= */ false);
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void directBufferChunks_yieldReadmeUsage(String name) {
    assertUsage(name, Chunks.random(Fixtures.bytes(name), 7, 9000), /* direct= */ true);
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void chunksSplitInsideUtf8Characters_yieldReadmeUsage(String name) {
    assertUsage(name, Chunks.insideUtf8Characters(Fixtures.bytes(name)), /* direct= */ false);
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void randomChunks_yieldReadmeUsage(String name) {
    byte[] body = Fixtures.bytes(name);
    for (long seed = 0; seed < 20; seed++) {
      assertUsage(name, Chunks.random(body, seed, 1 + (int) (seed * 37 % 400)), seed % 2 == 0);
    }
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void crlfLineEndings_yieldReadmeUsage(String name) {
    String body = new String(Fixtures.bytes(name), java.nio.charset.StandardCharsets.UTF_8);
    for (String eol : new String[] {"\r\n", "\r"}) {
      byte[] converted = body.replace("\n", eol).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      assertUsage(name, Chunks.random(converted, eol.length(), 50), /* direct= */ false);
    }
  }

  @Test
  void utf8Fixtures_areAmongTheCases() {
    long withMultiByte =
        Fixtures.names().stream()
            .filter(n -> Chunks.insideUtf8Characters(Fixtures.bytes(n)).size() > 1)
            .count();
    assertThat(withMultiByte).as("the UTF-8 split test must split something").isGreaterThan(0);
  }

  static void assertUsage(String name, List<byte[]> chunks, boolean direct) {
    Fixtures.Expected expected = Fixtures.EXPECTED.get(name);
    UsageExtractor extractor = UsageExtractors.create(expected.dialect(), expected.stream());
    Chunks.feed(extractor, chunks, direct);
    assertThat(extractor.reported())
        .as("%s fed in %d chunks", name, chunks.size())
        .isEqualTo(expected.usage());
    assertThat(extractor.rejected()).as("%s reports believable usage", name).isFalse();
  }
}
