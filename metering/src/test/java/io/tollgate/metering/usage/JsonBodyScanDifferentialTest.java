package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

/**
 * A JSON body's usage scan takes shortcuts when a string, a usage object or a run of text lies
 * whole in one buffer: strings found by their quotes eight bytes at a time, the usage object read
 * by descent, ASCII text copied as it lies. None may change what is read. Seeded chat-completion
 * bodies, valid and damaged, are cut at random points and read by a reused {@link UsageReader};
 * the reference is the same body read one byte per buffer (no shortcut applies then) and, for a
 * valid body, what Jackson finds in it ({@link JsonEventReader}, {@link ReferenceReports}).
 */
class JsonBodyScanDifferentialTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper ASCII_JSON =
      JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final long MAX = ExtractorOptions.DEFAULTS.maxTokensPerField();
  private static final String POINTER = "/meta/usage";

  private final UsageReader reader = new UsageReader(); // reused, as the gateway reuses one per connection
  private final UsageReader byteByByte = new UsageReader();

  @Property(tries = 1500)
  void anyCut_ofAnyBody_damagedOrNot_readsAsByteByByte_andAsJacksonWhenValid(@ForAll long seed) {
    Random random = new Random(seed);
    byte[] body = chatBody(random);
    boolean damaged = random.nextInt(3) == 0;
    if (damaged) {
      body = damage(body, random);
    }
    Dialect dialect = Dialect.values()[random.nextInt(4) == 0 ? random.nextInt(3) : 0];
    ExtractorOptions options = switch (random.nextInt(4)) {
      case 0 -> ExtractorOptions.DEFAULTS.withMaxCompletionChars(0);
      case 1 -> ExtractorOptions.DEFAULTS.withMaxCompletionChars(1 + random.nextInt(300));
      case 2 -> ExtractorOptions.DEFAULTS.withUsagePointers(POINTER);
      default -> ExtractorOptions.DEFAULTS;
    };
    List<Integer> cuts = new ArrayList<>();
    for (int k = random.nextInt(6); k > 0; k--) {
      cuts.add(random.nextInt(body.length + 1));
    }
    String doc = new String(body, StandardCharsets.UTF_8);

    reader.start(dialect, /* stream= */ false, options);
    Chunks.feed(reader, Chunks.split(body, cuts), /* direct= */ random.nextBoolean());
    byteByByte.start(dialect, /* stream= */ false, options);
    Chunks.feed(byteByByte, Chunks.ofSize(body, 1), /* direct= */ false);

    assertThat(reader.reported()).as("usage of %s", doc).isEqualTo(byteByByte.reported());
    assertThat(reader.rejected()).as("rejected: %s", doc).isEqualTo(byteByByte.rejected());
    assertThat(reader.completionText().toString()).as("text of %s", doc)
        .isEqualTo(byteByByte.completionText().toString());

    if (!damaged) {
      assertReadsAsJackson(body, dialect, options, cuts, doc);
    }
  }

  /** The usage objects and text the skimmer finds, whole or cut, are those Jackson finds. */
  private static void assertReadsAsJackson(
      byte[] body, Dialect dialect, ExtractorOptions options, List<Integer> cuts, String doc) {
    UsageShape shape = UsageShape.of(dialect, /* stream= */ false, options.usagePointers());
    CompletionText expectedText = new CompletionText(options.maxCompletionChars() == 0 ? 0 : 1 << 20);
    JsonEventReader reference = new JsonEventReader(shape.usagePaths(), shape.textPaths(), expectedText);
    assertThat(reference.readWhole(body, 0, body.length)).as("a valid body: %s", doc).isTrue();

    CompletionText text = new CompletionText(expectedText.enabled() ? 1 << 20 : 0);
    JsonSkimmer skimmer = new JsonSkimmer(text);
    skimmer.start(shape.trie(text.enabled()), MAX);
    for (byte[] piece : Chunks.split(body, cuts)) {
      skimmer.feed(piece, 0, piece.length, /* lineMode= */ false);
    }
    assertThat(skimmer.complete()).as(doc).isTrue();
    assertThat(ReferenceReports.of(skimmer)).as(doc).isEqualTo(ReferenceReports.expected(reference.usages(), MAX));
    assertThat(text.toString()).as(doc).isEqualTo(expectedText.toString());
  }

  /** The property above is only as strong as its bodies: most must report usage, many text, some be refused. */
  @Test
  void theBodies_holdUsageTextAndRefusals() {
    int usage = 0;
    int text = 0;
    int refused = 0;
    int unreadable = 0;
    for (long seed = 0; seed < 400; seed++) {
      Random random = new Random(seed);
      byte[] body = chatBody(random);
      if (seed % 2 == 1) {
        body = damage(body, random);
      }
      byteByByte.start(Dialect.OPENAI, /* stream= */ false, ExtractorOptions.DEFAULTS);
      Chunks.feed(byteByByte, List.of(body), /* direct= */ false);
      usage += byteByByte.reported() != null ? 1 : 0;
      text += byteByByte.completionText().length() > 0 ? 1 : 0;
      refused += byteByByte.rejected() ? 1 : 0;
      unreadable += seed % 2 == 1 && byteByByte.reported() == null && !byteByByte.rejected() ? 1 : 0;
    }
    assertThat(usage).as("of 400 bodies, with usage").isBetween(150, 380);
    assertThat(text).as("of 400 bodies, with text").isGreaterThan(300);
    assertThat(refused).as("of 400 bodies, with a usage refused").isBetween(5, 200);
    assertThat(unreadable).as("of 200 damaged bodies, unreadable").isBetween(20, 190);
  }

  // --- Bodies: OpenAI chat completions (and Responses-shaped output), with what makes a scan err.

  private static final String[] WORDS = {
    "the", "galaxy", "usage", "\"usage\":{\"prompt_tokens\":1}", "}]", "\\", "\"", "\n", "\t", "caf\u00e9",
    "\ud83d\ude00", "\u4e2d\u6587", "\u0001", "{", "choices", "a b c",
  };

  private static byte[] chatBody(Random random) {
    ObjectNode root = NODES.objectNode();
    List<Runnable> members = new ArrayList<>();
    members.add(() -> root.put("id", "chatcmpl-" + Long.toHexString(random.nextLong())));
    members.add(() -> root.put("object", "chat.completion"));
    members.add(() -> root.put("created", 1770933883));
    members.add(() -> root.put("model", "gpt-4.1-nano-2025-04-14"));
    members.add(() -> root.set("choices", choices(random)));
    if (random.nextInt(6) > 0) {
      members.add(() -> root.set("usage", random.nextInt(10) == 0 ? NODES.nullNode() : usage(random)));
    }
    if (random.nextInt(4) == 0) {
      members.add(() -> root.putObject("meta").set("usage", usage(random)));
    }
    if (random.nextInt(5) == 0) {
      members.add(() -> root.putArray("output").addObject().putArray("content").addObject()
          .put("type", "output_text").put("text", text(random)));
    }
    members.add(() -> root.put("service_tier", "default"));
    members.add(() -> root.put("system_fingerprint", "fp_38343a2f8f"));
    java.util.Collections.shuffle(members, random); // usage before or after choices, or anywhere
    members.forEach(Runnable::run);
    try {
      ObjectMapper mapper = random.nextInt(4) == 0 ? ASCII_JSON : JSON;
      String json = random.nextInt(4) == 0
          ? mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root)
          : mapper.writeValueAsString(root);
      if (random.nextInt(4) == 0) { // names as a writer may escape them
        json = json.replace("\"usage\":", "\"\\u0075sage\":").replace("\"prompt_tokens\":", "\"prompt\\u005ftokens\":");
      }
      return json.getBytes(StandardCharsets.UTF_8);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static ArrayNode choices(Random random) {
    ArrayNode choices = NODES.arrayNode();
    for (int c = random.nextInt(5) == 0 ? 2 : 1; c > 0; c--) {
      ObjectNode choice = choices.addObject();
      choice.put("index", choices.size() - 1);
      ObjectNode message = choice.putObject("message");
      message.put("role", "assistant");
      message.put("content", text(random));
      message.putNull("refusal");
      if (random.nextInt(4) == 0) {
        message.put("reasoning_content", text(random));
      }
      if (random.nextInt(4) == 0) {
        ObjectNode function = message.putArray("tool_calls").addObject().put("id", "call_1").put("type", "function")
            .putObject("function");
        function.put("name", "lookup").put("arguments", "{\"q\":\"" + text(random).replace("\"", "'") + "\"}");
      }
      if (random.nextInt(4) == 0) {
        message.set("usage", usage(random)); // not the body's usage: nested
      }
      message.putArray("annotations");
      choice.putNull("logprobs");
      choice.put("finish_reason", "stop");
      if (random.nextInt(6) == 0) {
        choice.putObject("usage").put("prompt_tokens", 999_999); // nor this one
      }
    }
    return choices;
  }

  private static String text(Random random) {
    StringBuilder s = new StringBuilder();
    int words = random.nextInt(8) == 0 ? 400 + random.nextInt(800) : random.nextInt(120);
    for (int i = 0; i < words; i++) {
      s.append(random.nextInt(3) > 0 ? " " + WORDS[random.nextInt(2)] : WORDS[random.nextInt(WORDS.length)]);
    }
    return s.toString();
  }

  private static ObjectNode usage(Random random) {
    ObjectNode usage = NODES.objectNode();
    usage.set("prompt_tokens", count(random));
    usage.set("completion_tokens", count(random));
    usage.put("total_tokens", 1300);
    if (random.nextBoolean()) {
      usage.putObject("prompt_tokens_details").put("cached_tokens", random.nextInt(12)).put("audio_tokens", 0);
      usage.putObject("completion_tokens_details").put("reasoning_tokens", 0).put("audio_tokens", 0)
          .put("accepted_prediction_tokens", 0).put("rejected_prediction_tokens", 0);
    }
    return usage;
  }

  /** A count as upstreams write it, now and then one a reader must refuse or read with care. */
  private static JsonNode count(Random random) {
    return switch (random.nextInt(40)) {
      case 0 -> NODES.numberNode(new BigDecimal("1.2E+1"));
      case 1 -> NODES.numberNode(12.0);
      case 2 -> NODES.numberNode(1.5);
      case 3 -> NODES.numberNode(-3);
      case 4 -> NODES.textNode("12");
      case 5 -> NODES.nullNode();
      case 6 -> NODES.numberNode(new BigDecimal("123456789012345678901234567890"));
      case 7 -> NODES.numberNode(MAX + 1);
      default -> NODES.numberNode(random.nextInt(5000));
    };
  }

  private static final byte[] DAMAGE = {
    '{', '}', '[', ']', ',', ':', '"', '\\', '-', '.', 'e', '0', '1', 'x', 'u', 'n', ' ', '\n', 0, 0x1f,
    (byte) 0x80, (byte) 0xc3, (byte) 0xe2, (byte) 0xff,
  };

  /** Overwrites, inserts or drops a few bytes, or cuts the body short. */
  private static byte[] damage(byte[] body, Random random) {
    byte[] out = body;
    for (int k = random.nextInt(3); k >= 0; k--) {
      int at = random.nextInt(out.length);
      out = switch (random.nextInt(4)) {
        case 0 -> {
          byte[] longer = new byte[out.length + 1];
          System.arraycopy(out, 0, longer, 0, at);
          longer[at] = DAMAGE[random.nextInt(DAMAGE.length)];
          System.arraycopy(out, at, longer, at + 1, out.length - at);
          yield longer;
        }
        case 1 -> {
          byte[] shorter = new byte[out.length - 1];
          System.arraycopy(out, 0, shorter, 0, at);
          System.arraycopy(out, at + 1, shorter, at, out.length - at - 1);
          yield shorter;
        }
        case 2 -> random.nextInt(4) == 0 ? Arrays.copyOf(out, at) : out;
        default -> {
          out[at] = DAMAGE[random.nextInt(DAMAGE.length)];
          yield out;
        }
      };
      if (out.length == 0) {
        return new byte[] {'{'};
      }
    }
    return out;
  }
}
