package io.tollgate.metering.usage;

/**
 * Tokens one call consumed, as the upstream reported them or as tollgate estimated them.
 *
 * <p>{@code inputTokens} counts every prompt token the upstream processed, cached or not (OpenAI
 * {@code prompt_tokens}; Anthropic {@code input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens}); {@code cachedInputTokens} is the part of it read from a cache.
 */
public record TokenUsage(long inputTokens, long cachedInputTokens, long outputTokens, boolean estimated) {

  /** A call that consumed no tokens (an embedding-less GET, a rejected call). */
  public static final TokenUsage ZERO = new TokenUsage(0, 0, 0, /* estimated= */ false);

  public TokenUsage {
    if (inputTokens < 0 || cachedInputTokens < 0 || outputTokens < 0) {
      throw new IllegalArgumentException(
          "token counts must not be negative: input=" + inputTokens + " cached=" + cachedInputTokens
              + " output=" + outputTokens);
    }
    if (cachedInputTokens > inputTokens) {
      throw new IllegalArgumentException(
          "cachedInputTokens " + cachedInputTokens + " exceeds inputTokens " + inputTokens);
    }
  }

  public long totalTokens() {
    return inputTokens + outputTokens;
  }
}
