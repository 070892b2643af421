package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** Header rules of the two hops: what never crosses tollgate, and what it adds. */
final class Headers {

  static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
  static final AsciiString X_CUSTOMER_ID = AsciiString.cached("x-customer-id");
  static final AsciiString X_CUSTOMER_NAME = AsciiString.cached("x-customer-name");
  static final AsciiString X_API_KEY = AsciiString.cached("x-api-key");
  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");

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

  /** The buyer's key from {@code Authorization: Bearer} or {@code x-api-key}; null if neither. */
  static String apiKey(HttpHeaders h) {
    String auth = h.get(HttpHeaderNames.AUTHORIZATION);
    if (auth != null && auth.length() > 7 && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String key = auth.substring(7).trim();
      if (!key.isEmpty()) {
        return key;
      }
    }
    String key = h.get(X_API_KEY);
    return key == null || key.isBlank() ? null : key.trim();
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
