package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a JSON body as it streams past and keeps only what metering needs: the objects at the
 * usage paths and the strings at the completion-text paths. It does so without tokenizing the
 * rest.
 *
 * <p>Why not Jackson's non-blocking parser over every byte: a chat answer is mostly text that
 * metering never looks at, and a full tokenizer turns every string into chars and every name into
 * a symbol. On the buyer port's hot path that was the gateway's largest cost of its own. This class
 * only follows the structure (strings, nesting, the names and indexes on the path to a pattern)
 * byte by byte. It copies the few raw values it wants, and Jackson parses just those copies. A
 * completion string is the exception: one that spans pieces is decoded piece by piece ({@link
 * JsonStringDecoder}) and no longer read once the text is at its bound, so a 20 MB answer costs
 * the kept text, not 20 MB, and never makes the body unreadable.
 * Skipped values are not validated: a malformed number in a field nobody reads does not hide a
 * well-formed usage object. The structure still is: an unbalanced or truncated body reports
 * nothing, and the call is estimated.
 *
 * <p>Not thread-safe; one per response, confined to its event loop.
 */
final class JsonSkimmer {

  /** Largest usage object kept; a bigger one is not a usage report, and the body counts as unreadable. */
  static final int MAX_USAGE_BYTES = 64 * 1024;
  private static final int MAX_KEY_BYTES = 256;
  private static final int MAX_DEPTH = 256;
  private static final PathPattern[] NO_PATHS = {};

  private final PathPattern[] usagePaths;
  private final PathPattern[] textPaths;
  private final int maxPatternDepth;
  private final PathNames names;
  private final CompletionText text;
  private final List<JsonNode> usages = new ArrayList<>(2);

  // Where the current byte is: per level whether it is an array; within the patterns' depth also
  // the current property name (null when it is none the patterns name) or element index.
  private boolean[] inArray = new boolean[16];
  private final String[] fieldNames;
  private final int[] arrayIndexes;
  private int depth;
  private boolean expectValue = true;
  private boolean inString;
  private boolean escaped;
  private boolean stringIsKey;

  // What is being copied: the property name being read, a usage object, a completion string.
  private final Buffer key = new Buffer(32, MAX_KEY_BYTES);
  private boolean keyCaptured;
  private boolean keyEscaped;
  private Buffer usage;
  private int usageDepth = -1;
  private JsonStringDecoder textDecoder; // made when a completion string first spans pieces
  private boolean textCaptured;
  private boolean textEscaped;
  /** The completion string being captured began in an earlier piece: it is decoded piece by piece. */
  private boolean textSpans;

  private boolean complete;
  private boolean failed;

  JsonSkimmer(UsageShape shape, CompletionText text) {
    this.usagePaths = shape.usagePaths();
    this.textPaths = text.enabled() ? shape.textPaths() : NO_PATHS;
    this.names = shape.names();
    this.text = text;
    int max = 0;
    for (PathPattern p : usagePaths) {
      max = Math.max(max, p.depth());
    }
    for (PathPattern p : textPaths) {
      max = Math.max(max, p.depth());
    }
    this.maxPatternDepth = max;
    this.fieldNames = new String[max + 1];
    this.arrayIndexes = new int[max + 1];
  }

  /** Starts over, for the next document (the next SSE event). */
  void reset() {
    usages.clear();
    depth = 0;
    expectValue = true;
    inString = false;
    escaped = false;
    keyCaptured = false;
    usage = null;
    usageDepth = -1;
    textCaptured = false;
    textSpans = false;
    complete = false;
    failed = false;
  }

  /** Reads a whole document; true if it was one complete JSON value. */
  boolean readWhole(byte[] bytes, int offset, int length) {
    reset();
    feed(bytes, offset, length);
    return complete();
  }

  /** True once the body's one JSON value has ended; what follows it is ignored. */
  boolean complete() {
    return complete && !failed;
  }

  boolean failed() {
    return failed;
  }

  /** The usage objects of the body, in order; meaningful once {@link #complete()}. */
  List<JsonNode> usages() {
    return usages;
  }

  /** Reads the next bytes of the body; done with {@code bytes} when it returns. */
  void feed(byte[] bytes, int offset, int length) {
    if (failed || complete) {
      return;
    }
    int end = offset + length;
    // Values being copied resume at the start of this piece.
    int keyFrom = keyCaptured ? offset : -1;
    int usageFrom = usage != null ? offset : -1;
    int textFrom = textCaptured ? offset : -1;
    int i = offset;
    while (i < end) {
      if (inString) {
        // the common case, and the tight loop: the bytes of a string nobody reads
        if (escaped) {
          escaped = false;
          i++;
          continue;
        }
        byte b = bytes[i];
        while (b != '"' && b != '\\' && ++i < end) {
          b = bytes[i];
        }
        if (i == end) {
          break;
        }
        if (b == '\\') {
          escaped = true;
          keyEscaped |= keyCaptured;
          textEscaped |= textCaptured;
          i++;
          continue;
        }
        inString = false;
        if (stringIsKey) {
          if (keyCaptured) {
            boolean whole = key.append(bytes, keyFrom, i - keyFrom);
            keyFrom = -1;
            keyCaptured = false;
            fieldNames[depth - 1] = whole ? name() : null;
          }
        } else if (textCaptured) {
          if (!textSpans && i - textFrom <= JsonStringDecoder.SLICE_BYTES) {
            appendText(bytes, textFrom - 1, i + 1 - (textFrom - 1)); // whole in this piece: one decode
          } else if (!decoder(/* fresh= */ !textSpans).append(bytes, textFrom, i - textFrom)
              || !textDecoder.finish()) {
            failed = true;
            return;
          }
          textFrom = -1;
          textCaptured = false;
        }
        i++;
        if (depth == 0) {
          complete = true; // a string root: a whole document without usage
        }
        continue;
      }
      byte b = bytes[i];
      switch (b) {
        case ' ', '\t', '\n', '\r', ',', ':' -> {
          if (b == ':') {
            expectValue = true;
          } else if (b == ',') {
            expectValue = depth > 0 && inArray[depth - 1];
          }
        }
        case '{', '[' -> {
          boolean object = b == '{';
          valueStarts();
          if (usage == null && object && depth <= maxPatternDepth && matchesAny(usagePaths)) {
            usage = new Buffer(512, MAX_USAGE_BYTES);
            usageDepth = depth;
            usageFrom = i;
          }
          if (depth == MAX_DEPTH) {
            failed = true;
            return;
          }
          if (depth == inArray.length) {
            inArray = Arrays.copyOf(inArray, depth * 2);
          }
          inArray[depth] = !object;
          if (depth <= maxPatternDepth) {
            fieldNames[depth] = null;
            arrayIndexes[depth] = -1;
          }
          depth++;
          expectValue = !object;
        }
        case '}', ']' -> {
          if (depth == 0 || inArray[depth - 1] != (b == ']')) {
            failed = true;
            return;
          }
          depth--;
          expectValue = false;
          if (usage != null && depth == usageDepth) {
            if (!usage.append(bytes, usageFrom, i + 1 - usageFrom)) {
              failed = true;
              return;
            }
            usageFrom = -1;
            if (!keepUsage()) {
              return;
            }
          }
          if (depth == 0) {
            complete = true;
            i = end; // the one value has ended
            continue;
          }
        }
        case '"' -> {
          inString = true;
          stringIsKey = !expectValue;
          if (stringIsKey) {
            if (depth == 0 || inArray[depth - 1]) {
              failed = true; // a string where a value cannot be
              return;
            }
            if (depth <= maxPatternDepth) {
              fieldNames[depth - 1] = null; // until the name is read whole
              key.clear();
              keyCaptured = true;
              keyEscaped = false;
              keyFrom = i + 1;
            }
          } else {
            valueStarts();
            if (usage == null && depth > 0 && depth <= maxPatternDepth && !text.full()
                && matchesAny(textPaths)) {
              textCaptured = true;
              textEscaped = false;
              textSpans = false;
              textFrom = i + 1;
            }
          }
        }
        default -> {
          if (expectValue) { // a number, true, false or null: read past, never parsed
            valueStarts();
            if (depth == 0) {
              complete = true;
              i = end;
              continue;
            }
          }
          while (i + 1 < end && !isStructural(bytes[i + 1])) {
            i++;
          }
        }
      }
      i++;
    }
    if (keyFrom >= 0 && !key.append(bytes, keyFrom, end - keyFrom)) {
      keyCaptured = false; // a name longer than any pattern's: it matches none
    }
    if (usageFrom >= 0 && !usage.append(bytes, usageFrom, end - usageFrom)) {
      failed = true;
    }
    if (textFrom >= 0) { // the string goes on in the next piece: decode what is here
      if (!decoder(/* fresh= */ !textSpans).append(bytes, textFrom, end - textFrom)) {
        failed = true;
      } else if (text.full()) {
        textCaptured = false; // nothing more is kept; the rest of the string is only skimmed
      }
      textSpans = true;
    }
  }

  /** The piecewise decoder, reset when a string starts ({@code fresh}). */
  private JsonStringDecoder decoder(boolean fresh) {
    if (textDecoder == null) {
      textDecoder = new JsonStringDecoder(text);
    } else if (fresh) {
      textDecoder.reset();
    }
    return textDecoder;
  }

  /** Whether a byte outside strings ends a number or literal: structure, a quote or white space. */
  private static boolean isStructural(byte b) {
    return b <= ' ' || b == ',' || b == ':' || b == '"' || b == '{' || b == '}' || b == '[' || b == ']';
  }

  /** A value begins at the current level: the next element index, if in an array. */
  private void valueStarts() {
    expectValue = false;
    if (depth > 0 && depth <= maxPatternDepth && inArray[depth - 1]) {
      arrayIndexes[depth - 1]++;
    }
  }

  private boolean matchesAny(PathPattern[] patterns) {
    for (PathPattern pattern : patterns) {
      if (pattern.matches(depth, inArray, fieldNames, arrayIndexes)) {
        return true;
      }
    }
    return false;
  }

  /** The name just read, as the patterns spell it, or null if no pattern names it here. */
  private String name() {
    int level = depth - 1;
    if (keyEscaped) { // an escaped name, such as "\u0075sage": rare, so decoded
      return names.match(level, decodeName(key.bytes, key.length));
    }
    return names.match(level, key.bytes, key.length);
  }

  private boolean keepUsage() {
    JsonNode tree = JsonEventReader.tree(usage.bytes, 0, usage.length);
    usage = null;
    usageDepth = -1;
    if (tree == null) {
      failed = true;
      return false;
    }
    usages.add(tree);
    return true;
  }

  /** Appends the completion-text string whose raw bytes, quotes included, are given. */
  private void appendText(byte[] raw, int from, int length) {
    if (!textEscaped) { // the string's bytes are its UTF-8: no parser needed
      text.append(new String(raw, from + 1, length - 2, StandardCharsets.UTF_8));
      return;
    }
    try (JsonParser parser = JsonEventReader.FACTORY.createParser(raw, from, length)) {
      if (parser.nextToken() != JsonToken.VALUE_STRING) {
        failed = true;
        return;
      }
      text.append(parser.getTextCharacters(), parser.getTextOffset(), parser.getTextLength());
    } catch (IOException e) {
      failed = true;
    }
  }

  /** The name whose raw bytes (no quotes) are given; null if it is not a valid JSON string. */
  private static String decodeName(byte[] raw, int length) {
    byte[] quoted = new byte[length + 2];
    quoted[0] = '"';
    System.arraycopy(raw, 0, quoted, 1, length);
    quoted[length + 1] = '"';
    try (JsonParser parser = JsonEventReader.FACTORY.createParser(quoted)) {
      return parser.nextToken() == JsonToken.VALUE_STRING ? parser.getText() : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** A growable byte array with a cap. */
  private static final class Buffer {
    private final int cap;
    byte[] bytes;
    int length;

    Buffer(int initial, int cap) {
      this.bytes = new byte[initial];
      this.cap = cap;
    }

    /** False, keeping nothing more, if the bytes would pass the cap. */
    boolean append(byte[] src, int from, int n) {
      if (length + n > cap) {
        return false;
      }
      if (length + n > bytes.length) {
        bytes = Arrays.copyOf(bytes, Math.min(cap, Math.max(length + n, bytes.length * 2)));
      }
      System.arraycopy(src, from, bytes, length, n);
      length += n;
      return true;
    }

    void clear() {
      length = 0;
    }
  }
}
