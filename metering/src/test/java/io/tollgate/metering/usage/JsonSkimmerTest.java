package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The skimmer reads JSON bodies for the usage and the completion text without tokenizing them. It
 * must find exactly what a full JSON parser finds: the reference here is {@link JsonEventReader},
 * which reads every token with Jackson, and {@link ReferenceReports}, which reads the counts from
 * its trees.
 */
class JsonSkimmerTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final UsageShape OPENAI = UsageShape.of(Dialect.OPENAI, false, List.of("/x_usage/0/tokens"));
  static final PathPattern INDEXED = PathPattern.of(com.fasterxml.jackson.core.JsonPointer.compile("/x_usage/0/tokens"));
  static final UsageShape ANTHROPIC = UsageShape.of(Dialect.ANTHROPIC, false, List.of());
  static final long MAX = ExtractorOptions.DEFAULTS.maxTokensPerField();

  @Property(tries = 300)
  void findsWhatAFullParserFinds_inAnyChunking(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 64) int maxChunk, @ForAll boolean anthropic) {
    Random random = new Random(seed);
    UsageShape shape = anthropic ? ANTHROPIC : OPENAI;
    byte[] body = escapeSomeNames(randomDocument(random).toString(), random).getBytes(StandardCharsets.UTF_8);

    CompletionText expectedText = new CompletionText(1 << 20);
    JsonEventReader reference = new JsonEventReader(shape.usagePaths(), shape.textPaths(), expectedText);
    assertThat(reference.readWhole(body, 0, body.length)).as("the generated document is valid JSON").isTrue();

    CompletionText text = new CompletionText(1 << 20);
    JsonSkimmer skimmer = skimmer(shape, text);
    for (byte[] chunk : Chunks.random(body, seed, maxChunk)) {
      skimmer.feed(chunk, 0, chunk.length, /* lineMode= */ false);
    }
    String doc = new String(body, StandardCharsets.UTF_8);
    assertThat(skimmer.complete()).as(doc).isTrue();
    assertThat(ReferenceReports.of(skimmer)).as(doc).isEqualTo(ReferenceReports.expected(reference.usages(), MAX));
    assertThat(text.toString()).as(doc).isEqualTo(expectedText.toString());
  }

  /** The property above is only as strong as its documents: most must hold usage, and many text. */
  @Test
  void theGeneratedDocuments_oftenHoldUsageAndText() {
    int withUsage = 0;
    int withText = 0;
    int withIndexedUsage = 0;
    for (long seed = 0; seed < 300; seed++) {
      Random random = new Random(seed);
      byte[] body = randomDocument(random).toString().getBytes(StandardCharsets.UTF_8);
      CompletionText text = new CompletionText(1 << 20);
      JsonEventReader reference = new JsonEventReader(OPENAI.usagePaths(), OPENAI.textPaths(), text);
      assertThat(reference.readWhole(body, 0, body.length)).isTrue();
      withUsage += reference.usages().isEmpty() ? 0 : 1;
      withText += text.length() > 0 ? 1 : 0;
      JsonEventReader indexed = new JsonEventReader(new PathPattern[] {INDEXED}, new PathPattern[0], new CompletionText(0));
      indexed.readWhole(body, 0, body.length);
      withIndexedUsage += indexed.usages().isEmpty() ? 0 : 1;
    }
    String counts = "of 300 documents: " + withUsage + " with usage, " + withText + " with text, "
        + withIndexedUsage + " with usage at an index";
    assertThat(withUsage).as(counts).isGreaterThan(60);
    assertThat(withText).as(counts).isGreaterThan(10);
    assertThat(withIndexedUsage).as(counts).isGreaterThan(10);
  }

  @Test
  void usageInsideStrings_orUnderOtherNames_isNotUsage() {
    JsonSkimmer skimmer = skim(OPENAI, """
        {"choices":[{"message":{"content":"say \\"usage\\": {\\"prompt_tokens\\": 9} \\\\"},
          "usage":{"prompt_tokens":7}}],
         "meta":{"usage":{"prompt_tokens":8}},
         "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}""");
    assertThat(skimmer.complete()).isTrue();
    assertThat(skimmer.reportCount()).isEqualTo(1);
    assertThat(skimmer.report(0).counts).containsExactly(3, UsageReport.ABSENT, 4, UsageReport.ABSENT, 7,
        UsageReport.ABSENT, UsageReport.ABSENT);
  }

  @Test
  void anEscapedName_isTheNameItSpells() {
    assertThat(skim(OPENAI, "{\"\\u0075sage\":{\"prompt_tokens\":1}}").reportCount()).isEqualTo(1);
    assertThat(skim(OPENAI, "{\"usag\\u0065x\":{\"prompt_tokens\":1}}").reportCount()).isZero();
    assertThat(skim(OPENAI, "{\"usage\":{\"prompt\\u005ftokens\":1}}").report(0).counts[UsageReport.PROMPT_TOKENS])
        .as("a count's name may be escaped too").isEqualTo(1);
  }

  @Test
  void aNameLongerThanAnyPattern_splitAcrossChunks_matchesNothing() {
    String longName = "usage".repeat(100);
    byte[] body = ("{\"" + longName + "\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2}}")
        .getBytes(StandardCharsets.UTF_8);
    JsonSkimmer skimmer = skimmer(OPENAI, new CompletionText(100));
    for (byte[] chunk : Chunks.ofSize(body, 7)) {
      skimmer.feed(chunk, 0, chunk.length, /* lineMode= */ false);
    }
    assertThat(skimmer.reportCount()).isEqualTo(1);
    assertThat(skimmer.report(0).counts[UsageReport.PROMPT_TOKENS]).isEqualTo(2);
  }

  @Test
  void unbalancedOrTruncatedBodies_areNeverComplete() {
    assertThat(skim(OPENAI, "{\"usage\":{\"prompt_tokens\":1}]").complete()).isFalse();
    assertThat(skim(OPENAI, "{\"usage\":{\"prompt_tokens\":1}").complete()).isFalse();
    assertThat(skim(OPENAI, "[\"a\" \"b\"]").failed()).as("a string where a name would be, in an array").isTrue();
    assertThat(skim(OPENAI, "}").failed()).isTrue();
  }

  @Test
  void aMalformedUsageObject_failsTheBody() {
    assertThat(skim(OPENAI, "{\"usage\":{\"prompt_tokens\":1,,}}").failed()).isTrue();
  }

  @Test
  void anOversizedUsageObject_failsTheBody() {
    String padding = "\"p\":\"" + "x".repeat(JsonSkimmer.MAX_USAGE_BYTES) + "\",";
    assertThat(skim(OPENAI, "{\"usage\":{" + padding + "\"prompt_tokens\":1}}").failed()).isTrue();
  }

  @Test
  void aHugeStringNobodyReads_doesNotHideTheUsage() {
    byte[] huge = "x".repeat(JsonEventReader.MAX_STRING_CHARS + 1024).getBytes(StandardCharsets.US_ASCII);
    byte[] head = "{\"data\":[{\"b64_json\":\"".getBytes(StandardCharsets.US_ASCII);
    byte[] tail = "\"}],\"usage\":{\"prompt_tokens\":5}}".getBytes(StandardCharsets.US_ASCII);
    JsonSkimmer skimmer = skimmer(OPENAI, new CompletionText(1000));
    skimmer.feed(head, 0, head.length, /* lineMode= */ false);
    for (int at = 0; at < huge.length; at += 65_536) {
      skimmer.feed(huge, at, at + Math.min(65_536, huge.length - at), /* lineMode= */ false);
    }
    skimmer.feed(tail, 0, tail.length, /* lineMode= */ false);
    assertThat(skimmer.complete()).isTrue();
    assertThat(skimmer.reportCount()).isEqualTo(1);
    assertThat(skimmer.report(0).counts[UsageReport.PROMPT_TOKENS]).isEqualTo(5);
  }

  @Test
  void whatFollowsTheValue_isIgnored() {
    JsonSkimmer skimmer = skim(OPENAI, "{\"usage\":{\"prompt_tokens\":1}}\n garbage {");
    assertThat(skimmer.complete()).isTrue();
    assertThat(skimmer.reportCount()).isEqualTo(1);
  }

  @Test
  void completionText_isDecoded_escapesAndAllChunkings() {
    for (String content : List.of("caf\u00e9 \"quoted\" back\\slash \ud83d\ude00 tab\t",
        "ascii \"quoted\" back\\slash", "plain ascii")) {
      ObjectNode doc = JSON.createObjectNode();
      doc.putArray("choices").addObject().putObject("message").put("content", content);
      byte[] body = doc.toString().getBytes(StandardCharsets.UTF_8);
      for (int size = 1; size <= body.length; size++) {
        CompletionText text = new CompletionText(1000);
        JsonSkimmer skimmer = skimmer(OPENAI, text);
        for (byte[] chunk : Chunks.ofSize(body, size)) {
          skimmer.feed(chunk, 0, chunk.length, /* lineMode= */ false);
        }
        assertThat(text.toString()).as("chunks of %d", size).isEqualTo(content);
      }
    }
  }

  private static JsonSkimmer skim(UsageShape shape, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    JsonSkimmer skimmer = skimmer(shape, new CompletionText(1000));
    skimmer.feed(bytes, 0, bytes.length, /* lineMode= */ false);
    return skimmer;
  }

  static JsonSkimmer skimmer(UsageShape shape, CompletionText text) {
    JsonSkimmer skimmer = new JsonSkimmer(text);
    skimmer.start(shape.trie(text.enabled()), MAX);
    return skimmer;
  }

  private static final String[] NAMES = {
    "usage", "choices", "message", "content", "text", "x_usage", "tokens", "0", "prompt_tokens", "id", "u\"s",
  };
  private static final String[] STRINGS = {
    "", "hello", "usage", "{\"usage\":1}", "a \\ b \"q\"", "caf\u00e9", "\ud83d\ude00", "line\nbreak", "]}\"", "\u0000",
  };

  /**
   * A random document whose names and strings are the ones the patterns and the scanner care
   * about, shaped so that the usage and text paths are often present: a name's value tends to be
   * what the patterns expect under it (an array under {@code choices}, a string under
   * {@code content}), but not always.
   */
  private static JsonNode randomDocument(Random random) {
    ObjectNode root = JSON.createObjectNode();
    fill(root, random, 0, "");
    return root;
  }

  /** Fills a container; {@code parent} is the name it is under ("" for the root, "[]" for an element). */
  private static void fill(JsonNode container, Random random, int depth, String parent) {
    int n = random.nextInt(depth == 0 ? 6 : 4) + (parent.equals("[]") ? 1 : 0);
    for (int i = 0; i < n; i++) {
      if (container instanceof ObjectNode object) {
        String[] likely = switch (parent) {
          case "" -> new String[] {"usage", "choices", "x_usage", "content"};
          case "[]" -> new String[] {"message", "tokens", "text"};
          case "message" -> new String[] {"content", "usage"};
          default -> NAMES;
        };
        String name = random.nextBoolean() ? likely[random.nextInt(likely.length)] : NAMES[random.nextInt(NAMES.length)];
        object.set(name, randomValue(random, depth + 1, name));
      } else {
        ((ArrayNode) container).add(randomValue(random, depth + 1, "[]"));
      }
    }
  }

  private static JsonNode randomValue(Random random, int depth, String name) {
    int kind = random.nextInt(depth > 5 ? 4 : 7);
    if (depth <= 5 && random.nextInt(3) > 0) { // usually the kind of value the patterns expect under the name
      kind = switch (name) {
        case "choices", "x_usage", "0" -> 6;
        case "message", "usage", "tokens", "[]" -> 4;
        case "content", "text" -> random.nextBoolean() ? 1 : 6;
        default -> kind;
      };
    }
    return switch (kind) {
      case 0 -> JSON.getNodeFactory().numberNode(random.nextInt(1000) - 10);
      case 1 -> JSON.getNodeFactory().textNode(STRINGS[random.nextInt(STRINGS.length)]);
      case 2 -> random.nextBoolean() ? JSON.getNodeFactory().booleanNode(random.nextBoolean())
          : JSON.getNodeFactory().nullNode();
      case 3 -> JSON.getNodeFactory().numberNode(random.nextDouble() * 100);
      case 4, 5 -> {
        ObjectNode o = JSON.createObjectNode();
        fill(o, random, depth, name);
        yield o;
      }
      default -> {
        ArrayNode a = JSON.createArrayNode();
        fill(a, random, depth, name);
        yield a;
      }
    };
  }

  /** Writes some names with a \\u escape, as a JSON writer may. */
  private static String escapeSomeNames(String json, Random random) {
    return random.nextBoolean() ? json : json.replace("\"usage\":", "\"\\u0075sage\":")
        .replace("\"content\":", "\"cont\\u0065nt\":");
  }
}
