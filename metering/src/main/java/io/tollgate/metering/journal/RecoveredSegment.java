package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;
import java.util.List;
import java.util.Objects;

/**
 * A segment left by an earlier process: its whole entries, in order.
 *
 * @param tornTail whether bytes after the last whole entry were ignored (a write cut by a crash)
 */
public record RecoveredSegment(Segment segment, List<UsageEvent> events, boolean tornTail) {

  public RecoveredSegment {
    Objects.requireNonNull(segment, "segment");
    events = List.copyOf(events);
  }
}
