package io.tollgate.metering.store;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;

/** Export window lengths and their alignment to the epoch, shared by the meter stores. */
final class ExportWindows {

  /** Defaults to 1 hour, like {@code export.window}. */
  static final Duration DEFAULT = Duration.ofHours(1);

  /** The order both stores clear marks in and JDBC takes their row locks in (no lock cycles). */
  static final Comparator<TouchedKey> KEY_ORDER =
      Comparator.comparing(TouchedKey::subscriptionId).thenComparing(TouchedKey::skuId);

  private ExportWindows() {}

  /** Returns {@code window} if it is whole minutes from 1 minute to 7 days. */
  static Duration check(Duration window) {
    if (window == null
        || window.compareTo(Duration.ofMinutes(1)) < 0
        || window.compareTo(Duration.ofDays(7)) > 0
        || window.getSeconds() % 60 != 0
        || window.getNano() != 0) {
      throw new IllegalArgumentException(
          "export window must be whole minutes from PT1M to P7D: " + window);
    }
    return window;
  }

  /** The start of the window of length {@code lengthMillis} holding {@code epochMillis}. */
  static long start(long epochMillis, long lengthMillis) {
    return Math.floorDiv(epochMillis, lengthMillis) * lengthMillis;
  }

  /** The epoch millis of {@code windowStart}, which must be a window start. */
  static long checkStart(Instant windowStart, long lengthMillis) {
    long ms = windowStart.toEpochMilli();
    if (ms < 0 || ms % lengthMillis != 0 || windowStart.getNano() % 1_000_000 != 0) {
      throw new IllegalArgumentException(
          "not the start of a " + Duration.ofMillis(lengthMillis) + " export window: " + windowStart);
    }
    return ms;
  }

  /** The first window start at or after {@code epochMillis}. */
  static long firstStartFrom(long epochMillis, long lengthMillis) {
    return -Math.floorDiv(-epochMillis, lengthMillis) * lengthMillis;
  }

  /** The first whole millisecond at or after {@code t}: {@code [from, to)} on millisecond starts. */
  static long ceilMillis(Instant t) {
    long ms = t.toEpochMilli();
    return t.getNano() % 1_000_000 == 0 ? ms : ms + 1;
  }
}
