package io.tollgate.metering.usage;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads one usage object, from its opening brace to its closing one, in pieces cut anywhere, and
 * writes the counts it finds into a {@link UsageReport}. Unlike {@link JsonSkimmer}, which passes
 * over what metering does not read, this checks the object as strictly as a JSON parser (the
 * grammar, string escapes, control characters and UTF-8 sequences, number syntax, literals, as
 * Jackson does): a malformed usage
 * object makes its document unreadable, so its call is estimated rather than billed from it.
 *
 * <p>Why not Jackson: the usage object used to be copied and parsed into a {@code JsonNode} tree,
 * one tree and a few dozen objects per usage report; a parser per report still allocates its
 * buffers and context. This reads the few fields straight into longs and allocates nothing after
 * its first use. Numbers follow {@code JsonNode}'s rules for a count: {@code 12} and {@code 12.0}
 * and {@code 1.2e1} are 12; {@code 1.5}, {@code 1e30} (past a long) and {@code "12"} are {@link
 * UsageReport#INVALID}.
 *
 * <p>Not thread-safe; one per skimmer, reused for each usage object.
 */
final class UsageObjectReader {

  // What the value about to start means: a count of the usage object (a UsageReport index), or:
  private static final int M_OTHER = -1;
  private static final int M_PROMPT_DETAILS = 10;
  private static final int M_INPUT_DETAILS = 11;
  private static final int M_DETAILS_CACHED = 12;
  private static final int M_ITERATIONS = 13;
  private static final int M_ITERATION = 14;
  /** Plus a UsageReport index: a count of one iteration. */
  private static final int M_ITERATION_COUNT = 20;

  // What a container is, so what its names mean.
  private static final int S_OTHER = 0;
  private static final int S_USAGE = 1;
  private static final int S_PROMPT_DETAILS = 2;
  private static final int S_INPUT_DETAILS = 3;
  private static final int S_ITERATIONS = 4;
  private static final int S_ITERATION = 5;

  // Where the reader is.
  private static final int VALUE = 0;
  private static final int FIRST_VALUE_OR_END = 1;
  private static final int FIRST_KEY_OR_END = 2;
  private static final int KEY = 3;
  private static final int COLON = 4;
  private static final int AFTER_VALUE = 5;
  private static final int STRING = 6;
  private static final int NUMBER = 7;
  private static final int LITERAL = 8;
  private static final int DONE = 9;
  private static final int FAILED = 10;

  // Where in a number: after '-', after a leading 0, in the integer digits, after '.', in the
  // fraction, after 'e', after the exponent's sign, in the exponent.
  private static final int N_MINUS = 0;
  private static final int N_ZERO = 1;
  private static final int N_INT = 2;
  private static final int N_DOT = 3;
  private static final int N_FRACTION = 4;
  private static final int N_E = 5;
  private static final int N_EXPONENT_SIGN = 6;
  private static final int N_EXPONENT = 7;
  /** Past this an exponent only grows: the number is out of a long's range or not whole anyway. */
  private static final int MAX_EXPONENT = 100_000;

  private static final byte[] TRUE = {'t', 'r', 'u', 'e'};
  private static final byte[] FALSE = {'f', 'a', 'l', 's', 'e'};
  private static final byte[] NULL = {'n', 'u', 'l', 'l'};

  private static final Names USAGE_NAMES = new Names(new String[] {
    "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "total_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "prompt_tokens_details",
    "input_tokens_details", "iterations"}, new int[] {
    UsageReport.PROMPT_TOKENS, UsageReport.INPUT_TOKENS, UsageReport.COMPLETION_TOKENS,
    UsageReport.OUTPUT_TOKENS, UsageReport.TOTAL_TOKENS, UsageReport.CACHE_CREATION_INPUT_TOKENS,
    UsageReport.CACHE_READ_INPUT_TOKENS, M_PROMPT_DETAILS, M_INPUT_DETAILS, M_ITERATIONS});
  private static final Names DETAILS_NAMES =
      new Names(new String[] {"cached_tokens"}, new int[] {M_DETAILS_CACHED});
  private static final Names ITERATION_NAMES = new Names(new String[] {
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}, new int[] {
    M_ITERATION_COUNT + UsageReport.INPUT_TOKENS, M_ITERATION_COUNT + UsageReport.OUTPUT_TOKENS,
    M_ITERATION_COUNT + UsageReport.CACHE_CREATION_INPUT_TOKENS,
    M_ITERATION_COUNT + UsageReport.CACHE_READ_INPUT_TOKENS});
  private static final int MAX_NAME = 32; // longer than any name above

  private UsageReport report;
  private long maxPerField;
  private int state;
  private int maxDepth;
  private int depth;
  private boolean[] isArray = new boolean[8];
  private int[] scope = new int[8];
  private int meaning;

  // The string being read: a name (kept while it may be one of Names) or a value.
  private boolean stringIsKey;
  private boolean keyKept;
  private boolean keyEscaped;
  /** 0: none; 1: after a backslash; 2 to 5: that many hex digits of a backslash-u to go, plus one. */
  private int escape;
  /** Continuation bytes the string's current UTF-8 character still needs. */
  private int continuation;
  private final byte[] key = new byte[MAX_NAME];
  private int keyLength;
  private final byte[] unescaped = new byte[MAX_NAME];

  // The scalar being read.
  private int scalarMeaning;
  private int numberState;
  private boolean negative;
  private long mantissa;
  private int pendingZeros;
  private boolean overflow;
  private int fractionDigits;
  private int exponent;
  private boolean exponentNegative;
  private byte[] literal;
  private int literalAt;

  /** Starts on a usage object, which may nest {@code maxDepth} levels below where it sits. */
  void start(UsageReport report, long maxPerField, int maxDepth) {
    this.report = report;
    this.maxPerField = maxPerField;
    this.maxDepth = maxDepth;
    restart();
  }

  private void restart() {
    report.clear(maxPerField);
    state = VALUE;
    depth = 0;
    meaning = M_OTHER;
    escape = 0;
  }

  boolean done() {
    return state == DONE;
  }

  boolean failed() {
    return state == FAILED;
  }

  /**
   * Reads from {@code i}: returns the index after the object's closing brace ({@link #done()}),
   * else where it stopped: {@code end}, a CR or LF in {@code lineMode} (an SSE data line ends
   * there), or anywhere once {@link #failed()}.
   */
  int feed(byte[] b, int i, int end, boolean lineMode) {
    if (state == VALUE && depth == 0 && i < end && b[i] == '{') {
      int after = whole(b, i, end, lineMode);
      if (after >= 0) {
        state = DONE;
        return after;
      }
      restart(); // not whole in this piece, or not plain: read byte by byte from the brace
    }
    while (i < end && state < DONE) {
      switch (state) {
        case STRING -> i = string(b, i, end, lineMode);
        case NUMBER -> i = number(b, i, end);
        case LITERAL -> i = literal(b, i, end);
        default -> {
          byte c = b[i];
          if (c == ' ' || c == '\t') {
            i++;
          } else if (c == '\n' || c == '\r') {
            if (lineMode) {
              return i;
            }
            i++;
          } else {
            structural(c);
            i++;
          }
        }
      }
      if (lineMode && i < end && state == STRING && (b[i] == '\n' || b[i] == '\r')) {
        return i;
      }
    }
    return i;
  }

  // The whole object in one piece, the usual case: read by descent, a token at a time, through
  // the same hooks as the state machine (open, close, scalarStarts, scalarEnds). It takes only
  // plain JSON (names and strings of printable ASCII without escapes, integers of up to 18
  // digits, the three literals, blanks) and hands anything else back, -1, to be read byte by byte
  // from the start: a fraction, an escape or a malformed object costs twice, a chat answer's
  // usage object (about 300 bytes) a third of the byte-by-byte time.
  private static final int BAIL = -1;
  /** Deeper objects are read byte by byte: a usage object nests two or three levels. */
  private static final int MAX_WHOLE_DEPTH = 16;

  /** The object at {@code i}, whole before {@code end}: the index after it, else {@link #BAIL}. */
  private int whole(byte[] b, int i, int end, boolean lineMode) {
    return value(b, i, end, lineMode, M_OTHER);
  }

  /** The value beginning at {@code i} (not a blank), which means {@code m}: the index after it, or BAIL. */
  private int value(byte[] b, int i, int end, boolean lineMode, int m) {
    byte c = b[i];
    switch (c) {
      case '{' -> {
        if (depth == MAX_WHOLE_DEPTH) {
          return BAIL;
        }
        open(/* array= */ false, m);
        if (state == FAILED) {
          return BAIL;
        }
        i = blanks(b, i + 1, end, lineMode);
        if (i < 0) {
          return BAIL;
        }
        if (b[i] == '}') {
          close((byte) '}');
          return i + 1;
        }
        while (true) {
          if (b[i] != '"') {
            return BAIL;
          }
          int close = plainString(b, i + 1, end);
          if (close < 0) {
            return BAIL;
          }
          int meaning = nameMeaning(b, i + 1, close - i - 1);
          i = blanks(b, close + 1, end, lineMode);
          if (i < 0 || b[i] != ':') {
            return BAIL;
          }
          i = blanks(b, i + 1, end, lineMode);
          if (i < 0) {
            return BAIL;
          }
          i = value(b, i, end, lineMode, meaning);
          if (i < 0) {
            return BAIL;
          }
          i = blanks(b, i, end, lineMode);
          if (i < 0) {
            return BAIL;
          }
          if (b[i] == '}') {
            close((byte) '}');
            return i + 1;
          }
          if (b[i] != ',') {
            return BAIL;
          }
          i = blanks(b, i + 1, end, lineMode);
          if (i < 0) {
            return BAIL;
          }
        }
      }
      case '[' -> {
        if (depth == MAX_WHOLE_DEPTH) {
          return BAIL;
        }
        open(/* array= */ true, m);
        if (state == FAILED) {
          return BAIL;
        }
        int elementMeaning = scope[depth - 1] == S_ITERATIONS ? M_ITERATION : M_OTHER;
        i = blanks(b, i + 1, end, lineMode);
        if (i < 0) {
          return BAIL;
        }
        if (b[i] == ']') {
          close((byte) ']');
          return i + 1;
        }
        while (true) {
          i = value(b, i, end, lineMode, elementMeaning);
          if (i < 0) {
            return BAIL;
          }
          i = blanks(b, i, end, lineMode);
          if (i < 0) {
            return BAIL;
          }
          if (b[i] == ']') {
            close((byte) ']');
            return i + 1;
          }
          if (b[i] != ',') {
            return BAIL;
          }
          i = blanks(b, i + 1, end, lineMode);
          if (i < 0) {
            return BAIL;
          }
        }
      }
      case '"' -> {
        int close = plainString(b, i + 1, end);
        if (close < 0) {
          return BAIL;
        }
        scalarStarts(m);
        scalarEnds(UsageReport.INVALID); // a count written as a string is not one
        return close + 1;
      }
      case 't', 'f', 'n' -> {
        byte[] word = c == 't' ? TRUE : c == 'f' ? FALSE : NULL;
        if (end - i < word.length || !Arrays.equals(b, i, i + word.length, word, 0, word.length)) {
          return BAIL;
        }
        scalarStarts(m);
        scalarEnds(word == NULL ? UsageReport.ABSENT : UsageReport.INVALID);
        return i + word.length;
      }
      default -> {
        int k = c == '-' ? i + 1 : i;
        int first = k;
        long v = 0;
        while (k < end && k - first <= 18) {
          int d = b[k] - '0';
          if (d < 0 || d > 9) {
            break;
          }
          v = v * 10 + d;
          k++;
        }
        int digits = k - first;
        // Leaves to the state machine: no digit, a leading zero, more than 18 digits, a fraction
        // or exponent, or a number the piece cuts.
        if (digits == 0 || digits > 18 || (b[first] == '0' && digits > 1) || k == end
            || b[k] == '.' || b[k] == 'e' || b[k] == 'E') {
          return BAIL;
        }
        scalarStarts(m);
        scalarEnds(c == '-' ? -v : v);
        return k;
      }
    }
  }

  /** The first byte from {@code i} that is not a blank, or BAIL at the piece's or line's end. */
  private static int blanks(byte[] b, int i, int end, boolean lineMode) {
    if (i < end && b[i] > ' ') {
      return i; // the usual case: no blank (a byte past ASCII is negative, and no blank either)
    }
    for (; i < end; i++) {
      byte c = b[i];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return i;
      }
      if (lineMode && (c == '\n' || c == '\r')) {
        return BAIL;
      }
    }
    return BAIL;
  }

  /** The closing quote of a string of printable ASCII beginning at {@code i}, else BAIL. */
  private static int plainString(byte[] b, int i, int end) {
    int stop = JsonSkimmer.plainStop(b, i, end);
    return stop < end && b[stop] == '"' ? stop : BAIL;
  }

  /** What the value after name {@code b[from, from + length)} means in the current object. */
  private int nameMeaning(byte[] b, int from, int length) {
    Names names = switch (scope[depth - 1]) {
      case S_USAGE -> USAGE_NAMES;
      case S_ITERATION -> ITERATION_NAMES;
      case S_PROMPT_DETAILS, S_INPUT_DETAILS -> DETAILS_NAMES;
      default -> null;
    };
    return names == null || length > MAX_NAME ? M_OTHER : names.meaning(b, from, length);
  }

  private void structural(byte c) {
    switch (state) {
      case VALUE -> beginValue(c);
      case FIRST_VALUE_OR_END -> {
        if (c == ']') {
          close(c);
        } else {
          beginValue(c);
        }
      }
      case FIRST_KEY_OR_END -> {
        if (c == '}') {
          close(c);
        } else {
          beginKey(c);
        }
      }
      case KEY -> beginKey(c);
      case COLON -> state = c == ':' ? VALUE : FAILED;
      default -> { // AFTER_VALUE
        if (c == ',') {
          if (isArray[depth - 1]) {
            state = VALUE;
            meaning = scope[depth - 1] == S_ITERATIONS ? M_ITERATION : M_OTHER;
          } else {
            state = KEY;
          }
        } else if (c == '}' || c == ']') {
          close(c);
        } else {
          state = FAILED;
        }
      }
    }
  }

  private void beginKey(byte c) {
    if (c != '"') {
      state = FAILED;
      return;
    }
    int s = scope[depth - 1];
    state = STRING;
    continuation = 0;
    stringIsKey = true;
    keyKept = s == S_USAGE || s == S_PROMPT_DETAILS || s == S_INPUT_DETAILS || s == S_ITERATION;
    keyEscaped = false;
    keyLength = 0;
  }

  private void beginValue(byte c) {
    int m = meaning;
    meaning = M_OTHER;
    switch (c) {
      case '{', '[' -> open(c == '[', m);
      case '"' -> {
        scalarStarts(m);
        state = STRING;
        continuation = 0;
        stringIsKey = false;
      }
      case 't', 'f', 'n' -> {
        scalarStarts(m);
        literal = c == 't' ? TRUE : c == 'f' ? FALSE : NULL;
        literalAt = 1;
        state = LITERAL;
      }
      default -> {
        if (c != '-' && (c < '0' || c > '9')) {
          state = FAILED;
          return;
        }
        scalarStarts(m);
        negative = c == '-';
        mantissa = 0;
        pendingZeros = 0;
        overflow = false;
        fractionDigits = 0;
        exponent = 0;
        exponentNegative = false;
        numberState = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
        if (c > '0') {
          digit(c - '0');
        }
        state = NUMBER;
      }
    }
  }

  /** A container value begins: what it means for the report, and the scope of its names. */
  private void open(boolean array, int m) {
    int s = S_OTHER;
    if (depth == 0) {
      s = S_USAGE;
    } else if (m == M_PROMPT_DETAILS || m == M_INPUT_DETAILS) {
      report.details(m == M_PROMPT_DETAILS ? UsageReport.PROMPT_DETAILS : UsageReport.INPUT_DETAILS, !array);
      s = array ? S_OTHER : m == M_PROMPT_DETAILS ? S_PROMPT_DETAILS : S_INPUT_DETAILS;
    } else if (m == M_ITERATIONS) {
      report.noIterations();
      s = array ? S_ITERATIONS : S_OTHER;
    } else if (m == M_ITERATION) {
      report.iterationStarts(/* isObject= */ !array);
      s = array ? S_OTHER : S_ITERATION;
    } else {
      store(m, UsageReport.INVALID); // a count that is an object or array
    }
    if (depth == maxDepth) {
      state = FAILED;
      return;
    }
    if (depth == isArray.length) {
      isArray = Arrays.copyOf(isArray, depth * 2);
      scope = Arrays.copyOf(scope, depth * 2);
    }
    isArray[depth] = array;
    scope[depth] = s;
    depth++;
    if (array) {
      state = FIRST_VALUE_OR_END;
      meaning = s == S_ITERATIONS ? M_ITERATION : M_OTHER;
    } else {
      state = FIRST_KEY_OR_END;
    }
  }

  private void close(byte c) {
    if (isArray[depth - 1] != (c == ']')) {
      state = FAILED;
      return;
    }
    if (scope[depth - 1] == S_ITERATION) {
      report.iterationEnds();
    }
    depth--;
    state = depth == 0 ? DONE : AFTER_VALUE;
  }

  /** A scalar value begins: a details or iterations property that is not a container says so now. */
  private void scalarStarts(int m) {
    scalarMeaning = m;
    if (m == M_PROMPT_DETAILS || m == M_INPUT_DETAILS) {
      report.details(m == M_PROMPT_DETAILS ? UsageReport.PROMPT_DETAILS : UsageReport.INPUT_DETAILS, false);
    } else if (m == M_ITERATIONS) {
      report.noIterations();
    } else if (m == M_ITERATION) {
      report.iterationStarts(/* isObject= */ false);
    }
  }

  /** A scalar value ended: a count takes it. */
  private void scalarEnds(long value) {
    store(scalarMeaning, value);
    state = AFTER_VALUE;
  }

  private void store(int m, long value) {
    if (m >= 0 && m < UsageReport.COUNTS) {
      report.counts[m] = value;
    } else if (m >= M_ITERATION_COUNT) {
      report.iterationCount(m - M_ITERATION_COUNT, value);
    } else if (m == M_DETAILS_CACHED) {
      int which = scope[depth - 1] == S_PROMPT_DETAILS ? UsageReport.PROMPT_DETAILS : UsageReport.INPUT_DETAILS;
      report.detailsCached[which] = value;
    }
  }

  /** Reads string bytes from {@code i}; returns where it stopped (after the closing quote, or end). */
  private int string(byte[] b, int i, int end, boolean lineMode) {
    int from = i;
    while (i < end) {
      if (escape == 0 && continuation == 0) {
        i = JsonSkimmer.plainStop(b, i, end); // printable ASCII needs no check
        if (i == end) {
          break;
        }
      }
      int c = b[i] & 0xFF;
      if (continuation > 0 || c >= 0x80) {
        if (escape != 0 || !utf8(c)) { // what a backslash escapes is ASCII
          state = FAILED;
          return i;
        }
        i++;
        continue;
      }
      if (c < 0x20) { // control characters must be escaped; a CR or LF in lineMode ends the line
        if (!(lineMode && (c == '\n' || c == '\r'))) {
          state = FAILED;
        }
        keep(b, from, i);
        return i;
      }
      if (escape == 1) {
        switch (c) {
          case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> escape = 0;
          case 'u' -> escape = 5;
          default -> {
            state = FAILED;
            return i;
          }
        }
      } else if (escape > 1) {
        if (Character.digit(c, 16) < 0) {
          state = FAILED;
          return i;
        }
        escape = escape == 2 ? 0 : escape - 1;
      } else if (c == '\\') {
        escape = 1;
        keyEscaped = true;
      } else if (c == '"') {
        keep(b, from, i);
        stringEnds();
        return i + 1;
      }
      i++;
    }
    keep(b, from, end);
    return end;
  }

  /**
   * Whether {@code c} may come next in a UTF-8 sequence: a continuation byte where one is due, else
   * a lead byte. Jackson checks no more than this (not overlong forms), and neither does this.
   */
  private boolean utf8(int c) {
    if (continuation > 0) {
      continuation--;
      return (c & 0xC0) == 0x80;
    }
    continuation = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    return continuation > 0;
  }

  /** Keeps bytes of a name that may be one the scope knows. */
  private void keep(byte[] b, int from, int to) {
    if (!stringIsKey || !keyKept) {
      return;
    }
    int n = to - from;
    if (keyLength + n > MAX_NAME) {
      keyKept = false; // longer than any known name
      return;
    }
    System.arraycopy(b, from, key, keyLength, n);
    keyLength += n;
  }

  private void stringEnds() {
    if (!stringIsKey) {
      scalarEnds(UsageReport.INVALID); // a count written as a string is not one
      return;
    }
    state = COLON;
    meaning = M_OTHER;
    if (!keyKept) {
      return;
    }
    Names names = switch (scope[depth - 1]) {
      case S_USAGE -> USAGE_NAMES;
      case S_ITERATION -> ITERATION_NAMES;
      default -> DETAILS_NAMES;
    };
    if (!keyEscaped) {
      meaning = names.meaning(key, keyLength);
    } else {
      int n = unescapeAscii(key, keyLength, unescaped);
      meaning = n < 0 ? M_OTHER : names.meaning(unescaped, n);
    }
  }

  /**
   * A valid JSON name's escapes decoded, when they are all ASCII (as every known name is): the
   * length written to {@code out}, or -1.
   */
  private static int unescapeAscii(byte[] raw, int length, byte[] out) {
    int n = 0;
    for (int i = 0; i < length; i++) {
      byte c = raw[i];
      if (c == '\\') {
        byte e = raw[++i];
        if (e == 'u') {
          int value = 0;
          for (int k = i + 1; k <= i + 4; k++) {
            value = value << 4 | Character.digit(raw[k], 16); // checked while the name was read
          }
          if (value >= 0x80) {
            return -1;
          }
          c = (byte) value;
          i += 4;
        } else {
          c = switch (e) {
            case 'b' -> '\b';
            case 'f' -> '\f';
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            default -> e; // '"', '\\', '/'
          };
        }
      }
      out[n++] = c;
    }
    return n;
  }

  private int literal(byte[] b, int i, int end) {
    while (i < end && literalAt < literal.length) {
      if (b[i] != literal[literalAt]) {
        state = FAILED;
        return i;
      }
      literalAt++;
      i++;
    }
    if (literalAt == literal.length) {
      scalarEnds(literal == NULL ? UsageReport.ABSENT : UsageReport.INVALID);
    }
    return i;
  }

  /** Reads number bytes from {@code i}; the byte that ends the number is left for the structure. */
  private int number(byte[] b, int i, int end) {
    for (; i < end; i++) {
      int c = b[i];
      boolean isDigit = c >= '0' && c <= '9';
      switch (numberState) {
        case N_MINUS -> {
          if (!isDigit) {
            state = FAILED;
            return i;
          }
          numberState = c == '0' ? N_ZERO : N_INT;
          digit(c - '0');
        }
        case N_ZERO, N_INT, N_FRACTION -> {
          if (isDigit && numberState != N_ZERO) {
            fractionDigits += numberState == N_FRACTION ? 1 : 0;
            digit(c - '0');
          } else if (c == '.' && numberState != N_FRACTION) {
            numberState = N_DOT;
          } else if (c == 'e' || c == 'E') {
            numberState = N_E;
          } else if (isDigit) { // after a leading zero
            state = FAILED;
            return i;
          } else {
            scalarEnds(value());
            return i;
          }
        }
        case N_DOT -> {
          if (!isDigit) {
            state = FAILED;
            return i;
          }
          fractionDigits++;
          digit(c - '0');
          numberState = N_FRACTION;
        }
        case N_E, N_EXPONENT_SIGN -> {
          if (isDigit) {
            exponent = c - '0';
            numberState = N_EXPONENT;
          } else if (numberState == N_E && (c == '+' || c == '-')) {
            exponentNegative = c == '-';
            numberState = N_EXPONENT_SIGN;
          } else {
            state = FAILED;
            return i;
          }
        }
        default -> { // N_EXPONENT
          if (!isDigit) {
            scalarEnds(value());
            return i;
          }
          exponent = Math.min(MAX_EXPONENT, exponent * 10 + (c - '0'));
        }
      }
    }
    return i;
  }

  /**
   * Adds a digit to the significant digits. Zeros after the last non-zero digit are counted, not
   * multiplied in, so {@code 100} and {@code 12.0} keep whole-number precision however they are
   * written; once the significant digits pass a long, the number cannot be a whole count.
   */
  private void digit(int d) {
    if (d == 0) {
      if (mantissa != 0 || overflow) {
        pendingZeros++;
      }
      return;
    }
    long m = mantissa;
    for (int k = 0; k <= pendingZeros && !overflow; k++) {
      if (m > Long.MAX_VALUE / 10) {
        overflow = true;
      }
      m *= 10;
    }
    if (!overflow && m > Long.MAX_VALUE - d) {
      overflow = true;
    }
    mantissa = m + d;
    pendingZeros = 0;
  }

  /** The number read, if it is a whole number that fits a long; else INVALID. */
  private long value() {
    if (overflow) {
      return UsageReport.INVALID;
    }
    if (mantissa == 0) {
      return 0;
    }
    long scale = (long) (exponentNegative ? -exponent : exponent) - fractionDigits + pendingZeros;
    if (scale < 0) {
      return UsageReport.INVALID; // a fraction: 12.5
    }
    long v = mantissa;
    for (long k = 0; k < scale; k++) {
      if (v > Long.MAX_VALUE / 10) {
        return UsageReport.INVALID;
      }
      v *= 10;
    }
    return negative ? -v : v;
  }

  /** The names a scope knows and what each means. */
  private static final class Names {
    private final byte[][] names;
    private final int[] meanings;

    Names(String[] names, int[] meanings) {
      this.names = Arrays.stream(names).map(n -> n.getBytes(StandardCharsets.US_ASCII)).toArray(byte[][]::new);
      this.meanings = meanings;
    }

    int meaning(byte[] name, int length) {
      return meaning(name, 0, length);
    }

    int meaning(byte[] name, int from, int length) {
      for (int i = 0; i < names.length; i++) {
        byte[] known = names[i];
        if (known.length == length && known[0] == name[from]
            && Arrays.equals(known, 0, length, name, from, from + length)) {
          return meanings[i];
        }
      }
      return M_OTHER;
    }
  }
}
