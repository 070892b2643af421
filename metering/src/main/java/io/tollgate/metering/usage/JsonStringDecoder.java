package io.tollgate.metering.usage;

import io.netty.util.concurrent.FastThreadLocal;

/**
 * Decodes the content of one JSON string (the bytes between its quotes) that arrives in pieces
 * cut anywhere, inside an escape or inside a UTF-8 character, and appends it to a {@link
 * CompletionText} as it comes.
 *
 * <p>Why: {@link JsonSkimmer} used to copy such a string whole and decode it at its closing quote,
 * so a 20 MB answer held 20 MB (and past 16 MiB made the whole body unreadable, its usage lost).
 * This keeps at most one incomplete escape or character between pieces (under 12 bytes), decodes
 * in slices of {@link #SLICE_BYTES} into the thread's scratch array and appends them, and stops
 * decoding once the text is at its bound: memory per response is the kept text, whatever the
 * string's length, and a string costs no allocation. A string whole in one piece, the usual case,
 * is decoded in one step ({@link #decodeWhole}).
 *
 * <p>Not thread-safe; one per skimmer.
 */
final class JsonStringDecoder {

  /** Most bytes decoded at a time, into the thread's scratch chars. */
  static final int SLICE_BYTES = 16 * 1024;
  /** Longest unit that may be cut: {@code \}{@code uXXXX} (6 bytes); a UTF-8 character is at most 4. */
  private static final int MAX_UNIT = 6;
  /** Decoded chars of one slice (never more than its bytes); done with when a decode returns. */
  private static final FastThreadLocal<char[]> CHARS = new FastThreadLocal<>() {
    @Override
    protected char[] initialValue() {
      return new char[SLICE_BYTES];
    }
  };

  /** The smallest code point each UTF-8 length may encode (shorter ones are overlong, invalid). */
  private static final int[] MIN_CODE_POINT = {0, 0, 0x80, 0x800, 0x10000};

  private final CompletionText text;
  private final byte[] carry = new byte[2 * MAX_UNIT];
  private int carryLength;
  /** {@link #CHARS} of {@link #charsThread}, looked up once per thread rather than per string. */
  private char[] chars;
  private Thread charsThread;

  JsonStringDecoder(CompletionText text) {
    this.text = text;
  }

  /** Starts a new string. */
  void reset() {
    carryLength = 0;
  }

  /**
   * Decodes the next piece of the string's content; false if it is not valid JSON string content
   * (a bad escape). Pieces after the text is full are only checked where they complete a unit.
   */
  boolean append(byte[] bytes, int from, int length) {
    int i = from;
    int end = from + length;
    if (carryLength > 0) {
      // Join the held unit with the first bytes of this piece, enough to complete it.
      int take = Math.min(end - i, carry.length - carryLength);
      System.arraycopy(bytes, i, carry, carryLength, take);
      int joined = carryLength + take;
      int cut = safeCut(carry, 0, joined);
      if (cut < carryLength) { // still incomplete: the piece was shorter than the unit
        carryLength = joined;
        return true;
      }
      if (!decode(carry, 0, cut)) {
        return false;
      }
      i += cut - carryLength;
      carryLength = 0;
    }
    while (i < end && !text.full()) {
      int sliceEnd = Math.min(end, i + SLICE_BYTES);
      int cut = safeCut(bytes, i, sliceEnd);
      if (cut == i) {
        break; // one incomplete unit, necessarily at the piece's end
      }
      if (!decode(bytes, i, cut - i)) {
        return false;
      }
      i = cut;
    }
    if (text.full()) {
      return true; // nothing more is kept: the rest of the string is passed over
    }
    carryLength = end - i;
    System.arraycopy(bytes, i, carry, 0, carryLength);
    return true;
  }

  /**
   * Decodes a whole string's content, found in one piece: nothing to carry, so no cut to find.
   * False on an invalid escape.
   */
  boolean decodeWhole(byte[] bytes, int from, int length) {
    if (length > SLICE_BYTES) { // decoded in slices, cut between whole characters and escapes
      reset();
      return append(bytes, from, length) && finish();
    }
    return decode(bytes, from, length);
  }

  /**
   * Ends the string at its closing quote; false if it ended inside an escape. A UTF-8 character
   * cut short by the quote is malformed and becomes U+FFFD, as it does inside the string.
   */
  boolean finish() {
    int held = carryLength;
    carryLength = 0;
    if (held == 0 || text.full()) {
      return true;
    }
    return carry[0] != '\\' && decode(carry, 0, held);
  }

  /**
   * The largest {@code c} in {@code [from, to]} such that {@code [from, c)} holds only whole
   * escapes and characters, {@code from} being the start of one.
   */
  static int safeCut(byte[] b, int from, int to) {
    int tail = from; // where a character cut short may start
    for (int p = to - 1; p >= Math.max(from, to - MAX_UNIT); p--) {
      if (b[p] != '\\') {
        continue;
      }
      int run = 1;
      while (p - run >= from && b[p - run] == '\\') {
        run++;
      }
      if ((run & 1) == 1) { // an odd run ends in an escape's backslash; an even one is "\\" pairs
        int unit = p + 1 < to && b[p + 1] == 'u' ? 6 : 2;
        if (p + unit > to) {
          return p;
        }
        tail = p + unit;
      }
      break;
    }
    // A UTF-8 character cut short: a lead byte followed by fewer continuation bytes than it needs.
    for (int q = to - 1; q >= Math.max(tail, to - 3); q--) {
      int c = b[q] & 0xFF;
      if (c < 0x80) {
        return to;
      }
      if (c >= 0xC0) {
        int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        return q + need > to ? q : to;
      }
    }
    return to;
  }

  /**
   * Decodes whole units and appends what fits of them; false on an invalid escape. A run of plain
   * ASCII (no escape), most of an answer, is found eight bytes at a time and copied in as it lies
   * ({@link CompletionText#appendAscii}); escapes and other UTF-8 between runs are decoded into the
   * scratch array first. Hand-written rather than {@code new String} per run between escapes, so a
   * slice allocates nothing. Malformed UTF-8 becomes U+FFFD, as {@code new String} does. Decoding
   * stops once as many chars as the text has room for came out, as a bad escape after that is
   * not read. A bad escape keeps the text before it, whatever the string's pieces (this used to
   * drop the piece that held it, so the text left to estimate from depended on the cuts).
   */
  private boolean decode(byte[] b, int from, int length) {
    int room = text.room();
    if (room == 0) {
      return true;
    }
    int end = from + length;
    int i = from;
    int produced = 0; // chars decoded by this call; a slice never decodes to more chars than it has bytes
    while (i < end && produced < room) {
      int run = JsonSkimmer.asciiStop(b, i, end);
      if (run > i) {
        int n = Math.min(run - i, room - produced);
        text.appendAscii(b, i, n);
        produced += n;
        i += n;
        continue;
      }
      char[] out = scratch();
      int n = 0;
      while (i < end && produced + n < room) {
        int c = b[i];
        if (c >= 0 && c != '\\') {
          break; // plain ASCII again: the run is copied as it lies
        }
        if (c == '\\') {
          char e = i + 1 < end ? (char) b[i + 1] : 0;
          switch (e) {
            case '"', '\\', '/' -> out[n++] = e;
            case 'b' -> out[n++] = '\b';
            case 'f' -> out[n++] = '\f';
            case 'n' -> out[n++] = '\n';
            case 'r' -> out[n++] = '\r';
            case 't' -> out[n++] = '\t';
            case 'u' -> {
              int value = i + 6 <= end ? hex(b, i + 2) : -1;
              if (value < 0) {
                text.append(out, 0, n);
                return false;
              }
              out[n++] = (char) value;
              i += 4;
            }
            default -> {
              text.append(out, 0, n);
              return false;
            }
          }
          i += 2;
          continue;
        }
        int lead = c & 0xFF;
        int need = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 0;
        int cp = need == 4 ? lead & 0x07 : need == 3 ? lead & 0x0F : lead & 0x1F;
        int k = 1;
        while (k < need && i + k < end && (b[i + k] & 0xC0) == 0x80) {
          cp = cp << 6 | (b[i + k] & 0x3F);
          k++;
        }
        if (need == 0 || k < need || cp < MIN_CODE_POINT[need] || cp > Character.MAX_CODE_POINT
            || (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE)) {
          out[n++] = '\uFFFD';
          i += Math.max(1, k == need ? need : k); // skip what was read of the broken sequence
          continue;
        }
        if (need == 4) {
          out[n++] = Character.highSurrogate(cp); // 4 bytes, 2 chars: the scratch has room for both
          out[n++] = Character.lowSurrogate(cp);
        } else {
          out[n++] = (char) cp;
        }
        i += need;
      }
      text.append(out, 0, n);
      produced += n;
    }
    return true;
  }

  /**
   * The calling thread's scratch chars. A stream's events are a few bytes of text each, and the
   * thread-local lookup was 9% of the SSE pass off an event loop (on a plain thread, as in JMH);
   * {@code currentThread} is an intrinsic.
   */
  private char[] scratch() {
    Thread t = Thread.currentThread();
    if (t != charsThread) {
      chars = CHARS.get();
      charsThread = t;
    }
    return chars;
  }

  /** The four hex digits at {@code at} as a number, or -1. */
  private static int hex(byte[] b, int at) {
    int value = 0;
    for (int k = at; k < at + 4; k++) {
      int d = Character.digit(b[k], 16);
      if (d < 0) {
        return -1;
      }
      value = value << 4 | d;
    }
    return value;
  }
}
