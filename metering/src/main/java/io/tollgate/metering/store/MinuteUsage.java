package io.tollgate.metering.store;

import java.util.Objects;

/**
 * Usage counted in one UTC minute.
 *
 * @param minuteStart epoch millis of the minute's start (a multiple of 60 000)
 */
public record MinuteUsage(long minuteStart, UsageCounts counts) {

  public MinuteUsage {
    Objects.requireNonNull(counts, "counts");
    if (minuteStart < 0 || minuteStart % 60_000 != 0) {
      throw new IllegalArgumentException("minuteStart must be a whole UTC minute: " + minuteStart);
    }
  }
}
