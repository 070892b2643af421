package io.tollgate.metering.quota;

/** The answer of {@link RateLimiter#tryAcquire}. */
public sealed interface RateDecision {

  /** Shared: the call fits both limits. */
  Allowed ALLOWED = new Allowed();

  record Allowed() implements RateDecision {}

  /**
   * Refused: 429 {@code rate_limit_exceeded} with {@code retry-after: retryAfterSeconds}.
   *
   * @param limit {@code "rpm"} or {@code "tpm"}
   */
  record Limited(String limit, long retryAfterSeconds) implements RateDecision {
    public Limited {
      if (retryAfterSeconds < 1) {
        throw new IllegalArgumentException("retryAfterSeconds must be at least 1");
      }
    }
  }
}
