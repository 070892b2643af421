package io.tollgate.metering.quota;

/**
 * What a subscription's rate limits leave it on this instance at one moment: what the buyer's
 * rate-limit headers show. A limit of 0 is a dimension the SKU does not limit (no header).
 *
 * @param requestLimit the rpm this instance enforces (its share of the SKU's), 0 for none
 * @param requestsRemaining calls that would be admitted now
 * @param requestsResetAtMillis epoch millis when, with no further calls, the request window is
 *     empty again (all of {@code requestLimit} available); now when it is empty already
 * @param tokenLimit the tpm this instance enforces, 0 for none
 * @param tokensRemaining tokens that fit now
 * @param tokensResetAtMillis as {@code requestsResetAtMillis}, for tokens
 * @param atMillis the moment described, on the limiter's clock
 */
public record RateStatus(long requestLimit, long requestsRemaining, long requestsResetAtMillis,
    long tokenLimit, long tokensRemaining, long tokensResetAtMillis, long atMillis) {

  public RateStatus {
    if (requestLimit < 0 || tokenLimit < 0 || requestsRemaining < 0 || tokensRemaining < 0
        || requestsRemaining > requestLimit || tokensRemaining > tokenLimit) {
      throw new IllegalArgumentException("limits and remainders must be 0 <= remaining <= limit: requests "
          + requestsRemaining + "/" + requestLimit + ", tokens " + tokensRemaining + "/" + tokenLimit);
    }
  }
}
