package io.tollgate.gateway.upstream;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * <p>{@link #sign} runs per request on an event loop, so it uses no JWT library and no JSON
 * mapper: the header segment is a constant, the claims are written by hand, and each thread keeps
 * its {@link Mac} initialised for the last secret it signed with (one product per event loop is
 * the common case, so re-keying is rare). {@link #verify} is the merchant's side, used by the mock
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
  private static final ThreadLocal<KeyedMac> MACS = ThreadLocal.withInitial(KeyedMac::new);

  private AkskJwt() {}

  /**
   * A JWT for {@code accessKey}, issued at {@code nowMillis} and expiring {@link #TTL_MILLIS}
   * later.
   *
   * @throws IllegalArgumentException if either key is null or empty
   */
  public static String sign(String accessKey, String secretKey, long nowMillis) {
    if (accessKey == null || accessKey.isEmpty() || secretKey == null || secretKey.isEmpty()) {
      throw new IllegalArgumentException("aksk signing needs an access key and a secret key");
    }
    StringBuilder claims = new StringBuilder(accessKey.length() + 64).append("{\"api_key\":");
    appendJsonString(claims, accessKey);
    claims
        .append(",\"exp\":")
        .append(nowMillis + TTL_MILLIS)
        .append(",\"timestamp\":")
        .append(nowMillis)
        .append('}');
    String signingInput =
        HEADER_SEGMENT
            + '.'
            + B64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8));
    byte[] sig = MACS.get().mac(secretKey).doFinal(signingInput.getBytes(StandardCharsets.US_ASCII));
    return signingInput + '.' + B64.encodeToString(sig);
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
          MACS.get()
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


  /** A thread's HMAC, keyed with the secret it last used. Confined to its thread. */
  private static final class KeyedMac {
    private Mac mac;
    private String secret;

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
  }
}
