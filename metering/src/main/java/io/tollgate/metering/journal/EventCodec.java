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
 * <p>Encoding writes into a byte array the caller reuses (then copies into the journal's mapping
 * in one bulk put) and allocates nothing for ASCII ids, which are all the ids tollgate issues; any
 * other id goes through {@link String#getBytes}, one array per such id. Encoding with a {@code
 * ByteBuffer}'s puts straight into the mapping measured slower: ~80 ns of CPU per event against
 * ~55 ns for the array and its copy.
 */
final class EventCodec {

  static final byte VERSION = 1;
  private static final UsageEvent.Outcome[] OUTCOMES = UsageEvent.Outcome.values();
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  /** Version, request id, end time, status, outcome, three token counts, flags. */
  private static final int FIXED_BYTES = 1 + 16 + 8 + 2 + 1 + 3 * 8 + 1;
  private static final int IDS = 5;
  /** The longest payload {@link #encode} writes: every id at the longest it accepts. */
  static final int MAX_BYTES = FIXED_BYTES + IDS * (2 + Short.MAX_VALUE);

  private EventCodec() {}

  /**
   * At least what {@link #encode} writes for {@code e}, from the ids' lengths alone (UTF-8 takes
   * at most 3 bytes per UTF-16 char), so the caller can size its array.
   */
  static int maxBytes(UsageEvent e) {
    long chars = (long) length(e.subscriptionId()) + length(e.skuId()) + length(e.productId())
        + length(e.merchantId()) + length(e.buyerId());
    return (int) Math.min(MAX_BYTES, FIXED_BYTES + IDS * 2 + 3 * chars);
  }

  private static int length(String s) {
    return s == null ? 0 : s.length();
  }

  /**
   * Writes {@code e} at the start of {@code out}, at least {@link #maxBytes} long, in the layout
   * {@link #decode} reads (big-endian, as a {@code ByteBuffer}); returns its length. Throws {@link
   * IllegalArgumentException} for an id longer than 32767 bytes.
   */
  static int encode(UsageEvent e, byte[] out) {
    out[0] = VERSION;
    LONG.set(out, 1, e.requestId().getMostSignificantBits());
    LONG.set(out, 9, e.requestId().getLeastSignificantBits());
    int p = putString(out, 17, e.subscriptionId());
    p = putString(out, p, e.skuId());
    p = putString(out, p, e.productId());
    p = putString(out, p, e.merchantId());
    p = putString(out, p, e.buyerId());
    LONG.set(out, p, e.epochMillis());
    SHORT.set(out, p + 8, (short) e.status());
    out[p + 10] = (byte) e.outcome().ordinal();
    TokenUsage t = e.tokens();
    LONG.set(out, p + 11, t.inputTokens());
    LONG.set(out, p + 19, t.cachedInputTokens());
    LONG.set(out, p + 27, t.outputTokens());
    out[p + 35] = (byte) ((t.estimated() ? 1 : 0) | (e.test() ? 2 : 0));
    return p + 36;
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

  /** Writes {@code s} at {@code at} as its length (-1 for null) and UTF-8; returns the end. */
  private static int putString(byte[] out, int at, String s) {
    if (s == null) {
      SHORT.set(out, at, (short) -1);
      return at + 2;
    }
    int n = s.length();
    if (n <= Short.MAX_VALUE && putAscii(out, at + 2, s)) {
      SHORT.set(out, at, (short) n);
      return at + 2 + n;
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > Short.MAX_VALUE) {
      throw new IllegalArgumentException("id longer than 32767 bytes");
    }
    SHORT.set(out, at, (short) bytes.length);
    System.arraycopy(bytes, 0, out, at + 2, bytes.length);
    return at + 2 + bytes.length;
  }

  /**
   * Writes an all-ASCII {@code s} (its UTF-8 form is its chars) at {@code at}; returns false at
   * the first other char, leaving what it wrote for the caller's UTF-8 form to overwrite.
   */
  private static boolean putAscii(byte[] out, int at, String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        return false;
      }
      out[at + i] = (byte) c;
    }
    return true;
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
