package io.tollgate.metering.journal;

import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

/**
 * The compact binary forms of journal entries. The first byte of a payload says which:
 *
 * <ul>
 *   <li>{@value #IDS} (ids entry): the five ids of a {@link UsageEvent} (subscription, SKU,
 *       product, merchant, buyer), numbered within their segment: the number (int), then each id
 *       as a short length (-1 for null) and UTF-8.
 *   <li>{@value #EVENT} (event entry): request id (2 longs), the number of its ids' entry in the
 *       same segment (int), end time, status (short), outcome (byte), flags (bit 0 estimated, bit
 *       1 test, bit 2 wide), input, cached and output tokens: ints, or longs when one of them does
 *       not fit an int (wide). {@value #EVENT_BYTES} bytes, or {@value #EVENT_MAX_BYTES} wide.
 *   <li>{@value #V1_EVENT} (version 1, no longer written, still read): request id, the five ids
 *       inline, end time, status, outcome, the token counts as longs, flags.
 * </ul>
 *
 * <p>A segment holds one ids entry per set of ids, written just before the first event that
 * carries them ({@link Segment#append}), so a call's entry is 53 bytes whatever its ids' length,
 * where version 1's repeated them in every entry and held the counts as longs (~100 bytes with {@code RecordBenchmark}'s short
 * ids, ~200 with the gateway's): fewer bytes for the event loop to write and checksum, and for the
 * journal's threads to reserve, force and free. The ids are encoded apart ({@link #encodeIds}),
 * once per cell by the aggregator's {@link EncodedIds}; the encoders write into the journal's
 * mapping with absolute puts: no allocation, no {@code String} and no intermediate array.
 */
final class EventCodec {

  /** An event with its ids inline: what version 1 wrote. */
  static final byte V1_EVENT = 1;
  /** A set of ids, numbered within its segment. */
  static final byte IDS = 2;
  /** An event, with the number of its ids' entry. */
  static final byte EVENT = 3;
  private static final UsageEvent.Outcome[] OUTCOMES = UsageEvent.Outcome.values();
  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  /** Kind, request id, ids number, end time, status, outcome, flags, three token counts as ints. */
  static final int EVENT_BYTES = 1 + 16 + 4 + 8 + 2 + 1 + 1 + 3 * 4;
  /** As {@link #EVENT_BYTES}, with the token counts as longs. */
  static final int EVENT_MAX_BYTES = EVENT_BYTES + 3 * 4;
  /** The flag of an event entry whose token counts are longs. */
  private static final int WIDE = 4;
  /** Kind and number: an ids entry's bytes before its ids. */
  static final int IDS_HEADER_BYTES = 1 + 4;
  private static final int ID_COUNT = 5;
  /** The longest ids entry: every id at the longest {@link #encodeIds} accepts. */
  static final int MAX_IDS_BYTES = IDS_HEADER_BYTES + ID_COUNT * (2 + Short.MAX_VALUE);

  private EventCodec() {}

  /**
   * The five ids of {@code e} as {@link #encode} writes them, each as its length (-1 for null)
   * and UTF-8. Throws {@link IllegalArgumentException} for an id longer than 32767 bytes.
   */
  static byte[] encodeIds(UsageEvent e) {
    byte[][] ids = {utf8(e.subscriptionId()), utf8(e.skuId()), utf8(e.productId()),
        utf8(e.merchantId()), utf8(e.buyerId())};
    int length = 0;
    for (byte[] id : ids) {
      length += 2 + (id == null ? 0 : id.length);
    }
    byte[] out = new byte[length];
    int p = 0;
    for (byte[] id : ids) {
      if (id == null) {
        SHORT.set(out, p, (short) -1);
        p += 2;
      } else {
        SHORT.set(out, p, (short) id.length);
        System.arraycopy(id, 0, out, p + 2, id.length);
        p += 2 + id.length;
      }
    }
    return out;
  }

  private static byte[] utf8(String s) {
    if (s == null) {
      return null;
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > Short.MAX_VALUE) {
      throw new IllegalArgumentException("id longer than 32767 bytes");
    }
    return bytes;
  }

  /** Writes the ids entry of {@code ids} (from {@link #encodeIds}), number {@code ref}, at {@code at}. */
  static void encodeIds(int ref, byte[] ids, ByteBuffer out, int at) {
    out.put(at, IDS);
    out.putInt(at + 1, ref);
    out.put(at + IDS_HEADER_BYTES, ids);
  }

  /**
   * Writes {@code e}'s event entry, its ids being those of the ids entry number {@code ref} in the
   * same segment, into {@code out} at {@code at}; returns its length: {@value #EVENT_BYTES} bytes,
   * or {@value #EVENT_MAX_BYTES} when a token count does not fit an int.
   */
  static int encodeEvent(UsageEvent e, int ref, ByteBuffer out, int at) {
    TokenUsage t = e.tokens();
    long input = t.inputTokens();
    long cached = t.cachedInputTokens();
    long output = t.outputTokens();
    boolean wide = (input | cached | output) >>> 31 != 0;
    out.put(at, EVENT);
    out.putLong(at + 1, e.requestId().getMostSignificantBits());
    out.putLong(at + 9, e.requestId().getLeastSignificantBits());
    out.putInt(at + 17, ref);
    out.putLong(at + 21, e.epochMillis());
    out.putShort(at + 29, (short) e.status());
    out.put(at + 31, (byte) e.outcome().ordinal());
    out.put(at + 32, (byte) ((t.estimated() ? 1 : 0) | (e.test() ? 2 : 0) | (wide ? WIDE : 0)));
    if (!wide) {
      out.putInt(at + 33, (int) input);
      out.putInt(at + 37, (int) cached);
      out.putInt(at + 41, (int) output);
      return EVENT_BYTES;
    }
    out.putLong(at + 33, input);
    out.putLong(at + 41, cached);
    out.putLong(at + 49, output);
    return EVENT_MAX_BYTES;
  }

  /**
   * Reads one entry of a segment whose earlier ids entries are {@code idsByRef}: its event, or null
   * for an ids entry, which it adds to {@code idsByRef}. Throws on malformed input (a CRC match
   * makes that a bug, not a tear).
   */
  static UsageEvent decode(ByteBuffer in, List<String[]> idsByRef) {
    byte kind = in.get();
    switch (kind) {
      case V1_EVENT: {
        UUID requestId = new UUID(in.getLong(), in.getLong());
        String[] ids = getIds(in);
        long epochMillis = in.getLong();
        int status = in.getShort();
        UsageEvent.Outcome outcome = OUTCOMES[in.get()];
        long input = in.getLong();
        long cached = in.getLong();
        long output = in.getLong();
        return event(requestId, ids, epochMillis, status, outcome, input, cached, output, in.get());
      }
      case IDS: {
        int ref = in.getInt();
        if (ref != idsByRef.size()) {
          throw new IllegalStateException("journal ids entry " + ref + " after " + idsByRef.size());
        }
        idsByRef.add(getIds(in));
        return null;
      }
      case EVENT: {
        UUID requestId = new UUID(in.getLong(), in.getLong());
        int ref = in.getInt();
        if (ref < 0 || ref >= idsByRef.size()) {
          throw new IllegalStateException("journal event names ids entry " + ref + " of " + idsByRef.size());
        }
        long epochMillis = in.getLong();
        int status = in.getShort();
        UsageEvent.Outcome outcome = OUTCOMES[in.get()];
        byte flags = in.get();
        boolean wide = (flags & WIDE) != 0;
        long input = wide ? in.getLong() : in.getInt();
        long cached = wide ? in.getLong() : in.getInt();
        long output = wide ? in.getLong() : in.getInt();
        return event(requestId, idsByRef.get(ref), epochMillis, status, outcome, input, cached,
            output, flags);
      }
      default:
        throw new IllegalStateException("unknown journal entry version " + kind);
    }
  }

  private static UsageEvent event(UUID requestId, String[] ids, long epochMillis, int status,
      UsageEvent.Outcome outcome, long input, long cached, long output, byte flags) {
    return new UsageEvent(requestId, ids[0], ids[1], ids[2], ids[3], ids[4], epochMillis, status,
        outcome, new TokenUsage(input, cached, output, (flags & 1) != 0), (flags & 2) != 0);
  }

  private static String[] getIds(ByteBuffer in) {
    String[] ids = new String[ID_COUNT];
    for (int i = 0; i < ID_COUNT; i++) {
      ids[i] = getString(in);
    }
    return ids;
  }

  private static String getString(ByteBuffer in) {
    int len = in.getShort();
    if (len < 0) {
      return null;
    }
    byte[] bytes = new byte[len];
    in.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
