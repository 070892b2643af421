package io.tollgate.metering.usage;

import io.netty.buffer.ByteBuf;

/**
 * Removes, from an OpenAI chat/completions stream, the usage chunk the gateway asked for on the
 * buyer's behalf ({@link StreamUsage#includeUsage}): the one event whose JSON has {@code
 * "choices":[]} and a non-null {@code usage}. Every other byte reaches the buyer unchanged and in
 * order, and in the common case, a chunk without that event, the chunk itself is handed back:
 * nothing is copied or allocated. See {@link UsageReader#forward} for how a split event is held.
 *
 * <p>{@link #over} makes the filter read the extractor's usage in the same pass, so each byte is
 * scanned once: then do not also {@link UsageExtractor#feed feed} the extractor. A filter made
 * with {@link #SseUsageChunkFilter() new} reads only for itself: run the extractor over each chunk
 * <em>before</em> filtering it, so the usage is still counted.
 *
 * <p>Ownership: {@link #filter} takes over its argument and returns what to write to the buyer,
 * which the caller then owns.
 *
 * <p>Not thread-safe; confined to the response's event loop. Call {@link #finish} once when the
 * upstream stream ends (or is abandoned) and write or release what it returns.
 */
public final class SseUsageChunkFilter {

  private static final ExtractorOptions NO_TEXT = ExtractorOptions.DEFAULTS.withMaxCompletionChars(0);

  private final UsageReader reader;
  /** An extractor that is not a {@link UsageReader}: fed before the filter reads. */
  private final UsageExtractor alsoFed;

  /** A filter that reads for itself; feed the extractor separately. */
  public SseUsageChunkFilter() {
    this(standalone(), null);
  }

  SseUsageChunkFilter(UsageReader reader, UsageExtractor alsoFed) {
    this.reader = reader;
    this.alsoFed = alsoFed;
  }

  /**
   * A filter that also feeds {@code extractor}, a stream's extractor that has read nothing yet:
   * one pass when it is a {@link UsageReader} (as {@link UsageExtractors} makes them), else the
   * extractor is fed and the filter reads after it. Either way, feed the extractor only through
   * the filter.
   */
  public static SseUsageChunkFilter over(UsageExtractor extractor) {
    if (extractor instanceof UsageReader reader && reader.hideUsageChunkFromNowOn()) {
      return reader.hidingFilter();
    }
    return new SseUsageChunkFilter(standalone(), extractor);
  }

  private static UsageReader standalone() {
    return new UsageReader().start(Dialect.OPENAI, /* stream= */ true, NO_TEXT, /* hideUsageChunk= */ true);
  }

  /**
   * Filters the next chunk of the upstream stream.
   *
   * @param chunk the upstream's bytes; ownership passes to the filter
   * @return the bytes to write to the buyer, owned by the caller; {@code chunk} itself when
   *     nothing had to change (possibly empty: write or release it)
   */
  public ByteBuf filter(ByteBuf chunk) {
    if (alsoFed != null) {
      alsoFed.feed(chunk);
    }
    return reader.forward(chunk);
  }

  /**
   * Ends the stream: returns the bytes still held back (none if the last event was the usage
   * chunk, or an empty buffer), which the caller owns.
   */
  public ByteBuf finish() {
    return reader.finish();
  }
}
