package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;

/**
 * The five ids of a {@link UsageEvent} (subscription, SKU, product, merchant, buyer) in the form a
 * journal's ids entry holds them, encoded once and written into each segment once, before the first
 * event that carries them ({@link Segment#append(UsageEvent, EncodedIds)}); the events after it in
 * that segment name the entry by its number. The aggregator keeps one per cell, so an append
 * copies no ids at all, where encoding them per event was ~45% of an append's CPU time in {@code
 * RecordBenchmark} (~60 of ~140 ns), and copying the encoded bytes per event ~10%.
 */
public final class EncodedIds {

  final byte[] bytes;
  /**
   * The {@link Segment#serial} of the segment that last wrote these ids' entry (0: none yet), and
   * that entry's number there. Appender only: the thread that appends with these ids holds the
   * aggregator's stripe lock, as every append does.
   */
  long segment;
  int ref;

  private EncodedIds(byte[] bytes) {
    this.bytes = bytes;
  }

  /**
   * Encodes {@code e}'s ids; allocates. Throws {@link IllegalArgumentException} for an id longer
   * than 32767 bytes in UTF-8, which no journal entry can hold.
   */
  public static EncodedIds of(UsageEvent e) {
    return new EncodedIds(EventCodec.encodeIds(e));
  }
}
