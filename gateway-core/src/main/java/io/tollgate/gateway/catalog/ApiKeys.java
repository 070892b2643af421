package io.tollgate.gateway.catalog;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Secrets and identifiers of the catalog.
 *
 * <p>Buyer keys ({@code tg-}) and merchant tokens ({@code tgm-}) carry 256 random bits from
 * {@link SecureRandom}, base64url without padding: far beyond guessing, so a plain SHA-256 (not a
 * slow password hash) is enough to store them, and the lookup by hash stays one index probe per
 * cache miss. The plain key is shown once to its owner and never stored or logged.
 */
public final class ApiKeys {

  /** Prefix of a buyer's API key. */
  public static final String BUYER_PREFIX = "tg-";

  /** Prefix of a merchant's admin token. */
  public static final String MERCHANT_PREFIX = "tgm-";

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();
  private static final char[] ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz".toCharArray();

  private ApiKeys() {}

  /** A new buyer key: {@code tg-} and 43 base64url characters (256 bits). */
  public static String newBuyerKey() {
    return BUYER_PREFIX + randomBase64Url(32);
  }

  /** A new merchant token: {@code tgm-} and 43 base64url characters (256 bits). */
  public static String newMerchantToken() {
    return MERCHANT_PREFIX + randomBase64Url(32);
  }

  /**
   * A new object id such as {@code prod_3k9...}: the prefix, an underscore and 20 characters of
   * [0-9a-z] (about 103 bits). Ids are not secrets; they are random so that they reveal nothing
   * about how many objects exist.
   */
  public static String newId(String prefix) {
    var sb = new StringBuilder(prefix.length() + 21).append(prefix).append('_');
    for (int i = 0; i < 20; i++) {
      sb.append(ID_ALPHABET[RANDOM.nextInt(ID_ALPHABET.length)]);
    }
    return sb.toString();
  }

  /** The lower-case hex SHA-256 of the UTF-8 bytes of {@code s}: what the catalog stores. */
  public static String sha256Hex(String s) {
    return HexFormat.of().formatHex(sha256(s));
  }

  /**
   * Compares two secrets in time that does not depend on where they differ (both are hashed
   * first, so the length of the expected secret does not leak either).
   */
  public static boolean constantTimeEquals(String expected, String given) {
    if (expected == null || given == null) {
      return false;
    }
    return MessageDigest.isEqual(sha256(expected), sha256(given));
  }

  /**
   * One digest per thread: the buyer port hashes every call's key on its event loop, and {@code
   * MessageDigest.getInstance} (a provider lookup per call) showed in its profile.
   */
  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JVM has SHA-256", e);
    }
  });

  private static byte[] sha256(String s) {
    // digest() resets the instance, so the next call on this thread starts clean.
    return SHA256.get().digest(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String randomBase64Url(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return BASE64URL.encodeToString(b);
  }
}
