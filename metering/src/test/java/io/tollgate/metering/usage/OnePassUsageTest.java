package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * The one pass over a response (usage, completion text and the usage-chunk filter together, read
 * from tokens) gives exactly what the separate passes before it gave (a skimmer copying each event
 * and parsing its usage object into a Jackson tree, and a filter parsing the usage chunk again):
 * for every fixture, read as every dialect, with LF, CRLF and CR line endings, however chunked.
 * {@code legacy-results.tsv} holds what the implementation before issue 8 gave, as it gave it.
 */
class OnePassUsageTest {

  /** One line of legacy-results.tsv. */
  record Old(String fixture, String lineEnding, Dialect dialect, String usage, boolean rejected, String text, String buyer) {

    byte[] bytes() {
      String eol = switch (lineEnding) {
        case "CRLF" -> "\r\n";
        case "CR" -> "\r";
        default -> "\n";
      };
      return new String(Fixtures.bytes(fixture), StandardCharsets.UTF_8).replace("\n", eol).getBytes(StandardCharsets.UTF_8);
    }

    boolean stream() {
      return fixture.endsWith(".sse");
    }
  }

  static final List<Old> OLD = load();

  @Test
  void theOldResults_coverEveryFixture_dialect_andLineEnding() {
    assertThat(OLD).hasSize(Fixtures.names().size() * 3 * Dialect.values().length);
    assertThat(OLD).as("the table must include reported usage, or it tests little")
        .filteredOn(o -> !o.usage().equals("none")).hasSizeGreaterThan(100);
  }

  @Property(tries = 300)
  void anyChunking_givesTheOldUsageTextAndBuyerStream(
      @ForAll("old") Old old,
      @ForAll @Size(max = 30) List<@IntRange(min = 1, max = 32_000) Integer> cuts,
      @ForAll boolean direct) {
    List<byte[]> chunks = Chunks.split(old.bytes(), cuts);
    UsageReader reader = new UsageReader().start(old.dialect(), old.stream(), ExtractorOptions.DEFAULTS, old.stream());
    byte[] buyer = forwardAll(reader, chunks, direct);

    assertThat(result(reader)).as("%s %s %s in %d chunks", old.fixture(), old.lineEnding(), old.dialect(), chunks.size())
        .isEqualTo(old.usage() + " " + old.rejected() + " " + old.text());
    if (old.stream()) {
      assertThat(buyer.length + " " + sha(buyer)).as("what the buyer receives").isEqualTo(old.buyer());
    }
  }

  /** Every way of cutting a stream in two, each event's end and inside every token and character. */
  @Test
  void everySplitPoint_ofEveryStream_givesTheOldResult() {
    UsageReader reader = new UsageReader(); // reused: starting again must forget the last stream
    ByteArrayOutputStream buyer = new ByteArrayOutputStream();
    for (Old old : OLD) {
      if (!old.stream() || !old.lineEnding().equals("LF") || old.dialect() != Fixtures.EXPECTED.get(old.fixture()).dialect()) {
        continue;
      }
      byte[] bytes = old.bytes();
      reader.start(old.dialect(), true, ExtractorOptions.DEFAULTS, /* hideUsageChunk= */ true);
      byte[] whole = forwardAll(reader, List.of(bytes), false);
      String expected = old.usage() + " " + old.rejected() + " " + old.text();
      assertThat(result(reader)).as(old.fixture()).isEqualTo(expected);
      assertThat(whole.length + " " + sha(whole)).as(old.fixture()).isEqualTo(old.buyer());
      String text = reader.completionText().toString();
      String usage = String.valueOf(reader.reported());
      for (int cut = 1; cut < bytes.length; cut++) {
        reader.start(old.dialect(), true, ExtractorOptions.DEFAULTS, /* hideUsageChunk= */ true);
        buyer.reset();
        forward(reader, Unpooled.wrappedBuffer(bytes, 0, cut), buyer);
        forward(reader, Unpooled.wrappedBuffer(bytes, cut, bytes.length - cut), buyer);
        ByteBuf last = reader.finish();
        write(last, buyer);
        assertThat(String.valueOf(reader.reported())).as("%s cut at %d", old.fixture(), cut).isEqualTo(usage);
        assertThat(reader.completionText().toString()).as("%s cut at %d", old.fixture(), cut).isEqualTo(text);
        assertThat(buyer.toByteArray()).as("%s cut at %d", old.fixture(), cut).isEqualTo(whole);
      }
    }
  }

  @Provide
  Arbitrary<Old> old() {
    return Arbitraries.of(OLD);
  }

  /** Forwards the chunks as the gateway does, and returns what the buyer received. */
  static byte[] forwardAll(UsageReader reader, List<byte[]> chunks, boolean direct) {
    ByteArrayOutputStream buyer = new ByteArrayOutputStream();
    List<ByteBuf> inputs = new ArrayList<>();
    for (byte[] chunk : chunks) {
      ByteBuf in = direct ? Unpooled.directBuffer(chunk.length).writeBytes(chunk) : Unpooled.wrappedBuffer(chunk);
      inputs.add(in);
      forward(reader, in, buyer);
    }
    write(reader.finish(), buyer);
    long unreleased = inputs.stream().filter(in -> in.refCnt() != 0).count();
    assertThat(unreleased).as("every chunk is released once the buyer's bytes are").isZero();
    return buyer.toByteArray();
  }

  private static void forward(UsageReader reader, ByteBuf in, ByteArrayOutputStream buyer) {
    write(reader.forward(in), buyer);
  }

  private static void write(ByteBuf out, ByteArrayOutputStream buyer) {
    byte[] bytes = new byte[out.readableBytes()];
    out.readBytes(bytes);
    out.release();
    buyer.writeBytes(bytes);
  }

  static String result(UsageExtractor extractor) {
    TokenUsage u = extractor.reported();
    String usage = u == null ? "none" : u.inputTokens() + " " + u.cachedInputTokens() + " " + u.outputTokens();
    String text = extractor.completionText().toString();
    return usage + " " + extractor.rejected() + " " + text.length() + " " + sha(text.getBytes(StandardCharsets.UTF_8));
  }

  static String sha(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<Old> load() {
    try (InputStream in = OnePassUsageTest.class.getResourceAsStream("legacy-results.tsv")) {
      List<Old> rows = new ArrayList<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.startsWith("#") || line.isBlank()) {
          continue;
        }
        String[] f = line.split("\t");
        rows.add(new Old(f[0], f[1], Dialect.valueOf(f[2]), f[3], Boolean.parseBoolean(f[4]), f[5], f[6]));
      }
      return rows;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
