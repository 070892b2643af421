package io.tollgate.metering.usage;

/**
 * Creates the {@link UsageExtractor} for a response.
 *
 * <pre>{@code
 * UsageExtractor usage = UsageExtractors.create(Dialect.OPENAI, stream);
 * // for each response chunk, before it is written to the buyer:
 * usage.feed(chunk);
 * // when the response ends or the buyer goes away:
 * TokenUsage reported = usage.reported(); // null: estimate from usage.completionText()
 * }</pre>
 *
 * <p>Each call makes a new {@link UsageReader}; a caller that wants no allocation per call keeps
 * one and {@link UsageReader#start starts} it again instead.
 */
public final class UsageExtractors {

  private UsageExtractors() {}

  /** An extractor with {@link ExtractorOptions#DEFAULTS}. */
  public static UsageExtractor create(Dialect dialect, boolean stream) {
    return create(dialect, stream, ExtractorOptions.DEFAULTS);
  }

  /**
   * An extractor for one response.
   *
   * @param stream whether the response is an SSE stream ({@code text/event-stream}) rather than
   *     one JSON body
   */
  public static UsageExtractor create(Dialect dialect, boolean stream, ExtractorOptions options) {
    return new UsageReader().start(dialect, stream, options);
  }
}
