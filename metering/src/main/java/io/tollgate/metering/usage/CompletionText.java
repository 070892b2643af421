package io.tollgate.metering.usage;

/**
 * The completion text delivered so far, kept up to a bound so a long answer cannot grow memory
 * without limit. One per response; confined to the response's event loop.
 *
 * <p>The default bound, 1 Mi chars, is above the longest answer a current model writes (128k
 * output tokens are about 512k chars at 4 chars a token), so an estimate from a clipped text is a
 * corner case, not the rule.
 */
final class CompletionText implements CharSequence {

  private final StringBuilder text = new StringBuilder();
  private final int maxChars;

  CompletionText(int maxChars) {
    this.maxChars = maxChars;
  }

  boolean enabled() {
    return maxChars > 0;
  }

  void append(char[] chars, int offset, int length) {
    int room = maxChars - text.length();
    if (room > 0) {
      text.append(chars, offset, Math.min(room, length));
    }
  }

  void append(String chars) {
    int room = maxChars - text.length();
    if (room > 0) {
      text.append(chars, 0, Math.min(room, chars.length()));
    }
  }

  void append(char c) {
    if (text.length() < maxChars) {
      text.append(c);
    }
  }

  /** Whether nothing more would be kept. */
  boolean full() {
    return text.length() >= maxChars;
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
