package io.tollgate.metering.store;

/**
 * Quantities counted for one key: calls and tokens. {@code inputTokens} includes cached input;
 * {@code estimatedTokens} is the part of input + output that tollgate estimated because the
 * upstream reported nothing.
 */
public record UsageCounts(
    long calls, long inputTokens, long cachedInputTokens, long outputTokens, long estimatedTokens) {

  public static final UsageCounts ZERO = new UsageCounts(0, 0, 0, 0, 0);

  public UsageCounts {
    if (calls < 0 || inputTokens < 0 || cachedInputTokens < 0 || outputTokens < 0
        || estimatedTokens < 0) {
      throw new IllegalArgumentException(
          "counts must not be negative: calls=" + calls + " input=" + inputTokens + " cached="
              + cachedInputTokens + " output=" + outputTokens + " estimated=" + estimatedTokens);
    }
  }

  public UsageCounts plus(UsageCounts o) {
    return new UsageCounts(
        calls + o.calls,
        inputTokens + o.inputTokens,
        cachedInputTokens + o.cachedInputTokens,
        outputTokens + o.outputTokens,
        estimatedTokens + o.estimatedTokens);
  }

  public long totalTokens() {
    return inputTokens + outputTokens;
  }

  public boolean isZero() {
    return calls == 0 && inputTokens == 0 && cachedInputTokens == 0 && outputTokens == 0
        && estimatedTokens == 0;
  }
}
