package io.tollgate.metering.usage;

import io.netty.buffer.ByteBuf;

/**
 * Reads the usage an upstream reports while the response body streams through, without buffering
 * the whole body. Create one with {@link UsageExtractors#create}, or keep a {@link UsageReader}
 * and start it per response.
 *
 * <p>One instance per response, used by one thread at a time: the response's event loop, then,
 * once the response has ended, the worker that estimates its tokens. Never throws: malformed or
 * truncated input yields "nothing reported".
 */
public interface UsageExtractor {

  /** Reads the readable bytes of {@code chunk}; does not retain it or move its indices. */
  void feed(ByteBuf chunk);

  /**
   * The usage reported so far, or {@code null} when the upstream reported none, or none that can
   * be trusted ({@link #rejected()}). For a stream, a final event that lacks only its closing blank
   * line counts when its JSON is complete.
   */
  TokenUsage reported();

  /**
   * Whether the upstream reported a usage that is not believable (negative, above the configured
   * bound, not a whole number, or more cached than input tokens). {@link #reported()} is then null;
   * the gateway counts the rejection in a metric and estimates.
   */
  default boolean rejected() {
    return false;
  }

  /**
   * The completion text delivered so far (answer, reasoning and tool-call arguments), kept up to
   * {@link ExtractorOptions#maxCompletionChars()}, for {@link TokenEstimator} when nothing was
   * reported or the buyer cut the answer short. A live view: copy it to keep it.
   */
  default CharSequence completionText() {
    return "";
  }
}
