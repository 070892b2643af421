package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ContainerNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The reference the readers are tested against: reads one whole JSON document token by token
 * with Jackson and keeps the objects found at the usage paths (as trees) and the strings found at
 * the completion-text paths, matching each location against every {@link PathPattern}, the plain
 * way. The gateway reads with {@link JsonSkimmer} and {@link UsageObjectReader} instead.
 *
 * <p>Not thread-safe.
 */
final class JsonEventReader {

  /**
   * Longest single JSON string parsed. Only what metering keeps is parsed (a usage object, a
   * completion-text string that came in one piece of at most 16 KiB): a longer one of those makes
   * the document unreadable and the call is estimated. Strings the skimmer passes over, say a
   * multi-megabyte base64 image, have no limit, nor do long completion strings, which the skimmer
   * decodes piece by piece.
   */
  static final int MAX_STRING_CHARS = 16 * 1024 * 1024;

  private static final int MAX_DEPTH = 256;

  static final JsonFactory FACTORY =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxStringLength(MAX_STRING_CHARS)
                  .maxNestingDepth(MAX_DEPTH)
                  .build())
          .build();

  private static final PathPattern[] NO_PATHS = {};

  /** Reads one JSON object as a tree, the way usage objects are kept. */
  private static final ThreadLocal<JsonEventReader> TREES = ThreadLocal.withInitial(() ->
      new JsonEventReader(new PathPattern[] {new PathPattern(new String[0], new int[0])}, NO_PATHS,
          new CompletionText(0)));

  private final PathPattern[] usagePaths;
  private final PathPattern[] textPaths;
  private final int maxPatternDepth;
  private final CompletionText text;
  private final List<JsonNode> usages = new ArrayList<>(2);

  // The path of the current token: per level, whether it is an array, the current field name
  // (objects) or element index (arrays).
  private boolean[] inArray = new boolean[16];
  private String[] fieldNames = new String[16];
  private int[] arrayIndexes = new int[16];
  private int depth;

  // The usage tree being captured, or captureDepth == -1.
  private final ContainerNode<?>[] captureStack = new ContainerNode<?>[MAX_DEPTH + 1];
  private int captureTop = -1;
  private int captureDepth = -1;

  private boolean complete;
  private boolean failed;

  JsonEventReader(PathPattern[] usagePaths, PathPattern[] textPaths, CompletionText text) {
    this.usagePaths = usagePaths;
    this.textPaths = text.enabled() ? textPaths : NO_PATHS;
    this.text = text;
    int max = 0;
    for (PathPattern p : usagePaths) {
      max = Math.max(max, p.depth());
    }
    for (PathPattern p : this.textPaths) {
      max = Math.max(max, p.depth());
    }
    this.maxPatternDepth = max;
  }

  /** The JSON object in {@code bytes} as a tree; null if the bytes are not one well-formed object. */
  static JsonNode tree(byte[] bytes, int offset, int length) {
    JsonEventReader reader = TREES.get();
    if (!reader.readWhole(bytes, offset, length) || reader.usages.size() != 1) {
      return null;
    }
    JsonNode tree = reader.usages.get(0);
    reader.usages.clear();
    return tree;
  }

  /** Reads a whole document; true if it was one complete JSON value. */
  boolean readWhole(byte[] bytes, int offset, int length) {
    reset();
    try (JsonParser parser = FACTORY.createParser(bytes, offset, length)) {
      drain(parser);
    } catch (IOException e) {
      failed = true;
    }
    return complete && !failed;
  }

  /** The non-null usage objects of the document, in document order. */
  List<JsonNode> usages() {
    return usages;
  }

  private void reset() {
    usages.clear();
    depth = 0;
    captureTop = -1;
    captureDepth = -1;
    complete = false;
    failed = false;
  }

  private void drain(JsonParser parser) throws IOException {
    JsonToken token;
    while (!complete && (token = parser.nextToken()) != null && token != JsonToken.NOT_AVAILABLE) {
      onToken(parser, token);
    }
  }

  private void onToken(JsonParser parser, JsonToken token) throws IOException {
    switch (token) {
      case FIELD_NAME -> {
        // Jackson canonicalizes names, so equals() in PathPattern mostly hits the identity check.
        fieldNames[depth - 1] = parser.currentName();
      }
      case START_OBJECT, START_ARRAY -> {
        advanceIndex();
        boolean object = token == JsonToken.START_OBJECT;
        if (captureDepth >= 0) {
          ContainerNode<?> node =
              object ? JsonNodeFactory.instance.objectNode() : JsonNodeFactory.instance.arrayNode();
          addCaptured(node);
          captureStack[++captureTop] = node;
        } else if (object && depth <= maxPatternDepth && matchesAny(usagePaths)) {
          captureDepth = depth;
          captureStack[captureTop = 0] = JsonNodeFactory.instance.objectNode();
        }
        push(!object);
      }
      case END_OBJECT, END_ARRAY -> {
        depth--;
        if (captureDepth >= 0) {
          if (depth == captureDepth) {
            usages.add(captureStack[0]);
            captureDepth = -1;
            Arrays.fill(captureStack, 0, captureTop + 1, null);
            captureTop = -1;
          } else {
            captureTop--;
          }
        }
        if (depth == 0) {
          complete = true;
        }
      }
      default -> onScalar(parser, token);
    }
  }

  private void onScalar(JsonParser parser, JsonToken token) throws IOException {
    advanceIndex();
    if (captureDepth >= 0) {
      addCaptured(scalarNode(parser, token));
    } else if (token == JsonToken.VALUE_STRING
        && depth <= maxPatternDepth
        && depth > 0
        && matchesAny(textPaths)) {
      text.append(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
    }
    if (depth == 0) {
      complete = true; // a scalar root, e.g. a bare number: a complete document without usage
    }
  }

  private static JsonNode scalarNode(JsonParser parser, JsonToken token) throws IOException {
    JsonNodeFactory nodes = JsonNodeFactory.instance;
    return switch (token) {
      case VALUE_NUMBER_INT -> switch (parser.getNumberType()) {
        case INT, LONG -> nodes.numberNode(parser.getLongValue());
        default -> nodes.numberNode(parser.getBigIntegerValue());
      };
      case VALUE_NUMBER_FLOAT -> {
        try {
          yield nodes.numberNode(parser.getDecimalValue());
        } catch (NumberFormatException e) { // an exponent past BigDecimal's: not a whole count anyway
          yield nodes.numberNode(parser.getDoubleValue());
        }
      }
      case VALUE_STRING -> nodes.textNode(parser.getText());
      case VALUE_TRUE -> nodes.booleanNode(true);
      case VALUE_FALSE -> nodes.booleanNode(false);
      default -> nodes.nullNode();
    };
  }

  private void addCaptured(JsonNode node) {
    ContainerNode<?> parent = captureStack[captureTop];
    if (parent instanceof ObjectNode object) {
      object.set(fieldNames[depth - 1], node);
    } else {
      ((ArrayNode) parent).add(node);
    }
  }

  private void advanceIndex() {
    if (depth > 0 && inArray[depth - 1]) {
      arrayIndexes[depth - 1]++;
    }
  }

  private void push(boolean array) {
    if (depth == inArray.length) {
      int size = depth * 2;
      inArray = Arrays.copyOf(inArray, size);
      fieldNames = Arrays.copyOf(fieldNames, size);
      arrayIndexes = Arrays.copyOf(arrayIndexes, size);
    }
    inArray[depth] = array;
    fieldNames[depth] = null;
    arrayIndexes[depth] = -1;
    depth++;
  }

  private boolean matchesAny(PathPattern[] patterns) {
    for (PathPattern pattern : patterns) {
      if (matches(pattern, depth, inArray, fieldNames, arrayIndexes)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the path {@code [0, depth)} of the reader's stack is the pattern. */
  static boolean matches(PathPattern pattern, int depth, boolean[] inArray, String[] fieldNames, int[] arrayIndexes) {
    if (depth != pattern.depth()) {
      return false;
    }
    for (int level = depth - 1; level >= 0; level--) {
      if (inArray[level]) {
        int want = pattern.indexes()[level];
        if (want != PathPattern.ANY_INDEX && want != arrayIndexes[level]) {
          return false;
        }
      } else if (pattern.indexes()[level] == PathPattern.ANY_INDEX || !pattern.names()[level].equals(fieldNames[level])) {
        return false;
      }
    }
    return true;
  }
}
