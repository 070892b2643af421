package io.tollgate.gateway.upstream;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Objects;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The {@code aksk} upstream credential: a fresh HS256 JWT per request, sent as {@code
 * Authorization: Bearer <jwt>}.
 *
 * <p>Wire format, fixed by DESIGN.md and the Zhipu/BigModel-style AK/SK scheme it mirrors:
 *
 * <ul>
 *   <li>header, byte for byte: {@code {"alg":"HS256","sign_type":"SIGN"}}
 *   <li>claims: {@code {"api_key":<access key>,"exp":<ms>,"timestamp":<ms>}} — both {@code
 *       timestamp} and {@code exp} are epoch <b>milliseconds</b> (not the RFC 7519 seconds), and
 *       {@code exp = timestamp + 5 minutes}, as the reference implementation does
 *   <li>base64url without padding; signature HMAC-SHA256 over {@code header.claims} with the UTF-8
 *       bytes of the secret key
 * </ul>
 *
 * <p>{@link #bearer} runs per request on an event loop, so it uses no JWT library and no JSON
 * mapper: the header segment is a constant, the claims are written by hand into one array, and
 * each thread keeps its {@link Mac} initialised for the last secret it signed with (one product
 * per event loop is the common case, so re-keying is rare). {@link #verify} is the merchant's side, used by the mock
 * upstream and tests; it never throws on any input.
 */
public final class AkskJwt {

  /** How long a token stays valid after its {@code timestamp}: 5 minutes, in ms. */
  public static final long TTL_MILLIS = 5 * 60 * 1000L;

  static final String HEADER_JSON = "{\"alg\":\"HS256\",\"sign_type\":\"SIGN\"}";

  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();
  private static final String HEADER_SEGMENT =
      B64.encodeToString(HEADER_JSON.getBytes(StandardCharsets.UTF_8));
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ThreadLocal<Signer> SIGNERS = ThreadLocal.withInitial(Signer::new);
  private static final byte[] BEARER = "Bearer ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] HEADER_SEGMENT_BYTES = HEADER_SEGMENT.getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TIMESTAMP = ",\"timestamp\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] B64_URL =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".getBytes(StandardCharsets.US_ASCII);
  private static final int SIGNATURE_BYTES = 32;

  private AkskJwt() {}

  /**
   * A JWT for {@code accessKey}, issued at {@code nowMillis} and expiring {@link #TTL_MILLIS}
   * later.
   *
   * @throws IllegalArgumentException if either key is null or empty
   */
  public static String sign(String accessKey, String secretKey, long nowMillis) {
    return bearer(accessKey, secretKey, nowMillis).toString(BEARER.length);
  }

  /**
   * {@code Bearer <jwt>}, the {@code Authorization} value of one upstream request, as {@link
   * #sign} makes the token: built in one array, with the access key's claim prefix, the HMAC and a
   * scratch buffer kept per thread, so a call allocates the value it sends and nothing else.
   *
   * @throws IllegalArgumentException if either key is null or empty
   */
  public static AsciiString bearer(String accessKey, String secretKey, long nowMillis) {
    if (accessKey == null || accessKey.isEmpty() || secretKey == null || secretKey.isEmpty()) {
      throw new IllegalArgumentException("aksk signing needs an access key and a secret key");
    }
    Signer signer = SIGNERS.get();
    byte[] claims = signer.claims(accessKey, nowMillis);
    int claimsLength = signer.claimsLength;
    int claimsB64 = base64Length(claimsLength);
    int headerEnd = BEARER.length + HEADER_SEGMENT_BYTES.length;
    int signed = headerEnd + 1 + claimsB64; // "Bearer " + header "." claims
    byte[] out = new byte[signed + 1 + base64Length(SIGNATURE_BYTES)];
    System.arraycopy(BEARER, 0, out, 0, BEARER.length);
    System.arraycopy(HEADER_SEGMENT_BYTES, 0, out, BEARER.length, HEADER_SEGMENT_BYTES.length);
    out[headerEnd] = '.';
    base64Url(claims, claimsLength, out, headerEnd + 1);
    Mac mac = signer.mac(secretKey);
    mac.update(out, BEARER.length, signed - BEARER.length);
    try {
      mac.doFinal(signer.signature, 0);
    } catch (javax.crypto.ShortBufferException e) {
      throw new IllegalStateException("an HmacSHA256 signature is 32 bytes", e);
    }
    out[signed] = '.';
    base64Url(signer.signature, SIGNATURE_BYTES, out, signed + 1);
    return new AsciiString(out, false);
  }

  private static int base64Length(int bytes) {
    return (bytes * 4 + 2) / 3;
  }

  /** Base64url without padding of {@code length} bytes of {@code src}, into {@code dst} at {@code at}. */
  private static void base64Url(byte[] src, int length, byte[] dst, int at) {
    int i = 0;
    for (; i + 3 <= length; i += 3) {
      int v = (src[i] & 0xff) << 16 | (src[i + 1] & 0xff) << 8 | (src[i + 2] & 0xff);
      dst[at++] = B64_URL[v >>> 18];
      dst[at++] = B64_URL[(v >>> 12) & 63];
      dst[at++] = B64_URL[(v >>> 6) & 63];
      dst[at++] = B64_URL[v & 63];
    }
    if (length - i == 1) {
      int v = (src[i] & 0xff) << 16;
      dst[at++] = B64_URL[v >>> 18];
      dst[at] = B64_URL[(v >>> 12) & 63];
    } else if (length - i == 2) {
      int v = (src[i] & 0xff) << 16 | (src[i + 1] & 0xff) << 8;
      dst[at++] = B64_URL[v >>> 18];
      dst[at++] = B64_URL[(v >>> 12) & 63];
      dst[at] = B64_URL[(v >>> 6) & 63];
    }
  }

  /**
   * Checks {@code jwt} as the merchant would: header ({@code alg} HS256, {@code sign_type} SIGN),
   * a known {@code api_key}, the signature (compared in constant time) and {@code exp} (in ms,
   * strictly after {@code nowMillis}). Never throws.
   *
   * @param secretForAccessKey the merchant's secret for an access key, or null if unknown
   */
  public static Verdict verify(
      String jwt, Function<String, String> secretForAccessKey, long nowMillis) {
    Objects.requireNonNull(secretForAccessKey, "secretForAccessKey");
    if (jwt == null || jwt.isEmpty()) {
      return Verdict.MISSING;
    }
    int dot1 = jwt.indexOf('.');
    int dot2 = dot1 < 0 ? -1 : jwt.indexOf('.', dot1 + 1);
    if (dot1 < 0 || dot2 < 0 || jwt.indexOf('.', dot2 + 1) >= 0) {
      return Verdict.MALFORMED;
    }
    try {
      JsonNode header = JSON.readTree(B64D.decode(jwt.substring(0, dot1)));
      if (header == null
          || !"HS256".equals(header.path("alg").asText(null))
          || !"SIGN".equals(header.path("sign_type").asText(null))) {
        return Verdict.BAD_HEADER;
      }
      JsonNode claims = JSON.readTree(B64D.decode(jwt.substring(dot1 + 1, dot2)));
      if (claims == null || !claims.isObject()) {
        return Verdict.MALFORMED;
      }
      JsonNode apiKey = claims.get("api_key");
      JsonNode exp = claims.get("exp");
      if (apiKey == null || !apiKey.isTextual() || exp == null || !exp.canConvertToLong()) {
        return Verdict.MISSING_CLAIMS;
      }
      String secret = secretForAccessKey.apply(apiKey.asText());
      if (secret == null || secret.isEmpty()) {
        return Verdict.UNKNOWN_KEY;
      }
      byte[] expected =
          SIGNERS.get()
              .mac(secret)
              .doFinal(jwt.substring(0, dot2).getBytes(StandardCharsets.US_ASCII));
      byte[] actual = B64D.decode(jwt.substring(dot2 + 1));
      if (!MessageDigest.isEqual(expected, actual)) {
        return Verdict.BAD_SIGNATURE;
      }
      if (exp.asLong() <= nowMillis) {
        return Verdict.EXPIRED;
      }
      return new Valid(apiKey.asText());
    } catch (IllegalArgumentException | java.io.IOException e) {
      // bad base64, bad JSON, or characters outside US-ASCII: all just "not a token of ours"
      return Verdict.MALFORMED;
    }
  }

  /** The outcome of {@link #verify}: {@link Valid} or {@link Invalid}. */
  public sealed interface Verdict permits Valid, Invalid {
    Invalid MISSING = new Invalid("missing token");
    Invalid MALFORMED = new Invalid("malformed token");
    Invalid BAD_HEADER = new Invalid("unsupported header");
    Invalid MISSING_CLAIMS = new Invalid("missing api_key or exp claim");
    Invalid UNKNOWN_KEY = new Invalid("unknown access key");
    Invalid BAD_SIGNATURE = new Invalid("bad signature");
    Invalid EXPIRED = new Invalid("token expired");

    default boolean isValid() {
      return this instanceof Valid;
    }
  }

  /** A token signed with the access key's secret and not yet expired. */
  public record Valid(String accessKey) implements Verdict {
    public Valid {
      Objects.requireNonNull(accessKey, "accessKey");
    }
  }

  /** A rejected token; {@code reason} is safe to show (it never contains the token or a key). */
  public record Invalid(String reason) implements Verdict {
    public Invalid {
      Objects.requireNonNull(reason, "reason");
    }
  }

  private static void appendJsonString(StringBuilder sb, String s) {
    sb.append('"');
    JsonStringEncoder.getInstance().quoteAsString(s, sb);
    sb.append('"');
  }


  /**
   * A thread's signing state: its HMAC, keyed with the secret it last used, the claims prefix of
   * the access key it last used, and scratch space. Confined to its thread.
   */
  private static final class Signer {
    private Mac mac;
    private String secret;
    private String accessKey;
    private byte[] claims = new byte[128];
    private int prefixLength;
    int claimsLength;
    final byte[] signature = new byte[SIGNATURE_BYTES];

    Mac mac(String secretKey) {
      try {
        if (mac == null) {
          mac = Mac.getInstance("HmacSHA256");
        }
        if (!secretKey.equals(secret)) {
          mac.init(new SecretKeySpec(secretKey.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
          secret = secretKey;
        }
        return mac;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
      }
    }

    /** {@code {"api_key":<key>,"exp":<ms>,"timestamp":<ms>}} in the scratch array ({@link #claimsLength} bytes). */
    byte[] claims(String key, long nowMillis) {
      if (!key.equals(accessKey)) {
        StringBuilder prefix = new StringBuilder(key.length() + 24).append("{\"api_key\":");
        appendJsonString(prefix, key);
        byte[] bytes = prefix.append(",\"exp\":").toString().getBytes(StandardCharsets.UTF_8);
        claims = new byte[bytes.length + 64];
        System.arraycopy(bytes, 0, claims, 0, bytes.length);
        prefixLength = bytes.length;
        accessKey = key;
      }
      int at = writeDigits(nowMillis + TTL_MILLIS, prefixLength);
      System.arraycopy(TIMESTAMP, 0, claims, at, TIMESTAMP.length);
      at = writeDigits(nowMillis, at + TIMESTAMP.length);
      claims[at++] = '}';
      claimsLength = at;
      return claims;
    }

    /** The decimal digits of a non-negative {@code value} at {@code at}; returns where they end. */
    private int writeDigits(long value, int at) {
      if (value < 0) {
        throw new IllegalArgumentException("a time before 1970: " + value);
      }
      int digits = 1;
      for (long v = value / 10; v > 0; v /= 10) {
        digits++;
      }
      for (int i = at + digits - 1; i >= at; i--) {
        claims[i] = (byte) ('0' + value % 10);
        value /= 10;
      }
      return at + digits;
    }
  }
}
