package io.tollgate.metering.usage;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * The completion text delivered so far, kept up to a bound so a long answer cannot grow memory
 * without limit. One per response; confined to the response's event loop.
 *
 * <p>The default bound, 1 Mi chars, is above the longest answer a current model writes (128k
 * output tokens are about 512k chars at 4 chars a token), so an estimate from a clipped text is a
 * corner case, not the rule.
 *
 * <p>Kept one byte per char while every char is Latin-1 (as most answers are, mostly), in chars
 * once one is not: half the memory of a char array for each stream in flight, as a StringBuilder
 * would. Held here rather than in a StringBuilder so that a run of plain ASCII bytes from the
 * answer, most of its text, is copied in as it lies ({@link #appendAscii}): the builder took chars
 * and checked each for Latin-1, 40% of a 1 KB chat body's read with the text kept. A text that is
 * reused ({@link #clear}) keeps its storage, so a steady stream of calls allocates none.
 */
final class CompletionText implements CharSequence {

  /** Past this a reused text gives its storage back: one long answer must not pin it. */
  private static final int KEPT_CHARS = 16 * 1024;
  private static final byte[] NO_BYTES = {};
  private static final char[] NO_CHARS = {};

  /** The chars while all are Latin-1. */
  private byte[] bytes = NO_BYTES;
  /** The chars once one is past Latin-1 ({@code wide}); kept across {@link #clear} like the bytes. */
  private char[] chars = NO_CHARS;
  private boolean wide;
  private int length;
  private int maxChars;

  CompletionText(int maxChars) {
    this.maxChars = maxChars;
  }

  /** Empties the text for the next response, with a new bound. */
  void clear(int maxChars) {
    this.maxChars = maxChars;
    length = 0;
    wide = false;
    if (bytes.length > KEPT_CHARS) {
      bytes = NO_BYTES;
    }
    if (chars.length > KEPT_CHARS) {
      chars = NO_CHARS;
    }
  }

  boolean enabled() {
    return maxChars > 0;
  }

  /** Whether nothing more would be kept. */
  boolean full() {
    return length >= maxChars;
  }

  /** How many more chars are kept. */
  int room() {
    return Math.max(0, maxChars - length);
  }

  /** Appends what fits of {@code chars[offset, offset + n)}. */
  void append(char[] in, int offset, int n) {
    n = Math.min(room(), n);
    if (n <= 0) {
      return;
    }
    if (!wide) {
      int k = 0;
      while (k < n && in[offset + k] <= 0xFF) {
        k++;
      }
      if (k == n) {
        ensureBytes(length + n);
        for (int j = 0; j < n; j++) {
          bytes[length + j] = (byte) in[offset + j];
        }
        length += n;
        return;
      }
      widen(length + n);
    }
    ensureChars(length + n);
    System.arraycopy(in, offset, chars, length, n);
    length += n;
  }

  /** Appends what fits of the chars {@code in[offset, offset + n)}, each byte one under 0x80. */
  void appendAscii(byte[] in, int offset, int n) {
    n = Math.min(room(), n);
    if (n <= 0) {
      return;
    }
    if (!wide) {
      ensureBytes(length + n);
      System.arraycopy(in, offset, bytes, length, n);
    } else {
      ensureChars(length + n);
      for (int j = 0; j < n; j++) {
        chars[length + j] = (char) in[offset + j];
      }
    }
    length += n;
  }

  private void ensureBytes(int capacity) {
    if (capacity > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(capacity, Math.max(16, bytes.length * 2)));
    }
  }

  private void ensureChars(int capacity) {
    if (capacity > chars.length) {
      chars = Arrays.copyOf(chars, Math.max(capacity, chars.length * 2));
    }
  }

  /** A char past Latin-1 comes: the text so far moves to chars, for {@code capacity} in all. */
  private void widen(int capacity) {
    if (capacity > chars.length) {
      chars = new char[Math.max(capacity, Math.max(16, length * 2))];
    }
    for (int j = 0; j < length; j++) {
      chars[j] = (char) (bytes[j] & 0xFF);
    }
    wide = true;
  }

  /** A point to {@link #rollback} to when the event being read turns out to be malformed. */
  int mark() {
    return length;
  }

  void rollback(int mark) {
    length = mark;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public char charAt(int index) {
    Objects.checkIndex(index, length);
    return wide ? chars[index] : (char) (bytes[index] & 0xFF);
  }

  @Override
  public CharSequence subSequence(int start, int end) {
    Objects.checkFromToIndex(start, end, length);
    return wide
        ? new String(chars, start, end - start)
        : new String(bytes, start, end - start, StandardCharsets.ISO_8859_1);
  }

  @Override
  public String toString() {
    return wide ? new String(chars, 0, length) : new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
  }
}
