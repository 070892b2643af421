package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The skimmer resumes an SSE event from the state of the last one where their bytes agree (its
 * template, before and after the completion string). That must never change what is read: each
 * generated stream, cut at seeded random points, gives the usage and text of the same stream read
 * without templates. The reference is made template-free by an event {@code data: 0} between any
 * two events: it shares no byte with them, so every event is read from its first byte; it counts
 * nothing and keeps no text.
 */
class EventTemplateTest {

  private static final String[] PIECES = {
    "Hello", " world", " the", " galaxy", "", " ", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u00e9", "\\ud83d\\ude00",
    "\\u0022", "é", "日本語", "😀", "a\\\\\\\"b", "\\r\\n", "{\\\"a\\\":1}", "data: x", "}\\\"],"
  };

  @Test
  void templatedReading_givesWhatReadingEachEventWholeGives() {
    for (long seed = 0; seed < 200; seed++) {
      Random random = new Random(seed);
      Dialect dialect = seed % 4 == 3 ? Dialect.ANTHROPIC : Dialect.OPENAI;
      String crlf = random.nextInt(4) == 0 ? "\r\n" : "\n";
      StringBuilder stream = new StringBuilder();
      StringBuilder reference = new StringBuilder();
      int events = 2 + random.nextInt(40);
      for (int e = 0; e < events; e++) {
        String event = dialect == Dialect.OPENAI ? openAiEvent(random, e) : anthropicEvent(random, e);
        if (random.nextInt(25) == 0) {
          event = event.substring(0, random.nextInt(event.length())); // a malformed event: its text is dropped
        }
        String framed = frame(event, random, crlf);
        stream.append(framed);
        reference.append(framed).append("data: 0").append(crlf).append(crlf);
      }
      byte[] bytes = stream.toString().getBytes(StandardCharsets.UTF_8);
      UsageExtractor expected = Chunks.feed(
          UsageExtractors.create(dialect, /* stream= */ true),
          List.of(reference.toString().getBytes(StandardCharsets.UTF_8)), /* direct= */ false);
      UsageExtractor actual = Chunks.feed(
          UsageExtractors.create(dialect, /* stream= */ true),
          Chunks.random(bytes, seed, 1 + random.nextInt(random.nextBoolean() ? 64 : 2048)), seed % 2 == 0);

      assertThat(actual.reported()).as("usage of stream %d:%n%s", seed, stream).isEqualTo(expected.reported());
      assertThat(actual.rejected()).as("rejection of stream %d", seed).isEqualTo(expected.rejected());
      assertThat(actual.completionText().toString())
          .as("text of stream %d:%n%s", seed, stream)
          .isEqualTo(expected.completionText().toString());
    }
  }

  /** One data line mostly; sometimes the JSON split over two data lines, or a space after a colon. */
  private static String frame(String json, Random random, String crlf) {
    if (random.nextInt(20) == 0 && json.length() > 2) {
      int cut = 1 + random.nextInt(json.length() - 1);
      return "data: " + json.substring(0, cut) + crlf + "data:" + json.substring(cut) + crlf + crlf;
    }
    return "data: " + json + crlf + crlf;
  }

  private static String openAiEvent(Random random, int e) {
    String head = "{\"id\":\"chatcmpl-C4HqHBe4xca0k0Ez\",\"object\":\"chat.completion.chunk\",\"created\":"
        + (random.nextInt(8) == 0 ? 1755137934 : 1755137933) + ",\"model\":\"gpt-5-nano\",\"choices\":";
    String tail = (random.nextBoolean() ? ",\"usage\":null" : "") + ",\"obfuscation\":\"" + "x".repeat(random.nextInt(12)) + "\"}";
    String content = random.nextInt(30) == 0 ? "\"\\u0063ontent\"" : "\"content\"";
    String colon = random.nextInt(30) == 0 ? ": " : ":";
    return switch (e == 0 ? 0 : 1 + random.nextInt(12)) {
      case 0 -> head + "[{\"index\":0,\"delta\":{\"role\":\"assistant\"," + content + ":\"\",\"refusal\":null},"
          + "\"finish_reason\":null}]" + tail;
      case 1 -> head + "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]" + tail;
      case 2 -> head + "[],\"usage\":{\"prompt_tokens\":" + random.nextInt(1000) + ",\"completion_tokens\":"
          + random.nextInt(1000) + ",\"total_tokens\":" + random.nextInt(2000) + "},\"obfuscation\":\"t9\"}";
      case 3 -> head + "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\""
          + text(random) + "\"}}]},\"finish_reason\":null}]" + tail;
      case 4 -> head + "[{\"index\":0,\"delta\":{" + content + colon + "null},\"finish_reason\":null}]" + tail;
      case 5 -> head + "[{\"index\":0,\"delta\":{" + content + ":\"" + text(random) + "\",\"refusal\":\""
          + text(random) + "\"},\"finish_reason\":null}]" + tail;
      default -> head + "[{\"index\":0,\"delta\":{" + content + colon + "\"" + text(random)
          + "\"},\"finish_reason\":null}]" + tail;
    };
  }

  private static String anthropicEvent(Random random, int e) {
    return switch (e == 0 ? 0 : 1 + random.nextInt(8)) {
      case 0 -> "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[],"
          + "\"usage\":{\"input_tokens\":" + random.nextInt(100) + ",\"output_tokens\":1}}}";
      case 1 -> "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":"
          + random.nextInt(500) + "}}";
      case 2 -> "{\"type\":\"ping\"}";
      default -> "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""
          + text(random) + "\"}}";
    };
  }

  private static String text(Random random) {
    StringBuilder text = new StringBuilder();
    for (int k = random.nextInt(6); k > 0; k--) {
      text.append(PIECES[random.nextInt(PIECES.length)]);
    }
    if (random.nextInt(40) == 0) {
      text.append(" long".repeat(400)); // past a piece: read piecewise
    }
    return text.toString();
  }
}
