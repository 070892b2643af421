package io.tollgate.billing;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;

/**
 * Deterministic record ids: a function of what the record is, never of when or where it was
 * written, so an export re-run after a crash, or by a second exporter, writes the same ids, and
 * sinks that upsert by id hold no duplicates.
 *
 * <p>{@code ur_} + 26 base-32 characters of the SHA-256 of the record's identity (130 bits):
 * usage and adjustments from (subscription, SKU, window start, revision); purchases from
 * (subscription, period start).
 */
public final class RecordIds {

  private static final char[] BASE32 = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();

  private RecordIds() {}

  /** The id of the usage record (revision 0) or an adjustment (revision 1, 2, ...). */
  public static String usage(String subscriptionId, String skuId, Instant windowStart, int revision) {
    return id("usage\n" + subscriptionId + "\n" + skuId + "\n" + windowStart.toEpochMilli() + "\n" + revision);
  }

  /** The id of the purchase (or renewal) of a subscription period starting at {@code periodStart}. */
  public static String purchase(String subscriptionId, Instant periodStart) {
    return id("purchase\n" + subscriptionId + "\n" + periodStart.toEpochMilli());
  }

  private static String id(String identity) {
    byte[] h;
    try {
      h = MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    StringBuilder sb = new StringBuilder("ur_");
    int bits = 0;
    int buffer = 0;
    for (int i = 0; sb.length() < 3 + 26; ) {
      if (bits < 5) {
        buffer = (buffer << 8) | (h[i++] & 0xff);
        bits += 8;
      }
      sb.append(BASE32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
    return sb.toString();
  }
}
