package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Header rules of the two hops: what never crosses tollgate, and what it adds. */
final class Headers {

  static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
  static final AsciiString X_CUSTOMER_ID = AsciiString.cached("x-customer-id");
  static final AsciiString X_CUSTOMER_NAME = AsciiString.cached("x-customer-name");
  static final AsciiString X_API_KEY = AsciiString.cached("x-api-key");
  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");

  /**
   * The identity and credential headers tollgate sets or strips, in lower case with {@code -}: a
   * header whose name reads as one of these once {@code _} is read as {@code -} is dropped.
   */
  private static final List<AsciiString> GUARDED = List.of(HttpHeaderNames.AUTHORIZATION,
      HttpHeaderNames.PROXY_AUTHORIZATION, X_API_KEY, X_REQUEST_ID, X_CUSTOMER_ID, X_CUSTOMER_NAME);

  private Headers() {}

  /**
   * Removes the per-connection headers (RFC 9110 7.6.1) except {@code Transfer-Encoding}, which
   * Netty's encoder reads to frame the body it forwards.
   */
  static void stripHopByHop(HttpHeaders h) {
    String connection = h.get(HttpHeaderNames.CONNECTION);
    if (connection != null) {
      for (String token : connection.split(",")) {
        String name = token.trim();
        if (!name.isEmpty() && !HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(name)) {
          h.remove(name);
        }
      }
      h.remove(HttpHeaderNames.CONNECTION);
    }
    h.remove(KEEP_ALIVE);
    h.remove(PROXY_CONNECTION);
    h.remove(HttpHeaderNames.PROXY_AUTHENTICATE);
    h.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
    h.remove(HttpHeaderNames.TE);
    h.remove(HttpHeaderNames.TRAILER);
    h.remove(HttpHeaderNames.UPGRADE);
  }

  /**
   * The upstream's answer as the buyer may see it: without per-connection headers ({@link
   * #stripHopByHop}), and without the headers that describe the merchant's own account with its
   * provider: its rate limits ({@code x-ratelimit-*}, {@code anthropic-ratelimit-*}, which would
   * also contradict the subscription's own that tollgate adds) and its organisation or project
   * ({@code openai-organization}, {@code openai-project}, {@code anthropic-organization-id}). Names
   * are only compared, so an answer without such headers costs a scan of its names.
   */
  static void sanitizeResponse(HttpHeaders h) {
    stripHopByHop(h);
    List<CharSequence> account = null;
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
      CharSequence name = it.next().getKey();
      if (isAccountHeader(name)) {
        if (account == null) {
          account = new ArrayList<>(8);
        }
        account.add(name);
      }
    }
    if (account != null) {
      account.forEach(h::remove);
    }
  }

  private static final AsciiString X_RATELIMIT = AsciiString.cached("x-ratelimit-");
  private static final AsciiString ANTHROPIC_RATELIMIT = AsciiString.cached("anthropic-ratelimit-");
  /** An array, not a list: looked at for every header of every answer, with no iterator. */
  private static final AsciiString[] ACCOUNT_HEADERS = {AsciiString.cached("openai-organization"),
      AsciiString.cached("openai-project"), AsciiString.cached("anthropic-organization-id")};

  static boolean isAccountHeader(CharSequence name) {
    if (AsciiString.regionMatches(name, true, 0, X_RATELIMIT, 0, X_RATELIMIT.length())
        || AsciiString.regionMatches(name, true, 0, ANTHROPIC_RATELIMIT, 0, ANTHROPIC_RATELIMIT.length())) {
      return true;
    }
    for (int i = 0; i < ACCOUNT_HEADERS.length; i++) {
      if (AsciiString.contentEqualsIgnoreCase(name, ACCOUNT_HEADERS[i])) {
        return true;
      }
    }
    return false;
  }

  /**
   * Removes what the buyer sent that must not reach the upstream: its tollgate key, hop-by-hop
   * headers, framing (tollgate re-frames the body), and any identity headers the buyer might try to
   * forge. {@code Accept-Encoding} is dropped so the upstream answers uncompressed and the usage
   * in the body stays readable.
   */
  static void sanitizeRequest(HttpHeaders h) {
    stripHopByHop(h);
    h.remove(HttpHeaderNames.AUTHORIZATION);
    h.remove(X_API_KEY);
    h.remove(HttpHeaderNames.HOST);
    h.remove(HttpHeaderNames.CONTENT_LENGTH);
    h.remove(HttpHeaderNames.TRANSFER_ENCODING);
    h.remove(HttpHeaderNames.EXPECT);
    h.remove(HttpHeaderNames.ACCEPT_ENCODING);
    h.remove(X_REQUEST_ID);
    h.remove(X_CUSTOMER_ID);
    h.remove(X_CUSTOMER_NAME);
  }

  /**
   * Drops the headers that spell an identity or credential header with underscores ({@code
   * X_Customer_Id}, {@code X_Api_Key}, or the name of one of the endpoint's static credential
   * headers): CGI, WSGI, PHP and some proxies read {@code _} as {@code -}, so the merchant could
   * take the buyer's forgery for what tollgate set. Only names with an {@code _} are looked at, so
   * a request without one costs a scan of its header names and nothing else.
   */
  static void dropUnderscoreSpellings(HttpHeaders h, Map<String, String> endpointHeaders) {
    List<CharSequence> forged = null;
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
      CharSequence name = it.next().getKey();
      if (AsciiString.indexOf(name, '_', 0) >= 0 && isGuarded(name, endpointHeaders)) {
        if (forged == null) {
          forged = new ArrayList<>(2);
        }
        forged.add(name);
      }
    }
    if (forged != null) {
      forged.forEach(h::remove);
    }
  }

  private static boolean isGuarded(CharSequence name, Map<String, String> endpointHeaders) {
    for (AsciiString guarded : GUARDED) {
      if (sameWithUnderscores(name, guarded)) {
        return true;
      }
    }
    for (String own : endpointHeaders.keySet()) {
      if (sameWithUnderscores(name, own)) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code name} equals {@code guarded}, ignoring case, with {@code _} read as {@code -}. */
  static boolean sameWithUnderscores(CharSequence name, CharSequence guarded) {
    if (name.length() != guarded.length()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char a = name.charAt(i);
      char b = guarded.charAt(i);
      a = a == '_' ? '-' : Character.toLowerCase(a);
      b = b == '_' ? '-' : Character.toLowerCase(b);
      if (a != b) {
        return false;
      }
    }
    return true;
  }

  /** The buyer's key from {@code Authorization: Bearer} or {@code x-api-key}; null if neither. */
  static String apiKey(HttpHeaders h) {
    return apiKey(h, null);
  }

  /**
   * The buyer's key, as {@link #apiKey(HttpHeaders)}; {@code known} itself when the key equals it
   * (compared in place, in time that depends on the lengths only): the key a kept-alive connection
   * sent before costs no substring of its header.
   */
  static String apiKey(HttpHeaders h, String known) {
    String auth = h.get(HttpHeaderNames.AUTHORIZATION);
    if (auth != null && auth.length() > 7 && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      int end = trimmedEnd(auth);
      int start = trimmedStart(auth, 7, end);
      if (start < end) {
        return key(auth, start, end, known);
      }
    }
    String key = h.get(X_API_KEY);
    if (key == null || key.isBlank()) {
      return null;
    }
    int end = trimmedEnd(key);
    return key(key, trimmedStart(key, 0, end), end, known);
  }

  /** What {@link String#trim()} keeps of {@code value} from {@code from}: its start ... */
  private static int trimmedStart(String value, int from, int end) {
    while (from < end && value.charAt(from) <= ' ') {
      from++;
    }
    return from;
  }

  /** ... and its end. */
  private static int trimmedEnd(String value) {
    int end = value.length();
    while (end > 0 && value.charAt(end - 1) <= ' ') {
      end--;
    }
    return end;
  }

  private static String key(String value, int start, int end, String known) {
    if (known != null && known.length() == end - start) {
      int diff = 0;
      for (int i = 0; i < known.length(); i++) {
        diff |= known.charAt(i) ^ value.charAt(start + i);
      }
      if (diff == 0) {
        return known;
      }
    }
    return value.substring(start, end);
  }

  /**
   * The {@code Content-Length} value of a forwarded body of {@code length} bytes: {@code declared},
   * the value the buyer sent, when it is exactly that number in plain decimal (as a new value would
   * be written), which saves a string per call; else a new value. A body tollgate rewrote, or
   * one that came chunked, gets the new value, from the thread's {@link HeadStrings} (the same
   * string while the same length recurs).
   */
  static String contentLength(String declared, int length) {
    if (declared != null && !declared.isEmpty() && declared.length() <= 10
        && (declared.charAt(0) != '0' || declared.length() == 1)) {
      long n = 0;
      for (int i = 0; i < declared.length(); i++) {
        char c = declared.charAt(i);
        if (c < '0' || c > '9') {
          return HeadStrings.forThisThread().decimal(length);
        }
        n = n * 10 + (c - '0');
      }
      if (n == length) {
        return declared;
      }
    }
    return HeadStrings.forThisThread().decimal(length);
  }

  /**
   * A header-safe form of a free-text value: printable ASCII passes as is; anything else is
   * percent-encoded as UTF-8 (so a CR/LF in a buyer's name cannot split a header).
   */
  static String headerSafe(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '%') {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
      }
    }
    return value;
  }
}
