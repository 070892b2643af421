package io.tollgate.metering.store;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The meter store as the billing exporter reads it: which subscriptions' usage changed in which
 * export window, and their per-minute usage. Export windows are {@link #exportWindow()} long and
 * aligned to the epoch (a window starts at a multiple of its length).
 *
 * <p><b>Marks.</b> Every {@link MeterStore#apply} marks each (window, subscription) its cells
 * touch, after (or atomically with) adding the cells, and changes the mark's version each time
 * (to a value it never had, even across a clear).
 * The exporter reads a window's marks, reads the usage, writes records, then clears the marks it
 * read ({@link #clearTouched}): a mark whose version moved in between (usage that arrived while
 * the exporter worked) stays, so that usage is exported by a later run. A mark is never cleared
 * before its usage is readable, so no usage goes unexported; a mark left behind by a crash only
 * makes the exporter look again and find nothing new. So the exporter never rescans history: the
 * work of a run grows with the subscriptions whose usage changed, not with requests or time.
 *
 * <p>All methods block; call them off event loops.
 */
public interface ExportSource {

  /** The length of the windows marks are kept for. */
  Duration exportWindow();

  /** Starts of the windows in {@code [from, to)} that hold marks, oldest first. */
  List<Instant> touchedWindows(Instant from, Instant to);

  /** The marks of the window starting at {@code windowStart}. */
  List<TouchedKey> touched(Instant windowStart);

  /**
   * Per-minute usage of each subscription in {@code [from, to)}, oldest minute first, minutes
   * without usage left out; a subscription without usage maps to an empty list or is absent.
   */
  Map<String, List<MinuteUsage>> minutes(Collection<String> subscriptionIds, Instant from, Instant to);

  /** Removes the marks of {@code seen} whose version has not changed since they were read. */
  void clearTouched(Instant windowStart, List<TouchedKey> seen);
}
