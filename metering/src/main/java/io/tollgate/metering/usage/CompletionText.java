package io.tollgate.metering.usage;

import java.util.Arrays;

/**
 * The completion text delivered so far, kept up to a bound so a long answer cannot grow memory
 * without limit. One per response; confined to the response's event loop.
 *
 * <p>The default bound, 1 Mi chars, is above the longest answer a current model writes (128k
 * output tokens are about 512k chars at 4 chars a token), so an estimate from a clipped text is a
 * corner case, not the rule.
 *
 * <p>A plain char array rather than a StringBuilder: {@link JsonStringDecoder} decodes straight
 * into it ({@link #reserve}, {@link #commit}), with no scratch array and no copy, and a reader
 * that is reused keeps its array, so a steady stream of calls allocates no text storage.
 */
final class CompletionText implements CharSequence {

  private static final int INITIAL_CHARS = 256;
  /** Past this a reused text gives its array back: one long answer must not pin it. */
  private static final int KEPT_CHARS = 16 * 1024;
  private static final char[] EMPTY = {};

  private char[] chars = EMPTY;
  private int length;
  private int maxChars;

  CompletionText(int maxChars) {
    this.maxChars = maxChars;
  }

  /** Empties the text for the next response, with a new bound. */
  void clear(int maxChars) {
    this.maxChars = maxChars;
    length = 0;
    if (chars.length > KEPT_CHARS) {
      chars = EMPTY;
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

  /**
   * The array to write up to {@code n} chars into, from {@link #length()} on; then {@link
   * #commit}. One char more than asked fits, so a surrogate pair may straddle the bound.
   */
  char[] reserve(int n) {
    int needed = length + n + 1;
    if (needed > chars.length) {
      chars = Arrays.copyOf(chars, Math.max(needed, Math.max(INITIAL_CHARS, chars.length * 2)));
    }
    return chars;
  }

  /** Ends a write into {@link #reserve}'s array at {@code newLength}, within the bound. */
  void commit(int newLength) {
    length = Math.min(newLength, maxChars);
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
    if (index < 0 || index >= length) {
      throw new IndexOutOfBoundsException(index);
    }
    return chars[index];
  }

  @Override
  public CharSequence subSequence(int start, int end) {
    if (start < 0 || end > length || start > end) {
      throw new IndexOutOfBoundsException("[" + start + ", " + end + ") of " + length);
    }
    return new String(chars, start, end - start);
  }

  @Override
  public String toString() {
    return new String(chars, 0, length);
  }
}
