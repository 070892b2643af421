package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tollgate.metering.testing.SharedFixtures;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * {@link RequestBody#scan}: the fields admission reads, and, since the hand-written scanner must
 * accept and refuse exactly the bodies Jackson did, a differential run against the Jackson reader
 * it replaced ({@link RequestBody#withJackson}, still how UTF-16 and UTF-32 bodies are read) over
 * the fixtures, edge cases and seeded random bodies and mutations of them, each read from a heap
 * array, a direct buffer and a composite buffer.
 */
class RequestBodyTest {

  private static final int PREFIX = 3; // bytes before the body in each buffer: a non-zero reader index

  /**
   * A direct buffer with a memory address, as the codec hands bodies over; wrapping a
   * {@link ByteBuffer} keeps it out of the leak detector, which at PARANOID records every access.
   */
  private ByteBuf direct = Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(1 << 16));

  @Test
  void chatRequest_givesModelAndStreamFlags() {
    RequestBody scan = scan("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");

    assertThat(scan).isEqualTo(new RequestBody(true, "gpt-4o", true, true, true));
  }

  @Test
  void streamOptionsOfAnyValue_isPresent_butIncludesUsageOnlyAsTrueInAnObject() {
    assertThat(scan("{\"stream_options\":null}")).isEqualTo(new RequestBody(true, null, false, false, true));
    assertThat(scan("{\"stream_options\":[true]}")).isEqualTo(new RequestBody(true, null, false, false, true));
    assertThat(scan("{\"stream_options\":{\"include_usage\":\"true\"}}"))
        .isEqualTo(new RequestBody(true, null, false, false, true));
    assertThat(scan("{\"stream\":\"true\",\"include_usage\":true}"))
        .isEqualTo(new RequestBody(true, null, false, false, false));
  }

  @Test
  void escapedNames_compareUnescaped_andModelIsDecoded() {
    assertThat(scan("{\"mod\\u0065l\":\"a\\u00e9\\n\\ud83d\\ude00\",\"\\u0073tream\":true}"))
        .isEqualTo(new RequestBody(true, "a\u00e9\n\ud83d\ude00", true, false, false));
    assertThat(scan("{\"model\":\"caf\u00e9-\ud83d\ude00\"}").model()).isEqualTo("caf\u00e9-\ud83d\ude00");
  }

  @Test
  void duplicateKeys_lastWins() {
    assertThat(scan("{\"model\":\"a\",\"model\":\"b\"}").model()).isEqualTo("b");
    assertThat(scan("{\"model\":\"a\",\"model\":1}")).isEqualTo(new RequestBody(true, null, false, false, false));
    assertThat(scan("{\"stream_options\":{\"include_usage\":true},\"stream_options\":1}"))
        .isEqualTo(new RequestBody(true, null, false, false, true));
  }

  @Test
  void modelOrStreamOrIncludeUsageHoldingAContainer_isJsonWithoutThem() {
    // the buyer hears that the model is missing, not that its well-formed body is not JSON
    assertThat(scan("{\"model\":{\"name\":\"x\"}}")).isEqualTo(new RequestBody(true, null, false, false, false));
    assertThat(scan("{\"model\":[\"x\"],\"stream\":true}")).isEqualTo(new RequestBody(true, null, true, false, false));
    assertThat(scan("{\"stream\":{\"a\":true},\"model\":\"m\"}")).isEqualTo(new RequestBody(true, "m", false, false, false));
    assertThat(scan("{\"stream_options\":{\"include_usage\":[true]}}"))
        .isEqualTo(new RequestBody(true, null, false, false, true));
    assertThat(scan("{\"model\":{\"a\":1}")).as("still malformed").isEqualTo(RequestBody.EMPTY);
    assertThat(scan("{\"x\":{\"model\":{}}}")).isEqualTo(new RequestBody(true, null, false, false, false));
  }

  @Test
  void malformedBodies_areNotJson() {
    for (String body : List.of("", " ", "[]", "\"x\"", "{", "{}{}", "{} x", "{\"a\":1,}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":NaN}", "{'a':1}", "{\"a\":\"\t\"}", "{\"a\":\"\\x\"}",
        "{\"a\":tru}", "{\"a\":1}/**/", "{\"a\":[1,]}", "{\"a\" 1}")) {
      assertThat(scan(body)).as(body).isEqualTo(RequestBody.EMPTY);
    }
  }

  @Test
  void nesting_isBoundedAtJacksonsDepthOf1000() {
    assertThat(scan(nested(RequestBodyScanner.MAX_DEPTH - 1)).json()).isTrue();
    assertThat(scan(nested(RequestBodyScanner.MAX_DEPTH)).json()).isFalse();
  }

  @Test
  void indices_areNotMoved() {
    ByteBuf body = Unpooled.copiedBuffer("xx{\"model\":\"m\"}", StandardCharsets.UTF_8).readerIndex(2);

    assertThat(RequestBody.scan(body).model()).isEqualTo("m");
    assertThat(body.readerIndex()).isEqualTo(2);
    assertThat(body.writerIndex()).isEqualTo(15);
  }

  @Test
  void scan_allocatesNothingButTheModelAndItsRecord() {
    byte[] json = ("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + "Summarise the following notes. ".repeat(30) + "\"}],\"temperature\":0.2,\"stream\":true,"
        + "\"stream_options\":{\"include_usage\":true}}").getBytes(StandardCharsets.UTF_8);
    direct.clear().writeBytes(json);
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    int calls = 20_000;
    for (int i = 0; i < calls; i++) {
      RequestBody.scan(direct);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < calls; i++) {
      RequestBody.scan(direct);
    }
    long perCall = (threads.getCurrentThreadAllocatedBytes() - before) / calls;

    assertThat(perCall).as("a record and an 11-char string, ~80 bytes").isLessThan(128);
  }

  @Test
  void fixtures_agreeWithJackson() throws IOException {
    List<byte[]> bodies = new ArrayList<>();
    try (Stream<Path> files = Files.list(SharedFixtures.dir())) {
      for (Path file : files.sorted().toList()) {
        String name = file.getFileName().toString();
        if (name.endsWith(".json")) {
          bodies.add(Files.readAllBytes(file));
        } else if (name.endsWith(".sse")) {
          for (String line : Files.readAllLines(file)) {
            if (line.startsWith("data:") && line.contains("{")) {
              bodies.add(line.substring(5).getBytes(StandardCharsets.UTF_8));
            }
          }
        }
      }
    }
    assertThat(bodies).hasSizeGreaterThan(50);
    int objects = 0;
    for (byte[] body : bodies) {
      objects += agree(body) ? 1 : 0;
      agree(("{\"model\":\"fx\",\"stream\":true,\"input\":" + new String(body, StandardCharsets.UTF_8) + "}")
          .getBytes(StandardCharsets.UTF_8));
    }
    assertThat(objects).as("the fixtures are JSON objects").isGreaterThan(50);
  }

  @Test
  void edgeCases_agreeWithJackson() {
    List<String> bodies = new ArrayList<>(List.of("", " \t\r\n", "{}", " {} ", "{}\n\n", "{}\u000b", "{}\f",
        "\u00a0{}", "{}\u0000", "{} {}", "{}[", "{}}", "{}]", "{}//", "{}#", "{}/*x*/", "[]", "[{}]", "\"{}\"",
        "1", "true", "null", "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", "{\"a\"}", "{\"a\":}", "{\"a\"::1}", "{a:1}",
        "{\"a\":[1 2]}", "{\"a\":[1,,2]}", "{\"a\":[,]}", "{\"a\":[}", "{\"a\":{]}", "{\"a\":[1]]}",
        "{\"model\":\"m\"", "{\"model\":\"m", "{\"model\":\"m\\", "{\"model\":\"m\\u12", "{\"model\":"));
    for (String n : List.of("0", "-0", "1e5", "1E+5", "1e-5", "01", "-01", "00", "1.", ".5", "-.5", "+1", "-", "--1",
        "1e", "1e+", "1.5.3", "0.0", "-0.0e-0", "1.0E", "NaN", "-Infinity", "Infinity", "+INF", "-INF", "1x", "0x1",
        "1_000", "12345678901234567890123", "1.7976931348623157E309", "truex", "nul", "falsey", "True", "t",
        "tru", "true1", "null]", "[true]", "[-]", "[1e5]", "[0e0]")) {
      bodies.add("{\"a\":" + n + "}");
      bodies.add("{\"a\":[" + n + "]}");
      bodies.add("{\"stream\":" + n + ",\"model\":" + n + "}");
    }
    for (int len : new int[] {999, 1000, 1001}) {
      String digits = "1".repeat(len);
      bodies.add("{\"a\":" + digits + "}");
      bodies.add("{\"a\":-" + digits + "}");
      bodies.add("{\"a\":" + digits + ".5}");
      bodies.add("{\"a\":1." + digits + "}");
      bodies.add("{\"a\":1e" + digits + "}");
      bodies.add("{\"a\":" + "1".repeat(len / 2) + "." + "2".repeat(len - len / 2 - 2) + "e1}");
    }
    for (String s : List.of("\\\"", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u0000", "\\u00e9\\u00E9", "\\uD83D\\uDE00",
        "\\uD800", "\\uDC00", "\\uDE00\\uD83D", "\\u12G4", "\\u", "\\U0041", "\\x41", "\\'", "\\ ", "\\\u00e9",
        "\t", "\n", "\u0001", "\u001f", "\u007f", "\u00e9", "\u20ac", "\ud83d\ude00", "\uffff", "\ufeff")) {
      bodies.add("{\"model\":\"" + s + "\"}");
      bodies.add("{\"a\":\"" + s + "\",\"model\":\"m\"}");
      bodies.add("{\"" + s + "\":1}");
      bodies.add("{\"mod" + s + "el\":\"m\"}");
      bodies.add("{\"a\":{\"" + s + "\":[\"" + s + "\"]}}");
      bodies.add("{\"stream_options\":{\"" + s + "\":1,\"include_usage\":true}}");
    }
    for (String name : List.of("model", "mod\\u0065l", "\\u006d\\u006F\\u0064\\u0065\\u006c", "model ", "Model",
        "mode", "models", "stream", "str\\u0065am", "strea", "streams", "stream_options", "stream\\u005foptions",
        "stream_option", "include_usage", "include\\u005Fusage", "include_usag")) {
      bodies.add("{\"" + name + "\":\"v\"}");
      bodies.add("{\"" + name + "\":true}");
      bodies.add("{\"stream_options\":{\"" + name + "\":true}}");
      bodies.add("{\"" + name + "\":{\"include_usage\":true,\"" + name + "\":true}}");
      bodies.add("{\"" + name + "\":[1,{\"model\":\"x\"}]}");
    }
    for (String container : List.of("{\"model\":{}}", "{\"model\":[]}", "{\"model\":{\"a\":1},\"b\":2}",
        "{\"model\":{\"model\":\"m\"}", "{\"stream\":[true]}", "{\"stream\":{\"stream\":true}}",
        "{\"stream_options\":{\"include_usage\":{}}}", "{\"stream_options\":{\"include_usage\":[true]}}",
        "{\"stream_options\":{\"include_usage\":{\"a\":[]}},\"model\":\"m\"}", "{\"stream_options\":[{}]}",
        "{\"stream_options\":{\"a\":{\"include_usage\":true}}}", "{\"stream_options\":\"x\",\"stream_options\":{}}",
        "{\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
        "{\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}")) {
      bodies.add(container);
    }
    for (int depth : new int[] {998, 999, 1000, 1001}) {
      bodies.add(nested(depth));
      bodies.add("{\"a\":" + "{\"b\":".repeat(depth - 1) + "1" + "}".repeat(depth - 1) + "}");
      bodies.add("{\"stream_options\":" + "[".repeat(depth - 1) + "]".repeat(depth - 1) + "}");
    }
    for (int len : new int[] {49_999, 50_000, 50_001}) {
      bodies.add("{\"" + "n".repeat(len) + "\":1}");
      bodies.add("{\"a\":{\"" + "\u00e9".repeat(len / 2) + "n".repeat(len % 2) + "\":1}}");
      bodies.add("{\"" + "\\u00e9".repeat(len / 2) + "n".repeat(len % 2) + "\":1}");
      bodies.add("{\"" + "\\u20ac".repeat(len / 3) + "n".repeat(len % 3) + "\":1}");
      bodies.add("{\"model\":\"" + "m".repeat(len) + "\"}");
    }
    for (String body : bodies) {
      agree(body.getBytes(StandardCharsets.UTF_8));
    }
    for (Charset charset : List.of(StandardCharsets.UTF_16BE, StandardCharsets.UTF_16LE, StandardCharsets.UTF_16,
        Charset.forName("UTF-32BE"), Charset.forName("UTF-32LE"))) {
      agree("{\"model\":\"m\u00e9\",\"stream\":true}".getBytes(charset));
      agree("\ufeff{\"model\":\"m\"}".getBytes(charset));
      agree("{\"model\":\"m\",}".getBytes(charset));
    }
    agree(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '{', '}'});
    agree(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
    agree(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, ' '});
    agree(new byte[] {(byte) 0xEF, (byte) 0xBB, '{', '}'});
    agree(new byte[] {(byte) 0xFE, (byte) 0xFF, 0, '{', 0, '}'});
    agree(new byte[] {(byte) 0xFE, (byte) 0xFF, 0, 0, 0, '{', 0, '}'});
    agree(new byte[] {0, 0, '{', 0, '}', 0});
    agree(new byte[] {'{', 0, '}', 0});
    agree(new byte[] {'{', '}', 0, 0});
    agree(new byte[] {0});
    agree(new byte[] {'{'});
  }

  @Test
  void invalidUtf8_agreesWithJackson() {
    int[][] sequences = {{0x80}, {0xBF}, {0xC0, 0x80}, {0xC1, 0xBF}, {0xC2, 0x80}, {0xC2}, {0xC2, 0x41}, {0xDF, 0xBF},
        {0xE0, 0x80, 0x80}, {0xE0, 0x9F, 0xBF}, {0xE0, 0xA0, 0x80}, {0xE1, 0x80}, {0xEC, 0xBF, 0xBF},
        {0xED, 0x9F, 0xBF}, {0xED, 0xA0, 0x80}, {0xED, 0xBF, 0xBF}, {0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF},
        {0xF0, 0x80, 0x80, 0x80}, {0xF0, 0x8F, 0xBF, 0xBF}, {0xF0, 0x90, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF},
        {0xF4, 0x8F, 0xBF, 0xBF}, {0xF4, 0x90, 0x80, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xF7, 0xBF, 0xBF, 0xBF},
        {0xF8, 0x88, 0x80, 0x80, 0x80}, {0xFE}, {0xFF}, {0xF0, 0x90, 0x80}, {0xF0, 0x90, 0x80, 0x41}};
    for (int[] sequence : sequences) {
      byte[] bad = new byte[sequence.length];
      for (int i = 0; i < bad.length; i++) {
        bad[i] = (byte) sequence[i];
      }
      for (String[] around : new String[][] {{"{\"model\":\"", "\"}"}, {"{\"model\":\"a", "\"}"}, {"{\"x\":\"", "\"}"},
          {"{\"", "\":1}"}, {"{\"mo", "del\":1}"}, {"{\"a\":{\"", "\":1}}"}, {"{\"a\":", "}"}, {"{\"a\":[1", "]}"},
          {"{\"a\":true", "}"}, {"{", "}"}, {"{}", ""}, {"", "{}"}, {"{\"model\":\"", ""}, {"{\"a\":\"\\", "\"}"}}) {
        byte[] head = around[0].getBytes(StandardCharsets.UTF_8);
        byte[] tail = around[1].getBytes(StandardCharsets.UTF_8);
        byte[] body = new byte[head.length + bad.length + tail.length];
        System.arraycopy(head, 0, body, 0, head.length);
        System.arraycopy(bad, 0, body, head.length, bad.length);
        System.arraycopy(tail, 0, body, head.length + bad.length, tail.length);
        agree(body);
      }
    }
  }

  @Test
  void largeBodyInManyPieces_agreesWithJackson() {
    String prompt = "Summarise the following notes, caf\u00e9 \u20ac \ud83d\ude00. ".repeat(2_000);
    for (String json : List.of("{\"messages\":[{\"content\":\"" + prompt + "\"}],\"mod\\u0065l\":\"m\u00e9\"}",
        "{\"messages\":[{\"content\":\"" + prompt + "\"}],\"model\":\"m\",\"x\":\"\\ud800\\ud800\"}")) {
      byte[] body = json.getBytes(StandardCharsets.UTF_8);
      List<ByteBuf> pieces = new ArrayList<>();
      for (int i = 0; i < body.length; i += 1_000) {
        pieces.add(Unpooled.wrappedBuffer(body, i, Math.min(1_000, body.length - i)));
      }
      ByteBuf composite = Unpooled.wrappedBuffer(pieces.size(), pieces.toArray(ByteBuf[]::new));

      assertThat(RequestBody.scan(composite)).isEqualTo(RequestBody.withJackson(composite));
      assertThat(RequestBody.scan(composite).json()).isTrue();
    }
  }

  @Test
  void longestModel_isJacksonsStringLimit() {
    byte[] body = new byte[RequestBodyScanner.MAX_STRING_LENGTH + 13];
    Arrays.fill(body, (byte) 'm');
    byte[] head = "{\"model\":\"".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(head, 0, body, 0, head.length);
    for (int extra : new int[] {1, 0}) { // the longer first: the shorter's quote then ends the string
      int end = head.length + RequestBodyScanner.MAX_STRING_LENGTH + extra;
      body[end] = '"';
      body[end + 1] = '}';
      ByteBuf buf = Unpooled.wrappedBuffer(body, 0, end + 2);
      RequestBody scan = RequestBody.scan(buf);
      assertThat(scan.json()).isEqualTo(extra == 0);
      assertThat(scan).isEqualTo(RequestBody.withJackson(buf));
    }
  }

  @Test
  void randomBodiesAndMutations_agreeWithJackson() {
    SplittableRandom random = new SplittableRandom(20261202);
    RandomJson generator = new RandomJson(random);
    int objects = 0;
    for (int i = 0; i < 2_000; i++) {
      StringBuilder json = new StringBuilder();
      generator.object(json, 0, /* top= */ true);
      byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
      objects += agree(body) ? 1 : 0;
      for (int m = 0; m < 4; m++) {
        agree(mutate(body, random));
      }
    }
    assertThat(objects).as("most are JSON; the rest hold a container in model or stream").isGreaterThan(1_200);
  }

  /** Scans {@code body} and Jackson's reader over it as three kinds of buffer; whether it is JSON. */
  private boolean agree(byte[] body) {
    RequestBody expected = RequestBody.withJackson(Unpooled.wrappedBuffer(body));

    byte[] padded = new byte[PREFIX + body.length + 2];
    System.arraycopy(body, 0, padded, PREFIX, body.length);
    ByteBuf heap = Unpooled.wrappedBuffer(padded, 1, padded.length - 1).setIndex(PREFIX - 1, PREFIX - 1 + body.length);
    assertThat(RequestBody.scan(heap)).as("heap: %s", show(body)).isEqualTo(expected);
    assertThat(heap.readerIndex()).isEqualTo(PREFIX - 1);

    if (direct.capacity() < PREFIX + body.length) {
      direct = Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(PREFIX + body.length));
    }
    direct.setIndex(PREFIX, PREFIX).writeBytes(body);
    assertThat(RequestBody.scan(direct)).as("direct: %s", show(body)).isEqualTo(expected);

    int cut = body.length / 3;
    ByteBuf composite = Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(padded, 0, PREFIX + cut),
        Unpooled.wrappedBuffer(padded, PREFIX + cut, body.length - cut)).readerIndex(PREFIX);
    assertThat(RequestBody.scan(composite)).as("composite: %s", show(body)).isEqualTo(expected);
    return expected.json();
  }

  private static byte[] mutate(byte[] body, SplittableRandom random) {
    byte[] interesting = {'{', '}', '[', ']', '"', '\\', ':', ',', ' ', '\n', '\t', 0, 1, 0x1f, 0x7f, '0', '1', '-',
        '+', '.', 'e', 'E', 'u', 't', 'n', 'f', 'a', 'D', '/', '#', (byte) 0x80, (byte) 0xBF, (byte) 0xC0,
        (byte) 0xC3, (byte) 0xE0, (byte) 0xED, (byte) 0xEF, (byte) 0xF0, (byte) 0xF4, (byte) 0xF5, (byte) 0xFE,
        (byte) 0xFF};
    byte[] out = body.clone();
    int edits = 1 + random.nextInt(3);
    for (int e = 0; e < edits && out.length > 0; e++) {
      int at = random.nextInt(out.length);
      byte b = random.nextInt(4) == 0 ? (byte) random.nextInt(256) : interesting[random.nextInt(interesting.length)];
      switch (random.nextInt(5)) {
        case 0 -> out[at] = b;
        case 1 -> {
          byte[] shorter = new byte[out.length - 1];
          System.arraycopy(out, 0, shorter, 0, at);
          System.arraycopy(out, at + 1, shorter, at, out.length - at - 1);
          out = shorter;
        }
        case 2 -> {
          byte[] longer = new byte[out.length + 1];
          System.arraycopy(out, 0, longer, 0, at);
          longer[at] = b;
          System.arraycopy(out, at, longer, at + 1, out.length - at);
          out = longer;
        }
        case 3 -> out = Arrays.copyOf(out, at);
        default -> {
          int to = Math.min(out.length, at + 1 + random.nextInt(8));
          byte[] doubled = new byte[out.length + to - at];
          System.arraycopy(out, 0, doubled, 0, to);
          System.arraycopy(out, at, doubled, to, out.length - at);
          out = doubled;
        }
      }
    }
    return out;
  }

  /** Seeded random JSON of the shapes request bodies have, with the keys the scanner looks for. */
  private record RandomJson(SplittableRandom random) {

    private static final String[] KEYS = {"model", "stream", "stream_options", "include_usage", "messages", "role",
        "content", "temperature", "max_tokens", "tools", "", "mod\\u0065l", "\\u0073tream", "stream\\u005foptions",
        "include\\u005fusage", "\\u00e9t\u00e9", "\ud83d\ude00", "\\uD83D\\uDE00", "a\\\"b", "\\n"};
    private static final String[] STRINGS = {"gpt-4o", "claude-3-5-sonnet", "", "caf\u00e9", "\u20ac100",
        "\ud83d\ude00", "tab\\tnew\\nline", "quote\\\"s", "\\u00e9\\u0000\\uD800", "\\uDBFF\\uDFFF", "back\\\\slash",
        "sl\\/ash", "\u007f", "Summarise the following notes for a status report."};
    private static final String[] NUMBERS = {"0", "-0", "1", "-1", "0.2", "1e5", "1E-5", "-2.5e+10", "123456789012",
        "0.000001", "1.0", "9007199254740993"};

    void object(StringBuilder out, int depth, boolean top) {
      out.append(space()).append('{');
      int members = random.nextInt(top ? 7 : 4);
      for (int m = 0; m < members; m++) {
        if (m > 0) {
          out.append(',');
        }
        out.append(space()).append('"').append(KEYS[random.nextInt(KEYS.length)]).append('"').append(space())
            .append(':');
        value(out, depth + 1);
      }
      out.append(space()).append('}').append(space());
    }

    private void value(StringBuilder out, int depth) {
      out.append(space());
      int kind = random.nextInt(depth > 5 ? 5 : 7);
      switch (kind) {
        case 0 -> out.append('"').append(STRINGS[random.nextInt(STRINGS.length)]).append('"');
        case 1 -> out.append(NUMBERS[random.nextInt(NUMBERS.length)]);
        case 2 -> out.append(random.nextBoolean() ? "true" : "false");
        case 3 -> out.append("null");
        case 4 -> out.append(random.nextInt(3) == 0 ? "true" : "\"" + STRINGS[random.nextInt(STRINGS.length)] + "\"");
        case 5 -> object(out, depth, false);
        default -> {
          out.append('[');
          int items = random.nextInt(4);
          for (int i = 0; i < items; i++) {
            if (i > 0) {
              out.append(',');
            }
            value(out, depth + 1);
          }
          out.append(space()).append(']');
        }
      }
      out.append(space());
    }

    private String space() {
      return switch (random.nextInt(8)) {
        case 0 -> " ";
        case 1 -> "\n  ";
        case 2 -> "\r\n\t";
        default -> "";
      };
    }
  }

  private static String nested(int arrays) {
    return "{\"messages\":" + "[".repeat(arrays) + "]".repeat(arrays) + "}";
  }

  private static RequestBody scan(String json) {
    return RequestBody.scan(Unpooled.copiedBuffer(json, StandardCharsets.UTF_8));
  }

  private static String show(byte[] body) {
    return body.length > 300 ? new String(body, 0, 300, StandardCharsets.ISO_8859_1) + "..."
        : new String(body, StandardCharsets.ISO_8859_1);
  }
}
