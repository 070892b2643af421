package io.tollgate.metering.usage;

/**
 * The completion text delivered so far, kept up to a bound so a long answer cannot grow memory
 * without limit. One per response; confined to the response's event loop.
 *
 * <p>The default bound, 1 Mi chars, is above the longest answer a current model writes (128k
 * output tokens are about 512k chars at 4 chars a token), so an estimate from a clipped text is a
 * corner case, not the rule.
 *
 * <p>Kept in a StringBuilder, one byte per char while the text is Latin-1 (as most answers
 * are, mostly): half the memory of a char array, for each stream in flight. A text that is reused
 * ({@link #clear}) keeps its builder, so a steady stream of calls allocates no text storage.
 */
final class CompletionText implements CharSequence {

  /** Past this a reused text gives its builder back: one long answer must not pin it. */
  private static final int KEPT_CHARS = 16 * 1024;

  private StringBuilder text = new StringBuilder();
  private int maxChars;

  CompletionText(int maxChars) {
    this.maxChars = maxChars;
  }

  /** Empties the text for the next response, with a new bound. */
  void clear(int maxChars) {
    this.maxChars = maxChars;
    if (text.capacity() > KEPT_CHARS) {
      text = new StringBuilder();
    } else {
      text.setLength(0);
    }
  }

  boolean enabled() {
    return maxChars > 0;
  }

  /** Whether nothing more would be kept. */
  boolean full() {
    return text.length() >= maxChars;
  }

  /** How many more chars are kept. */
  int room() {
    return Math.max(0, maxChars - text.length());
  }

  /** Appends what fits of {@code chars[offset, offset + n)}. */
  void append(char[] chars, int offset, int n) {
    text.append(chars, offset, Math.min(room(), n));
  }

  /** A point to {@link #rollback} to when the event being read turns out to be malformed. */
  int mark() {
    return text.length();
  }

  void rollback(int mark) {
    text.setLength(mark);
  }

  @Override
  public int length() {
    return text.length();
  }

  @Override
  public char charAt(int index) {
    return text.charAt(index);
  }

  @Override
  public CharSequence subSequence(int start, int end) {
    return text.subSequence(start, end);
  }

  @Override
  public String toString() {
    return text.toString();
  }
}
