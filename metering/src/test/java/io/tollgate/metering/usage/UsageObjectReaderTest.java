package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The usage object is read from its tokens, not parsed into a tree: it must read what the tree
 * says ({@link ReferenceReports}, from Jackson's tree) and refuse exactly what Jackson refuses.
 */
class UsageObjectReaderTest {

  private static final long MAX = ExtractorOptions.DEFAULTS.maxTokensPerField();

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
    "12 | 12", "12.0 | 12", "1.2e1 | 12", "1200e-2 | 12", "1E3 | 1000", "1.0e+2 | 100", "0 | 0",
    "-0 | 0", "0.0 | 0", "0e99999 | 0", "-5 | -5", "9223372036854775807 | 9223372036854775807",
    "1.5 | invalid", "12.50 | invalid", "1e-1 | invalid", "1e30 | invalid", "9223372036854775808 | invalid",
    "-9223372036854775808 | invalid", "123456789012345678901234567890e-20 | invalid",
    "\"12\" | invalid", "true | invalid", "false | invalid", "{} | invalid", "[1] | invalid", "null | absent",
  })
  void aCount_isReadAsJsonNodeWouldReadIt(String json, String expected) {
    UsageReport report = read("{\"prompt_tokens\":" + json + "}");
    long v = report.counts[UsageReport.PROMPT_TOKENS];
    assertThat(v == UsageReport.ABSENT ? "absent" : v == UsageReport.INVALID ? "invalid" : Long.toString(v))
        .as(json).isEqualTo(expected);
  }

  @Property(tries = 500)
  void randomUsageObjects_anyChunking_areReadAsTheirTreeSays(@ForAll long seed, @ForAll @IntRange(min = 1, max = 40) int maxChunk) {
    Random random = new Random(seed);
    byte[] json = usageObject(random).getBytes(StandardCharsets.UTF_8);
    JsonNode tree = JsonEventReader.tree(json, 0, json.length);
    assertThat(tree).as("the generated object is valid JSON: %s", new String(json, StandardCharsets.UTF_8)).isNotNull();

    UsageObjectReader reader = new UsageObjectReader();
    UsageReport report = new UsageReport();
    reader.start(report, MAX, 256);
    int consumed = feed(reader, json, Chunks.random(json, seed, maxChunk));

    assertThat(reader.done()).isTrue();
    assertThat(consumed).as("the reader stops after the closing brace").isEqualTo(json.length);
    assertThat(ReferenceReports.render(report)).as(new String(json, StandardCharsets.UTF_8))
        .isEqualTo(ReferenceReports.expected(tree, MAX));
  }

  @Property(tries = 1000)
  void damagedUsageObjects_areRefused_exactlyWhenJacksonRefusesThem(@ForAll long seed) {
    Random random = new Random(seed);
    byte[] json = usageObject(random).getBytes(StandardCharsets.UTF_8);
    for (int k = random.nextInt(3); k >= 0; k--) {
      json[1 + random.nextInt(json.length - 1)] = DAMAGE[random.nextInt(DAMAGE.length)];
    }
    JsonNode tree = JsonEventReader.tree(json, 0, json.length);

    UsageObjectReader reader = new UsageObjectReader();
    UsageReport report = new UsageReport();
    reader.start(report, MAX, 256);
    feed(reader, json, Chunks.random(json, seed, 17));

    String doc = new String(json, StandardCharsets.ISO_8859_1);
    assertThat(reader.done() && !reader.failed()).as("read whole: %s", doc).isEqualTo(tree != null);
    if (tree != null) {
      assertThat(ReferenceReports.render(report)).as(doc).isEqualTo(ReferenceReports.expected(tree, MAX));
    }
  }

  /**
   * An object whole in one piece, as a JSON body's usage nearly always is, is read in one step
   * when it is plain: it must read and refuse exactly as byte by byte, whatever follows it.
   */
  @Property(tries = 1000)
  void usageObjectsWholeInOnePiece_damagedOrNot_areReadAsJacksonReadsThem(@ForAll long seed, @ForAll boolean damage) {
    Random random = new Random(seed);
    byte[] json = usageObjectOftenPlain(random).getBytes(StandardCharsets.UTF_8);
    if (damage) {
      for (int k = random.nextInt(3); k >= 0; k--) {
        json[1 + random.nextInt(json.length - 1)] = DAMAGE[random.nextInt(DAMAGE.length)];
      }
    }
    JsonNode tree = JsonEventReader.tree(json, 0, json.length);
    byte[] piece = Arrays.copyOf(json, json.length + 3);
    piece[json.length] = (byte) ',';
    piece[json.length + 1] = (byte) '1';
    piece[json.length + 2] = (byte) '}';

    UsageObjectReader reader = new UsageObjectReader();
    UsageReport report = new UsageReport();
    reader.start(report, MAX, 256);
    int stop = reader.feed(piece, 0, piece.length, /* lineMode= */ false);

    UsageObjectReader byteByByte = new UsageObjectReader();
    UsageReport expected = new UsageReport();
    byteByByte.start(expected, MAX, 256);
    int consumed = feed(byteByByte, piece, Chunks.ofSize(piece, 1));

    String doc = new String(json, StandardCharsets.ISO_8859_1);
    assertThat(reader.done() && !reader.failed()).as("read whole: %s", doc).isEqualTo(tree != null);
    assertThat(reader.failed()).as("refused: %s", doc).isEqualTo(byteByByte.failed());
    if (reader.done()) {
      assertThat(ReferenceReports.render(report)).as(doc).isEqualTo(ReferenceReports.render(expected));
    }
    if (tree != null) {
      assertThat(stop).as("stops where byte by byte stops: %s", doc).isEqualTo(consumed);
      assertThat(ReferenceReports.render(report)).as(doc).isEqualTo(ReferenceReports.expected(tree, MAX));
    }
  }

  /** The property above is only as strong as its damage: much of it must break the JSON, not all. */
  @org.junit.jupiter.api.Test
  void theDamage_breaksSomeObjects_andNotOthers() {
    int refused = 0;
    for (long seed = 0; seed < 300; seed++) {
      Random random = new Random(seed);
      byte[] json = usageObject(random).getBytes(StandardCharsets.UTF_8);
      for (int k = random.nextInt(3); k >= 0; k--) {
        json[1 + random.nextInt(json.length - 1)] = DAMAGE[random.nextInt(DAMAGE.length)];
      }
      refused += JsonEventReader.tree(json, 0, json.length) == null ? 1 : 0;
    }
    assertThat(refused).as("of 300 damaged objects, refused").isBetween(100, 280);
  }

  /** Bytes that break JSON in the ways a reader must notice, or must not mind. */
  private static final byte[] DAMAGE = {
    '{', '}', '[', ']', ',', ':', '"', '\\', '-', '+', '.', 'e', '0', '1', 'x', 'u', 'n', 't', ' ', '\t', '\n',
    0, 0x1f, 0x7f, (byte) 0x80, (byte) 0xbf, (byte) 0xc3, (byte) 0xe2, (byte) 0xf0, (byte) 0xf8, (byte) 0xff,
  };

  private static int feed(UsageObjectReader reader, byte[] json, List<byte[]> chunks) {
    int consumed = 0;
    for (byte[] chunk : chunks) {
      int stop = reader.feed(chunk, 0, chunk.length, /* lineMode= */ false);
      consumed += stop;
      if (reader.done() || reader.failed()) {
        break;
      }
    }
    return consumed;
  }

  private static UsageReport read(String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    UsageObjectReader reader = new UsageObjectReader();
    UsageReport report = new UsageReport();
    reader.start(report, MAX, 256);
    reader.feed(bytes, 0, bytes.length, /* lineMode= */ false);
    assertThat(reader.done()).as(json).isTrue();
    return report;
  }

  private static final String[] NAMES = {
    "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "total_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "prompt_tokens_details", "input_tokens_details",
    "iterations", "cached_tokens", "reasoning_tokens", "cost", "prompt\\u005ftokens", "\\u0069nput_tokens", "caf\u00e9",
  };
  private static final String[] NUMBERS = {
    "0", "7", "-3", "12.0", "1.5", "1e3", "1E+2", "2.50e1", "-0", "0.0", "1e30", "9223372036854775807",
    "9223372036854775808", "10000001", "123",
  };

  /** A usage object whose names are mostly the ones counted, with values of every kind. */
  static String usageObject(Random random) {
    return object(random, 0, /* plain= */ false);
  }

  /**
   * A usage object, half of the time plain: names and strings without escapes or non-ASCII,
   * integers only, as an upstream writes it and as the reader reads it in one step when whole.
   */
  static String usageObjectOftenPlain(Random random) {
    return object(random, 0, random.nextBoolean());
  }

  private static final String[] PLAIN_NAMES = Arrays.stream(NAMES).filter(n -> n.chars().allMatch(c -> c >= 0x20 && c < 0x7f && c != '\\')).toArray(String[]::new);
  private static final String[] PLAIN_NUMBERS = {"0", "7", "-3", "-0", "9223372036854775807", "999999999999999999", "10000001", "123"};

  private static String object(Random random, int depth, boolean plain) {
    StringBuilder s = new StringBuilder("{");
    int n = random.nextInt(depth == 0 ? 9 : 4);
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        s.append(',');
      }
      String[] names = plain ? PLAIN_NAMES : NAMES;
      s.append(space(random)).append('"').append(names[random.nextInt(names.length)]).append('"').append(space(random))
          .append(':').append(space(random)).append(value(random, depth + 1, plain)).append(space(random));
    }
    return s.append('}').toString();
  }

  private static String value(Random random, int depth, boolean plain) {
    int kind = random.nextInt(depth > 3 ? 4 : 7);
    return switch (kind) {
      case 0, 1 -> plain ? PLAIN_NUMBERS[random.nextInt(PLAIN_NUMBERS.length)] : NUMBERS[random.nextInt(NUMBERS.length)];
      case 2 -> random.nextBoolean() ? "null" : random.nextBoolean() ? "true" : "false";
      case 3 -> "\"" + (random.nextBoolean() || plain ? "12" : "a \\\"q\\\" \\u00e9 \u00e9") + "\"";
      case 4, 5 -> object(random, depth, plain);
      default -> {
        StringBuilder a = new StringBuilder("[");
        for (int i = random.nextInt(4); i > 0; i--) {
          a.append(random.nextInt(4) > 0 ? object(random, depth, plain) : value(random, depth + 1, plain));
          if (i > 1) {
            a.append(',');
          }
        }
        yield a.append(']').toString();
      }
    };
  }

  private static String space(Random random) {
    return random.nextInt(4) == 0 ? " \n\t\r".substring(random.nextInt(4)) : "";
  }
}
