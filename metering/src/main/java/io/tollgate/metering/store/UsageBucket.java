package io.tollgate.metering.store;

import java.time.Instant;
import java.util.Objects;

/** Summed usage of one minute, hour or day, starting at {@code start} (UTC). */
public record UsageBucket(Instant start, UsageCounts counts) {

  public UsageBucket {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(counts, "counts");
  }
}
