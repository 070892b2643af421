package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpMethod;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import java.util.Set;

/** What a buyer's request line asks for, given the protocol of the key's product. */
enum Route {
  /** {@code GET /v1/models}: answered from the subscription. */
  MODELS,
  /** {@code GET /v1/subscription}: answered from the subscription and its usage. */
  SUBSCRIPTION,
  /** A model API call: a JSON body with a {@code model} is required. */
  FORWARD_MODEL_CALL,
  /** A {@code custom} protocol call: GET or POST, any body. */
  FORWARD_CUSTOM,
  NOT_FOUND,
  METHOD_NOT_ALLOWED;

  private static final Set<String> OPENAI_PATHS =
      Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses");
  private static final Set<String> ANTHROPIC_PATHS = Set.of("/v1/messages");

  static Route match(Product product, HttpMethod method, String path) {
    if ("/v1/models".equals(path)) {
      return method == HttpMethod.GET ? MODELS : METHOD_NOT_ALLOWED;
    }
    if ("/v1/subscription".equals(path)) {
      return method == HttpMethod.GET ? SUBSCRIPTION : METHOD_NOT_ALLOWED;
    }
    Protocol protocol = product.protocol();
    if (protocol == Protocol.LICENCE) {
      return NOT_FOUND; // nothing is proxied for a licence: its code is checked on /licence/v1/*
    }
    if (protocol == Protocol.CUSTOM) {
      if (!product.paths().contains(path)) {
        return NOT_FOUND;
      }
      return method == HttpMethod.GET || method == HttpMethod.POST ? FORWARD_CUSTOM : METHOD_NOT_ALLOWED;
    }
    Set<String> paths = protocol == Protocol.OPENAI ? OPENAI_PATHS : ANTHROPIC_PATHS;
    if (!paths.contains(path)) {
      return NOT_FOUND;
    }
    return method == HttpMethod.POST ? FORWARD_MODEL_CALL : METHOD_NOT_ALLOWED;
  }

  /**
   * Whether a request target is Anthropic's Messages API, {@code /v1/messages} or below it: where
   * an answer given before a key names a product takes Anthropic's shape.
   */
  static boolean isAnthropicMessages(String uri) {
    if (!uri.startsWith("/v1/messages")) {
      return false;
    }
    int end = "/v1/messages".length();
    return uri.length() == end || uri.charAt(end) == '/' || uri.charAt(end) == '?';
  }

  /** The path of a request URI, without its query. */
  static String pathOf(String uri) {
    int q = uri.indexOf('?');
    return q < 0 ? uri : uri.substring(0, q);
  }

  /**
   * Whether a request target holds a control character (below 0x21, or DEL): RFC 9112 allows none
   * in a request target, and an upstream may read one as the end of the line or of the target.
   */
  static boolean hasControlBytes(String uri) {
    for (int i = 0; i < uri.length(); i++) {
      char c = uri.charAt(i);
      if (c <= 0x20 || c == 0x7f) {
        return true;
      }
    }
    return false;
  }

  /**
   * The request target to forward: the buyer's, byte for byte, without the query parameters whose
   * value (percent-decoded) is the caller's own key, whatever their name ({@code api_key}, {@code
   * key}, ...): some clients put the key there too, and it must never reach a merchant. The one
   * exception to "the query is forwarded unchanged". Keys are only ever read from headers.
   */
  static String withoutKey(String uri, String key) {
    int q = uri.indexOf('?');
    if (q < 0 || key == null || key.isEmpty() || (uri.indexOf(key, q) < 0 && uri.indexOf('%', q) < 0)) {
      return uri; // fast path: the key cannot be in the query
    }
    StringBuilder out = null;
    int kept = 0;
    for (int start = q + 1; start <= uri.length(); ) {
      int end = uri.indexOf('&', start);
      end = end < 0 ? uri.length() : end;
      int eq = start;
      while (eq < end && uri.charAt(eq) != '=') {
        eq++;
      }
      if (eq < end && valueIs(uri, eq + 1, end, key)) {
        if (out == null) {
          out = new StringBuilder(uri.length()).append(uri, 0, start > q + 1 ? start - 1 : q);
          kept = start > q + 1 ? 1 : 0;
        }
      } else if (out != null) {
        out.append(kept++ == 0 ? '?' : '&').append(uri, start, end);
      }
      start = end + 1;
    }
    return out == null ? uri : out.toString();
  }

  /** Whether {@code uri[from, to)}, percent-decoded, is {@code key}. */
  private static boolean valueIs(String uri, int from, int to, String key) {
    int k = 0;
    for (int i = from; i < to; i++, k++) {
      char c = uri.charAt(i);
      if (c == '%' && i + 2 < to) {
        int hi = Character.digit(uri.charAt(i + 1), 16);
        int lo = Character.digit(uri.charAt(i + 2), 16);
        if (hi >= 0 && lo >= 0) {
          c = (char) (hi << 4 | lo);
          i += 2;
        }
      }
      if (k >= key.length() || key.charAt(k) != c) {
        return false;
      }
    }
    return k == key.length();
  }
}
