package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.quota.RateStatus;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

/**
 * The headers tollgate adds to every answer of the buyer port: the call's request id ({@code
 * x-request-id}, and Anthropic's {@code request-id} on Anthropic-shaped answers), and, once the key
 * named an active subscription, its rate limits and package quota under the names the buyer's SDK
 * reads: {@code x-ratelimit-{limit,remaining,reset}-{requests,tokens}} (OpenAI's; custom products
 * get these too), or {@code anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}} with
 * the reset as an RFC 3339 instant; {@code x-tollgate-quota-remaining} for packages. A dimension
 * the SKU does not limit has no header. The limits are what this instance enforces (its share of
 * the SKU's with {@code metering.instances} > 1), from {@link CallMetering#rateStatus}; the quota
 * is a non-blocking estimate ({@link CallMetering#estimatedRemaining}).
 *
 * <p>Values are {@link AsciiString}s the encoder copies as bytes. Numbers and instants come from
 * small direct-mapped caches (a limit, a reset minute and a remainder that hovers are built once);
 * a miss builds the value and its slot, a few small objects. Caches are written racily: each slot
 * holds an immutable record, so a reader sees a whole entry or an older one, never a torn one.
 */
final class AnswerHeaders {

  static final AsciiString REQUEST_ID = AsciiString.cached("request-id");
  static final AsciiString QUOTA_REMAINING = AsciiString.cached("x-tollgate-quota-remaining");

  static final AsciiString OPENAI_LIMIT_REQUESTS = AsciiString.cached("x-ratelimit-limit-requests");
  static final AsciiString OPENAI_REMAINING_REQUESTS = AsciiString.cached("x-ratelimit-remaining-requests");
  static final AsciiString OPENAI_RESET_REQUESTS = AsciiString.cached("x-ratelimit-reset-requests");
  static final AsciiString OPENAI_LIMIT_TOKENS = AsciiString.cached("x-ratelimit-limit-tokens");
  static final AsciiString OPENAI_REMAINING_TOKENS = AsciiString.cached("x-ratelimit-remaining-tokens");
  static final AsciiString OPENAI_RESET_TOKENS = AsciiString.cached("x-ratelimit-reset-tokens");

  static final AsciiString ANTHROPIC_REQUESTS_LIMIT = AsciiString.cached("anthropic-ratelimit-requests-limit");
  static final AsciiString ANTHROPIC_REQUESTS_REMAINING = AsciiString.cached("anthropic-ratelimit-requests-remaining");
  static final AsciiString ANTHROPIC_REQUESTS_RESET = AsciiString.cached("anthropic-ratelimit-requests-reset");
  static final AsciiString ANTHROPIC_TOKENS_LIMIT = AsciiString.cached("anthropic-ratelimit-tokens-limit");
  static final AsciiString ANTHROPIC_TOKENS_REMAINING = AsciiString.cached("anthropic-ratelimit-tokens-remaining");
  static final AsciiString ANTHROPIC_TOKENS_RESET = AsciiString.cached("anthropic-ratelimit-tokens-reset");

  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** A cache entry: immutable, so a racy write publishes it whole (final fields). */
  private record Entry(long key, AsciiString text) {}

  private static final Entry[] NUMBERS = new Entry[512];
  /** By epoch second; two adjacent minute boundaries fall in different slots (60 = 4 mod 8). */
  private static final Entry[] INSTANTS = new Entry[8];
  /** OpenAI's durations of whole seconds up to the two minutes over which a rate window fades. */
  private static final AsciiString[] SECONDS = new AsciiString[121];

  static {
    for (int s = 0; s < SECONDS.length; s++) {
      SECONDS[s] = new AsciiString(s < 60 ? s + "s" : s / 60 + "m" + s % 60 + "s");
    }
  }

  private AnswerHeaders() {}

  /**
   * Sets the answer's tollgate headers.
   *
   * @param anthropic whether the answer is Anthropic's: {@code request-id} too, Anthropic's names
   * @param limitsOf the active subscription the key named, or null (no key, an unknown key, an
   *     inactive subscription): no rate-limit or quota header then
   */
  static void add(HttpHeaders h, AsciiString requestId, boolean anthropic, SubscriptionSnapshot limitsOf,
      CallMetering metering) {
    h.set(Headers.X_REQUEST_ID, requestId);
    if (anthropic) {
      h.set(REQUEST_ID, requestId);
    }
    if (limitsOf == null) {
      return;
    }
    RateStatus s = metering.rateStatus(limitsOf);
    if (s != null) {
      if (anthropic) {
        anthropicLimits(h, s);
      } else {
        openAiLimits(h, s);
      }
    }
    long quota = metering.estimatedRemaining(limitsOf);
    if (quota >= 0) {
      h.set(QUOTA_REMAINING, number(quota));
    }
  }

  private static void openAiLimits(HttpHeaders h, RateStatus s) {
    if (s.requestLimit() > 0) {
      h.set(OPENAI_LIMIT_REQUESTS, number(s.requestLimit()));
      h.set(OPENAI_REMAINING_REQUESTS, number(s.requestsRemaining()));
      h.set(OPENAI_RESET_REQUESTS, duration(s.requestsResetAtMillis() - s.atMillis()));
    }
    if (s.tokenLimit() > 0) {
      h.set(OPENAI_LIMIT_TOKENS, number(s.tokenLimit()));
      h.set(OPENAI_REMAINING_TOKENS, number(s.tokensRemaining()));
      h.set(OPENAI_RESET_TOKENS, duration(s.tokensResetAtMillis() - s.atMillis()));
    }
  }

  private static void anthropicLimits(HttpHeaders h, RateStatus s) {
    if (s.requestLimit() > 0) {
      h.set(ANTHROPIC_REQUESTS_LIMIT, number(s.requestLimit()));
      h.set(ANTHROPIC_REQUESTS_REMAINING, number(s.requestsRemaining()));
      h.set(ANTHROPIC_REQUESTS_RESET, rfc3339(s.requestsResetAtMillis()));
    }
    if (s.tokenLimit() > 0) {
      h.set(ANTHROPIC_TOKENS_LIMIT, number(s.tokenLimit()));
      h.set(ANTHROPIC_TOKENS_REMAINING, number(s.tokensRemaining()));
      h.set(ANTHROPIC_TOKENS_RESET, rfc3339(s.tokensResetAtMillis()));
    }
  }

  /** A request id's header value: its canonical UUID text, written as bytes (no String). */
  static AsciiString requestId(UUID id) {
    byte[] b = new byte[36];
    long msb = id.getMostSignificantBits();
    long lsb = id.getLeastSignificantBits();
    hex(b, 0, msb >>> 32, 8);
    b[8] = '-';
    hex(b, 9, msb >>> 16, 4);
    b[13] = '-';
    hex(b, 14, msb, 4);
    b[18] = '-';
    hex(b, 19, lsb >>> 48, 4);
    b[23] = '-';
    hex(b, 24, lsb, 12);
    return new AsciiString(b, /* copy= */ false);
  }

  private static void hex(byte[] b, int at, long v, int digits) {
    for (int i = at + digits - 1; i >= at; i--) {
      b[i] = HEX[(int) (v & 0xF)];
      v >>>= 4;
    }
  }

  /** A non-negative number's decimal text. */
  static AsciiString number(long n) {
    int slot = (int) (n & (NUMBERS.length - 1));
    Entry e = NUMBERS[slot];
    if (e != null && e.key() == n) {
      return e.text();
    }
    AsciiString text = decimal(n);
    NUMBERS[slot] = new Entry(n, text);
    return text;
  }

  /** {@code n}'s decimal digits written as bytes, with no string between (a remaining quota misses every call). */
  private static AsciiString decimal(long n) {
    if (n < 0) {
      return new AsciiString(Long.toString(n));
    }
    int digits = 1;
    for (long v = n; v >= 10; v /= 10) {
      digits++;
    }
    byte[] b = new byte[digits];
    for (int i = digits - 1; i >= 0; i--) {
      b[i] = (byte) ('0' + n % 10);
      n /= 10;
    }
    return new AsciiString(b, /* copy= */ false);
  }

  /**
   * A wait in OpenAI's duration format ({@code 250ms}, {@code 1s}, {@code 6m0s}): under a second
   * in milliseconds, otherwise rounded up to whole seconds (a client that waits that long finds
   * the window reset).
   */
  static AsciiString duration(long millis) {
    if (millis <= 0) {
      return SECONDS[0];
    }
    if (millis < 1000) {
      return new AsciiString(millis + "ms");
    }
    long s = (millis + 999) / 1000;
    if (s < SECONDS.length) {
      return SECONDS[(int) s];
    }
    long m = s / 60;
    return new AsciiString(m >= 60 ? m / 60 + "h" + m % 60 + "m" + s % 60 + "s" : m + "m" + s % 60 + "s");
  }

  /** An instant as RFC 3339 in UTC, rounded up to the second ({@code 2025-03-01T10:02:00Z}). */
  static AsciiString rfc3339(long epochMillis) {
    long second = Math.floorDiv(epochMillis + 999, 1000);
    int slot = (int) (second & (INSTANTS.length - 1));
    Entry e = INSTANTS[slot];
    if (e != null && e.key() == second) {
      return e.text();
    }
    AsciiString text = new AsciiString(DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(second)));
    INSTANTS[slot] = new Entry(second, text);
    return text;
  }
}
