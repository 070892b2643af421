package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.Subscription;

/**
 * What a subscription has used in its current period (since {@link Subscription#periodStart()}),
 * shown by the admin API next to its quota. Metering supplies the real one; {@link #NONE} reports
 * zeros.
 *
 * <p>Called on a worker thread, so an implementation may block (a Redis or JDBC read).
 */
@FunctionalInterface
public interface UsageView {

  /** Reports no usage: the default until metering is wired in. */
  UsageView NONE = subscription -> Usage.ZERO;

  Usage usageOf(Subscription subscription);

  /** Calls and tokens counted for a subscription; never negative. */
  record Usage(long calls, long inputTokens, long outputTokens) {
    public static final Usage ZERO = new Usage(0, 0, 0);

    public Usage {
      if (calls < 0 || inputTokens < 0 || outputTokens < 0) {
        throw new IllegalArgumentException(
            "usage must not be negative: " + calls + ", " + inputTokens + ", " + outputTokens);
      }
    }

    public long totalTokens() {
      return inputTokens + outputTokens;
    }
  }
}
