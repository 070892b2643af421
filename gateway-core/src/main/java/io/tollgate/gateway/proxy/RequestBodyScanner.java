package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.internal.PlatformDependent;
import java.nio.charset.StandardCharsets;

/**
 * {@link RequestBody#scan}'s one pass over a UTF-8 body: validates the whole document as Jackson's
 * default {@code JsonFactory} (2.23) does and picks up the few top-level fields on the way, without
 * allocating anything but the {@code model} string.
 *
 * <p>It replaces a Jackson streaming parser made per request, which left ~690 bytes of garbage per
 * call (parser, read context, IO context, text buffer, symbol table child) and took ~2.8% of the
 * event loop. What "valid" means is Jackson's, rule for rule, because a body Jackson accepted must
 * still be admitted and one it refused must still get {@code invalid_json}; RequestBodyTest runs
 * both over fixtures, edge cases and random mutations:
 *
 * <ul>
 *   <li>Strict RFC 8259 grammar: no comments, trailing commas, single quotes, leading {@code +},
 *       {@code .5}, {@code 1.}, leading zeros, NaN; whitespace is space, tab, CR and LF only; after
 *       the object only whitespace. A leading UTF-8 BOM is skipped.
 *   <li>Strings and names are well-formed UTF-8 (no overlong forms, surrogates or code points past
 *       U+10FFFF), with no raw control characters and only JSON's escapes. In a name, an escaped
 *       high surrogate must be followed by an escaped low one, and a lone low one is refused.
 *   <li>{@code StreamReadConstraints} defaults: nesting depth 1000, number length 1000 (digits of
 *       an integer; integer, fraction and exponent digits of a float), names of at most 50,000
 *       UTF-8 bytes, and the {@code model} string (the one value decoded) at most 20,000,000 chars.
 *   <li>Names compare after unescaping: {@code "mod\u0065l"} is {@code model}.
 *   <li>The last duplicate wins. A {@code model}, {@code stream} or {@code include_usage} whose
 *       value is an object or array is read past like any value: the body is JSON, with no model
 *       (the buyer is told the model is missing), not streamed, or without the usage asked for.
 * </ul>
 *
 * <p>One scanner per thread ({@link #get()}), reused call after call: its nesting stack and an 8 KiB
 * window are the only memory it keeps. Bytes are read straight from the buffer's array or memory
 * address; a buffer with neither (a composite of the pieces a large body came in) is read through
 * the window, 8 KiB per {@link ByteBuf#getBytes} (byte by byte, a composite looks up its component
 * for each byte, and at PARANOID leak detection records a stack trace for each).
 */
final class RequestBodyScanner {

  /** Jackson's {@code StreamReadConstraints.DEFAULT_MAX_DEPTH}. */
  static final int MAX_DEPTH = 1000;
  /** Jackson's {@code DEFAULT_MAX_NUM_LEN}. */
  static final int MAX_NUMBER_LENGTH = 1000;
  /** Jackson's {@code DEFAULT_MAX_NAME_LEN}, in UTF-8 bytes. */
  static final int MAX_NAME_BYTES = 50_000;
  /** Jackson's {@code DEFAULT_MAX_STRING_LEN}, in chars; only the decoded {@code model} is measured. */
  static final int MAX_STRING_LENGTH = 20_000_000;

  private static final int FAIL = -1;

  private static final int OTHER = 0;
  private static final int MODEL = 1;
  private static final int STREAM = 2;
  private static final int STREAM_OPTIONS = 3;
  private static final int INCLUDE_USAGE = 4;
  private static final byte[][] NAMES = {
      null, ascii("model"), ascii("stream"), ascii("stream_options"), ascii("include_usage")};
  /** The names looked for at the top level, and inside {@code stream_options}, as bit sets. */
  private static final int TOP_LEVEL = 1 << MODEL | 1 << STREAM | 1 << STREAM_OPTIONS;
  private static final int IN_STREAM_OPTIONS = 1 << INCLUDE_USAGE;

  /** 1 for a byte that stands for itself inside a string: printable ASCII but {@code "} and {@code \}. */
  private static final byte[] PLAIN = new byte[256];

  static {
    for (int b = 0x20; b < 0x80; b++) {
      PLAIN[b] = 1;
    }
    PLAIN['"'] = 0;
    PLAIN['\\'] = 0;
  }

  private static final FastThreadLocal<RequestBodyScanner> SCANNERS = new FastThreadLocal<>() {
    @Override
    protected RequestBodyScanner initialValue() {
      return new RequestBodyScanner();
    }
  };

  /** The calling thread's scanner. */
  static RequestBodyScanner get() {
    return SCANNERS.get();
  }

  /** Bit {@code d} is set while the container at depth {@code d} is an object, clear for an array. */
  private final long[] objects = new long[MAX_DEPTH / 64 + 1];
  /** Holds the body's bytes {@code [windowStart, windowEnd)} when it has neither array nor address. */
  private final byte[] window = new byte[8192];

  // The body being scanned, read from its array, at its address, or else through the window;
  // positions are array indices for an array, buffer indices otherwise.
  private byte[] array;
  private long address;
  private ByteBuf buf;
  private int end;
  private int windowStart;
  private int windowEnd;

  // Scratch of the current call.
  private int nameId;
  private int escaped;
  private String model;
  private boolean stream;
  private boolean includeUsage;
  private boolean streamOptions;

  private RequestBodyScanner() {}

  /** The last body's fields: the same record again for a body like it (its model string is cached). */
  private RequestBody last = RequestBody.EMPTY;

  private RequestBody body() {
    RequestBody b = last;
    if (model != null && b.model() == model && b.stream() == stream && b.includeUsage() == includeUsage
        && b.streamOptions() == streamOptions) {
      return b;
    }
    b = RequestBody.of(model, stream, includeUsage, streamOptions);
    if (model != null) {
      last = b;
    }
    return b;
  }

  /** Scans the readable bytes of a UTF-8 {@code body}; its indices are not moved. */
  RequestBody scan(ByteBuf body) {
    int from = body.readerIndex();
    int to = body.writerIndex();
    if (body.hasArray()) {
      array = body.array();
      from += body.arrayOffset();
      to += body.arrayOffset();
    } else if (body.hasMemoryAddress()) {
      address = body.memoryAddress();
    }
    buf = body;
    end = to;
    windowStart = 0;
    windowEnd = 0;
    try {
      return document(from) ? body() : RequestBody.EMPTY;
    } finally {
      array = null;
      address = 0;
      buf = null;
      model = null;
    }
  }

  /** The body from {@code pos}: one object and nothing but whitespace after it. */
  private boolean document(int pos) {
    model = null;
    stream = false;
    includeUsage = false;
    streamOptions = false;
    if (pos + 2 < end && at(pos) == 0xEF && at(pos + 1) == 0xBB && at(pos + 2) == 0xBF) {
      pos += 3;
    }
    pos = skipWhitespace(pos);
    if (peek(pos) != '{') {
      return false;
    }
    pos = skipWhitespace(pos + 1);
    int c = peek(pos);
    if (c != '}') {
      while (true) {
        pos = memberName(pos, c, TOP_LEVEL);
        if (pos < 0) {
          return false;
        }
        c = peek(pos);
        switch (nameId) {
          case MODEL -> {
            if (c == '"') {
              pos = modelString(pos + 1);
            } else {
              model = null;
              pos = value(pos, c, 1);
            }
          }
          case STREAM -> {
            stream = c == 't';
            pos = value(pos, c, 1);
          }
          case STREAM_OPTIONS -> {
            streamOptions = true;
            includeUsage = false;
            pos = c == '{' ? streamOptions(pos + 1) : value(pos, c, 1);
          }
          default -> pos = value(pos, c, 1);
        }
        if (pos < 0) {
          return false;
        }
        pos = skipWhitespace(pos);
        c = peek(pos);
        if (c == '}') {
          break;
        }
        if (c != ',') {
          return false;
        }
        pos = skipWhitespace(pos + 1);
        c = peek(pos);
      }
    }
    return skipWhitespace(pos + 1) == end;
  }

  /** The members of {@code stream_options} (depth 2) from {@code pos}, after its brace; the index after it. */
  private int streamOptions(int pos) {
    pos = skipWhitespace(pos);
    int c = peek(pos);
    if (c == '}') {
      return pos + 1;
    }
    while (true) {
      pos = memberName(pos, c, IN_STREAM_OPTIONS);
      if (pos < 0) {
        return FAIL;
      }
      c = peek(pos);
      if (nameId == INCLUDE_USAGE) {
        includeUsage = c == 't';
        pos = value(pos, c, 2);
      } else {
        pos = value(pos, c, 2);
      }
      if (pos < 0) {
        return FAIL;
      }
      pos = skipWhitespace(pos);
      c = peek(pos);
      if (c == '}') {
        return pos + 1;
      }
      if (c != ',') {
        return FAIL;
      }
      pos = skipWhitespace(pos + 1);
      c = peek(pos);
    }
  }

  /**
   * A member's name at {@code pos} (whose byte is {@code c}), its colon and the whitespace after:
   * the index of its value, or FAIL. Sets {@link #nameId} to which of {@code wanted} it is.
   */
  private int memberName(int pos, int c, int wanted) {
    if (c != '"') {
      return FAIL;
    }
    pos = name(pos + 1, wanted);
    if (pos < 0) {
      return FAIL;
    }
    pos = skipWhitespace(pos);
    if (peek(pos) != ':') {
      return FAIL;
    }
    return skipWhitespace(pos + 1);
  }

  /**
   * Skips the value at {@code pos} (whose byte is {@code c}) held by a container at {@code depth}:
   * the index after it, or FAIL. Nested containers are followed with the {@link #objects} stack,
   * not by recursion (a 1000 deep body on a 512 KiB stack).
   */
  private int value(int pos, int c, int depth) {
    final int floor = depth;
    while (true) {
      if (c == '{' || c == '[') {
        if (++depth > MAX_DEPTH) {
          return FAIL;
        }
        boolean object = c == '{';
        setObject(depth, object);
        pos = skipWhitespace(pos + 1);
        c = peek(pos);
        if (c != (object ? '}' : ']')) {
          if (object && (pos = memberName(pos, c, 0)) < 0) {
            return FAIL;
          }
          c = peek(pos);
          continue;
        }
        pos++;
        depth--;
      } else if ((pos = scalar(pos, c)) < 0) {
        return FAIL;
      }
      // A value ended inside the container at depth: a comma and the next one, or the container's end.
      while (true) {
        if (depth == floor) {
          return pos;
        }
        pos = skipWhitespace(pos);
        c = peek(pos);
        boolean object = isObject(depth);
        if (c == ',') {
          pos = skipWhitespace(pos + 1);
          c = peek(pos);
          if (object && (pos = memberName(pos, c, 0)) < 0) {
            return FAIL;
          }
          c = peek(pos);
          break;
        }
        if (c != (object ? '}' : ']')) {
          return FAIL;
        }
        pos++;
        depth--;
      }
    }
  }

  /** A string, number or literal at {@code pos} (whose byte is {@code c}): the index after it, or FAIL. */
  private int scalar(int pos, int c) {
    return switch (c) {
      case '"' -> string(pos + 1);
      case 't' -> literal(pos, 't', 'r', 'u', 'e');
      case 'n' -> literal(pos, 'n', 'u', 'l', 'l');
      case 'f' -> literal(pos + 1, 'a', 'l', 's', 'e');
      case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' -> number(pos, c);
      default -> FAIL;
    };
  }

  /** Four given bytes from {@code pos}: the index after them, or FAIL. */
  private int literal(int pos, int a, int b, int c, int d) {
    if (pos + 3 >= end || at(pos) != a || at(pos + 1) != b || at(pos + 2) != c || at(pos + 3) != d) {
      return FAIL;
    }
    return pos + 4;
  }

  /** A number at {@code pos} (whose byte is {@code c}): the index after it, or FAIL. */
  private int number(int pos, int c) {
    if (c == '-') {
      c = peek(++pos);
    }
    int start = pos;
    if (c == '0') {
      pos++;
      if (isDigit(peek(pos))) {
        return FAIL; // leading zero
      }
    } else if (isDigit(c)) {
      pos = digits(pos + 1);
    } else {
      return FAIL;
    }
    int length = pos - start;
    c = peek(pos);
    boolean fraction = c == '.';
    if (fraction) {
      int from = pos + 1;
      pos = digits(from);
      if (pos == from) {
        return FAIL;
      }
      length += pos - from;
      c = peek(pos);
    }
    if ((c | 0x20) == 'e') {
      c = peek(++pos);
      if (c == '+' || c == '-') {
        pos++;
      }
      int from = pos;
      pos = digits(from);
      if (pos == from) {
        return FAIL;
      }
      length += pos - from;
    }
    return length > MAX_NUMBER_LENGTH ? FAIL : pos;
  }

  private int digits(int pos) {
    while (pos < end && isDigit(at(pos))) {
      pos++;
    }
    return pos;
  }

  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  /** A string value's content from {@code pos} (after its quote): the index after its closing quote, or FAIL. */
  private int string(int pos) {
    while (pos < end) {
      int b = at(pos++);
      if (PLAIN[b] != 0) {
        continue;
      }
      if (b == '"') {
        return pos;
      }
      pos = b == '\\' ? escape(pos) : utf8(pos, b);
      if (pos < 0) {
        return FAIL;
      }
    }
    return FAIL;
  }

  /**
   * The top-level {@code model} string from {@code pos} (after its quote), decoded into
   * {@link #model}: the index after its closing quote, or FAIL. Plain ASCII, the usual case, is
   * read through the thread's {@link HeadStrings}, so a model named before costs nothing.
   */
  private int modelString(int pos) {
    int start = pos;
    while (pos < end) {
      int b = at(pos);
      if (PLAIN[b] == 0) {
        if (b != '"') {
          return decodedModel(start);
        }
        int length = pos - start;
        if (length > MAX_STRING_LENGTH) {
          return FAIL;
        }
        // Plain ASCII: the same model string call after call (the thread's HeadStrings).
        model = array != null
            ? HeadStrings.forThisThread().value(array, start, start + length)
            : HeadStrings.forThisThread().value(buf, start, length);
        return pos + 1;
      }
      pos++;
    }
    return FAIL;
  }

  /** {@link #modelString} for one with escapes or non-ASCII characters. */
  private int decodedModel(int pos) {
    StringBuilder text = new StringBuilder();
    while (pos < end) {
      int b = at(pos++);
      if (PLAIN[b] != 0) {
        text.append((char) b);
      } else if (b == '"') {
        if (text.length() > MAX_STRING_LENGTH) {
          return FAIL;
        }
        model = text.toString();
        return pos;
      } else if (b == '\\') {
        if ((pos = escape(pos)) < 0) {
          return FAIL;
        }
        text.append((char) escaped);
      } else {
        int from = pos - 1;
        if ((pos = utf8(pos, b)) < 0) {
          return FAIL;
        }
        text.appendCodePoint(codePoint(from, pos));
      }
    }
    return FAIL;
  }

  /**
   * A name from {@code pos} (after its quote): the index after its closing quote, or FAIL. Sets
   * {@link #nameId} to the one of {@code wanted} (a bit set of {@link #NAMES} indices) it equals
   * once unescaped, or {@link #OTHER}.
   */
  private int name(int pos, int wanted) {
    int start = pos;
    while (pos < end) {
      int b = at(pos);
      if (PLAIN[b] == 0) {
        if (b != '"') {
          return decodedName(start, wanted);
        }
        int length = pos - start;
        if (length > MAX_NAME_BYTES) {
          return FAIL;
        }
        nameId = wanted == 0 ? OTHER : plainNameId(start, length, wanted);
        return pos + 1;
      }
      pos++;
    }
    return FAIL;
  }

  private int plainNameId(int start, int length, int wanted) {
    for (int id = MODEL; id < NAMES.length; id++) {
      byte[] candidate = NAMES[id];
      if ((wanted & 1 << id) != 0 && candidate.length == length && bytesAre(start, candidate)) {
        return id;
      }
    }
    return OTHER;
  }

  private boolean bytesAre(int pos, byte[] expected) {
    for (int i = 0; i < expected.length; i++) {
      if (at(pos + i) != expected[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@link #name} for one with escapes or non-ASCII characters, compared char by char as Jackson
   * decodes it: its escapes stand for their characters, an escaped surrogate pair for one code
   * point, and its UTF-8 length (at most {@link #MAX_NAME_BYTES}) counts each as re-encoded.
   */
  private int decodedName(int pos, int wanted) {
    int matching = wanted; // the candidates that the chars so far agree with
    int chars = 0;
    int utf8Bytes = 0;
    while (pos < end) {
      int b = at(pos++);
      int c;
      if (PLAIN[b] != 0) {
        c = b;
        utf8Bytes++;
      } else if (b == '"') {
        if (utf8Bytes > MAX_NAME_BYTES) {
          return FAIL;
        }
        nameId = OTHER;
        for (int id = MODEL; id < NAMES.length; id++) {
          if ((matching & 1 << id) != 0 && NAMES[id].length == chars) {
            nameId = id;
          }
        }
        return pos;
      } else if (b == '\\') {
        if ((pos = escape(pos)) < 0) {
          return FAIL;
        }
        c = escaped;
        if (Character.isHighSurrogate((char) c)) {
          if (peek(pos) != '\\' || (pos = escape(pos + 1)) < 0 || !Character.isLowSurrogate((char) escaped)) {
            return FAIL;
          }
          utf8Bytes += 4;
          matching = 0; // a pair is two chars, neither ASCII
          chars += 2;
          continue;
        }
        if (Character.isLowSurrogate((char) c)) {
          return FAIL;
        }
        utf8Bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
      } else {
        int from = pos - 1;
        if ((pos = utf8(pos, b)) < 0) {
          return FAIL;
        }
        utf8Bytes += pos - from;
        matching = 0; // not ASCII
        chars += pos - from == 4 ? 2 : 1;
        continue;
      }
      matching &= matchesAt(chars, c);
      chars++;
    }
    return FAIL;
  }

  /** The {@link #NAMES} (as a bit set) whose char at {@code index} is {@code c}. */
  private static int matchesAt(int index, int c) {
    int matches = 0;
    for (int id = MODEL; id < NAMES.length; id++) {
      byte[] candidate = NAMES[id];
      if (index < candidate.length && candidate[index] == c) {
        matches |= 1 << id;
      }
    }
    return matches;
  }

  /**
   * An escape from {@code pos} (after its backslash), its char into {@link #escaped}: the index
   * after it, or FAIL. JSON's escapes only; {@code \}{@code u} takes four hex digits, any value.
   */
  private int escape(int pos) {
    int c = peek(pos);
    switch (c) {
      case '"', '\\', '/' -> escaped = c;
      case 'b' -> escaped = '\b';
      case 'f' -> escaped = '\f';
      case 'n' -> escaped = '\n';
      case 'r' -> escaped = '\r';
      case 't' -> escaped = '\t';
      case 'u' -> {
        if (pos + 4 >= end) {
          return FAIL;
        }
        int value = 0;
        for (int i = 1; i <= 4; i++) {
          int digit = hex(at(pos + i));
          if (digit < 0) {
            return FAIL;
          }
          value = value << 4 | digit;
        }
        escaped = value;
        return pos + 5;
      }
      default -> {
        return FAIL;
      }
    }
    return pos + 1;
  }

  private static int hex(int c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  }

  /**
   * The rest of a multi-byte UTF-8 character led by {@code lead} from {@code pos}: the index after
   * it, or FAIL unless well-formed (Unicode's table 3-7: no overlong forms, no surrogates, nothing
   * past U+10FFFF), as Jackson checks it in strings and names.
   */
  private int utf8(int pos, int lead) {
    int more;
    int low = 0x80;
    int high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      more = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      more = 2;
      if (lead == 0xE0) {
        low = 0xA0;
      } else if (lead == 0xED) {
        high = 0x9F;
      }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      more = 3;
      if (lead == 0xF0) {
        low = 0x90;
      } else if (lead == 0xF4) {
        high = 0x8F;
      }
    } else {
      return FAIL; // a control char, a continuation byte, C0, C1 or F5..FF
    }
    if (pos + more > end) {
      return FAIL;
    }
    int second = at(pos);
    if (second < low || second > high) {
      return FAIL;
    }
    for (int i = 1; i < more; i++) {
      if ((at(pos + i) & 0xC0) != 0x80) {
        return FAIL;
      }
    }
    return pos + more;
  }

  /** The code point of the well-formed UTF-8 character in {@code [from, to)}. */
  private int codePoint(int from, int to) {
    int lead = at(from);
    int cp = lead & (0x7F >> (to - from));
    for (int i = from + 1; i < to; i++) {
      cp = cp << 6 | at(i) & 0x3F;
    }
    return cp;
  }

  private int skipWhitespace(int pos) {
    while (pos < end) {
      int b = at(pos);
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return pos;
      }
      pos++;
    }
    return pos;
  }

  /** The byte at {@code pos}, or -1 at the end. */
  private int peek(int pos) {
    return pos < end ? at(pos) : -1;
  }

  /**
   * The byte at {@code pos} (below {@link #end}), unsigned. A direct buffer is read at its memory
   * address: {@link ByteBuf#getByte} checks bounds and the reference count on every byte.
   */
  private int at(int pos) {
    if (array != null) {
      return array[pos] & 0xFF;
    }
    if (address != 0) {
      return PlatformDependent.getByte(address + pos) & 0xFF;
    }
    if (pos < windowStart || pos >= windowEnd) {
      int n = Math.min(window.length, end - pos);
      buf.getBytes(pos, window, 0, n);
      windowStart = pos;
      windowEnd = pos + n;
    }
    return window[pos - windowStart] & 0xFF;
  }

  private void setObject(int depth, boolean object) {
    long bit = 1L << depth;
    if (object) {
      objects[depth >> 6] |= bit;
    } else {
      objects[depth >> 6] &= ~bit;
    }
  }

  private boolean isObject(int depth) {
    return (objects[depth >> 6] & 1L << depth) != 0;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
