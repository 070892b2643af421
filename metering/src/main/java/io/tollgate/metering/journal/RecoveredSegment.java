package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;
import java.util.List;
import java.util.Objects;

/**
 * A segment left by an earlier process: its whole entries, in order.
 *
 * @param tornTail whether bytes other than the file's zero tail were ignored after the last whole
 *     entry (an append cut short by a crash)
 */
public record RecoveredSegment(Segment segment, List<UsageEvent> events, boolean tornTail) {

  public RecoveredSegment {
    Objects.requireNonNull(segment, "segment");
    events = List.copyOf(events);
  }
}
