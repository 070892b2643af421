package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonPointer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a dialect puts usage and completion text, in a JSON body and in a stream event. The paths
 * are the documented ones; see the fixtures under {@code fixtures/} for real examples.
 *
 * @param withText the usage and text paths compiled, for a response whose text is kept
 * @param usageOnly the usage paths alone: without text, fewer locations are live
 */
record UsageShape(PathPattern[] usagePaths, PathPattern[] textPaths, PathTrie withText, PathTrie usageOnly) {

  // OpenAI chat (and completions) bodies; Responses API bodies; legacy completions.
  private static final String[] OPENAI_BODY_TEXT = {
    "/choices/*/message/content",
    "/choices/*/message/reasoning_content",
    "/choices/*/message/refusal",
    "/choices/*/message/tool_calls/*/function/arguments",
    "/choices/*/text",
    "/output/*/content/*/text",
    "/output/*/arguments",
  };

  // Chat chunks carry choices[].delta; Responses events carry a string "delta" at the top level
  // (output_text, function_call_arguments, reasoning summaries), all of which are output tokens.
  private static final String[] OPENAI_STREAM_TEXT = {
    "/choices/*/delta/content",
    "/choices/*/delta/reasoning_content",
    "/choices/*/delta/refusal",
    "/choices/*/delta/tool_calls/*/function/arguments",
    "/choices/*/text",
    "/delta",
  };

  private static final String[] ANTHROPIC_BODY_TEXT = {"/content/*/text", "/content/*/thinking"};

  private static final String[] ANTHROPIC_STREAM_TEXT = {
    "/delta/text", "/delta/thinking", "/delta/partial_json",
  };

  // Shapes without extra pointers, built once: creating an extractor then allocates no patterns.
  private static final UsageShape[] DEFAULTS = new UsageShape[Dialect.values().length * 2];

  static {
    for (Dialect dialect : Dialect.values()) {
      DEFAULTS[dialect.ordinal() * 2] = build(dialect, false, List.of());
      DEFAULTS[dialect.ordinal() * 2 + 1] = build(dialect, true, List.of());
    }
  }

  // Shapes with a product's extra pointers, built on first use: the pointer lists come from the
  // catalog, so there are few; past the cap (a catalog churning pointers) they are built per call.
  private static final int MAX_CUSTOM_SHAPES = 1024;
  private static final Map<CustomKey, UsageShape> CUSTOM = new ConcurrentHashMap<>();

  private record CustomKey(Dialect dialect, boolean stream, List<String> pointers) {}

  static UsageShape of(Dialect dialect, boolean stream, List<String> extraPointers) {
    if (extraPointers.isEmpty()) {
      return DEFAULTS[dialect.ordinal() * 2 + (stream ? 1 : 0)];
    }
    CustomKey key = new CustomKey(dialect, stream, extraPointers);
    UsageShape shape = CUSTOM.get(key);
    if (shape == null) {
      shape = build(dialect, stream, extraPointers);
      if (CUSTOM.size() < MAX_CUSTOM_SHAPES) {
        CUSTOM.putIfAbsent(new CustomKey(dialect, stream, List.copyOf(extraPointers)), shape);
      }
    }
    return shape;
  }

  private static UsageShape build(Dialect dialect, boolean stream, List<String> extraPointers) {
    List<String> usage = new ArrayList<>();
    usage.add("/usage");
    String[] text;
    switch (dialect) {
      case OPENAI -> {
        if (stream) {
          usage.add("/response/usage"); // Responses API: response.completed / .incomplete
        }
        text = stream ? OPENAI_STREAM_TEXT : OPENAI_BODY_TEXT;
      }
      case ANTHROPIC -> {
        if (stream) {
          usage.add("/message/usage"); // message_start
        }
        text = stream ? ANTHROPIC_STREAM_TEXT : ANTHROPIC_BODY_TEXT;
      }
      // The custom protocol fixes only the usage object; agents built on OpenAI-shaped answers
      // are the common case, so their text is what we estimate from.
      default -> text = stream ? OPENAI_STREAM_TEXT : OPENAI_BODY_TEXT;
    }
    List<PathPattern> usagePaths = new ArrayList<>();
    for (String path : usage) {
      usagePaths.add(PathPattern.of(path));
    }
    for (String pointer : extraPointers) {
      usagePaths.add(PathPattern.of(JsonPointer.compile(pointer)));
    }
    List<PathPattern> textPaths = new ArrayList<>();
    for (String path : text) {
      textPaths.add(PathPattern.of(path));
    }
    PathPattern[] usageArray = usagePaths.toArray(new PathPattern[0]);
    PathPattern[] textArray = textPaths.toArray(new PathPattern[0]);
    return new UsageShape(usageArray, textArray, PathTrie.of(usageArray, textArray),
        PathTrie.of(usageArray, new PathPattern[0]));
  }

  /** The compiled paths for a response whose completion text is kept, or not. */
  PathTrie trie(boolean text) {
    return text ? withText : usageOnly;
  }
}
