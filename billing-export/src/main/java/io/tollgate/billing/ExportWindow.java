package io.tollgate.billing;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/** One export window: {@code [start, end)}, aligned to the epoch by its length. */
public record ExportWindow(Instant start, Instant end) {

  public ExportWindow {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(end, "end");
    if (!end.isAfter(start)) {
      throw new IllegalArgumentException("window end must be after its start: " + start + ".." + end);
    }
  }

  /** The window of length {@code length} holding {@code t}. */
  public static ExportWindow holding(Instant t, Duration length) {
    long len = length.toMillis();
    long start = Math.floorDiv(t.toEpochMilli(), len) * len;
    return new ExportWindow(Instant.ofEpochMilli(start), Instant.ofEpochMilli(start + len));
  }
}
