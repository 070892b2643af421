package io.tollgate.metering.journal;

import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * The compact binary form of one {@link UsageEvent} in a journal entry (~100 bytes; a JSON line
 * would be ~3x and cost a Jackson pass per call on the event loop). Version 1 layout: version
 * byte, request id (2 longs), subscription, SKU, product, merchant and buyer ids (short length or
 * -1 for null, then UTF-8), end time, status (short), outcome (byte), input, cached and output
 * tokens (longs), flags (bit 0 estimated, bit 1 test).
 *
 * <p>The ids are encoded apart ({@link #encodeIds}), once per cell by the aggregator's {@link
 * EncodedIds}; {@link #encode} writes the fixed fields and copies those bytes straight into the
 * journal's mapping with absolute puts: no allocation, no {@code String} and no intermediate
 * array. (While the ids were encoded char by char per event, an array and one bulk copy beat
 * puts into the mapping, ~55 against ~80 ns; with the ids ready, the puts save that copy: ~50
 * against ~60 ns of CPU per append.)
 */
final class EventCodec {

  static final byte VERSION = 1;
  private static final UsageEvent.Outcome[] OUTCOMES = UsageEvent.Outcome.values();
  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  /** Version, request id, end time, status, outcome, three token counts, flags. */
  static final int FIXED_BYTES = 1 + 16 + 8 + 2 + 1 + 3 * 8 + 1;
  private static final int IDS = 5;
  /** The longest payload {@link #encode} writes: every id at the longest it accepts. */
  static final int MAX_BYTES = FIXED_BYTES + IDS * (2 + Short.MAX_VALUE);

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

  /**
   * Writes {@code e} with its ids {@code ids} (from {@link #encodeIds} of an event with the same
   * ids) into {@code out} at {@code at}, with absolute puts, in the layout {@link #decode} reads:
   * {@code FIXED_BYTES + ids.length} bytes.
   */
  static void encode(UsageEvent e, byte[] ids, ByteBuffer out, int at) {
    out.put(at, VERSION);
    out.putLong(at + 1, e.requestId().getMostSignificantBits());
    out.putLong(at + 9, e.requestId().getLeastSignificantBits());
    out.put(at + 17, ids);
    int p = at + 17 + ids.length;
    out.putLong(p, e.epochMillis());
    out.putShort(p + 8, (short) e.status());
    out.put(p + 10, (byte) e.outcome().ordinal());
    TokenUsage t = e.tokens();
    out.putLong(p + 11, t.inputTokens());
    out.putLong(p + 19, t.cachedInputTokens());
    out.putLong(p + 27, t.outputTokens());
    out.put(p + 35, (byte) ((t.estimated() ? 1 : 0) | (e.test() ? 2 : 0)));
  }

  /** Reads one event; throws on malformed input (a CRC match makes that a bug, not a tear). */
  static UsageEvent decode(ByteBuffer in) {
    byte version = in.get();
    if (version != VERSION) {
      throw new IllegalStateException("unknown journal entry version " + version);
    }
    UUID requestId = new UUID(in.getLong(), in.getLong());
    String sub = getString(in);
    String sku = getString(in);
    String product = getString(in);
    String merchant = getString(in);
    String buyer = getString(in);
    long epochMillis = in.getLong();
    int status = in.getShort();
    UsageEvent.Outcome outcome = OUTCOMES[in.get()];
    long input = in.getLong();
    long cached = in.getLong();
    long output = in.getLong();
    byte flags = in.get();
    return new UsageEvent(requestId, sub, sku, product, merchant, buyer, epochMillis, status,
        outcome, new TokenUsage(input, cached, output, (flags & 1) != 0), (flags & 2) != 0);
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
