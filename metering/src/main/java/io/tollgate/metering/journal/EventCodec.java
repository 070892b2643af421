package io.tollgate.metering.journal;

import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * The compact binary form of one {@link UsageEvent} in a journal entry (~100 bytes; a JSON line
 * would be ~3x and cost a Jackson pass per call on the event loop). Version 1 layout: version
 * byte, request id (2 longs), subscription, SKU, product, merchant and buyer ids (short length or
 * -1 for null, then UTF-8), end time, status (short), outcome (byte), input, cached and output
 * tokens (longs), flags (bit 0 estimated, bit 1 test).
 */
final class EventCodec {

  static final byte VERSION = 1;
  private static final UsageEvent.Outcome[] OUTCOMES = UsageEvent.Outcome.values();

  private EventCodec() {}

  /** Writes {@code e} at the buffer's position; returns false when it does not fit. */
  static boolean encode(UsageEvent e, ByteBuffer out) {
    try {
      out.put(VERSION);
      out.putLong(e.requestId().getMostSignificantBits());
      out.putLong(e.requestId().getLeastSignificantBits());
      putString(out, e.subscriptionId());
      putString(out, e.skuId());
      putString(out, e.productId());
      putString(out, e.merchantId());
      putString(out, e.buyerId());
      out.putLong(e.epochMillis());
      out.putShort((short) e.status());
      out.put((byte) e.outcome().ordinal());
      TokenUsage t = e.tokens();
      out.putLong(t.inputTokens());
      out.putLong(t.cachedInputTokens());
      out.putLong(t.outputTokens());
      out.put((byte) ((t.estimated() ? 1 : 0) | (e.test() ? 2 : 0)));
      return true;
    } catch (java.nio.BufferOverflowException overflow) {
      return false;
    }
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

  private static void putString(ByteBuffer out, String s) {
    if (s == null) {
      out.putShort((short) -1);
      return;
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > Short.MAX_VALUE) {
      throw new IllegalArgumentException("id longer than 32767 bytes");
    }
    out.putShort((short) bytes.length);
    out.put(bytes);
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
