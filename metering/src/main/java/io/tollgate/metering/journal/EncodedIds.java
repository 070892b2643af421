package io.tollgate.metering.journal;

import io.tollgate.metering.usage.UsageEvent;

/**
 * The five ids of a {@link UsageEvent} (subscription, SKU, product, merchant, buyer) in the form a
 * journal entry holds them, encoded once and appended with every event that carries the same ids
 * ({@link Segment#append(UsageEvent, EncodedIds)}). The aggregator keeps one per cell, so an append
 * copies bytes instead of walking five {@code String}s: encoding the ids per event was ~45% of an
 * append's CPU time in {@code RecordBenchmark} (~60 of ~140 ns).
 */
public final class EncodedIds {

  final byte[] bytes;

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
