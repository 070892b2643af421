package io.tollgate.gateway.proxy;

import java.net.URI;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An endpoint base URL taken apart once: where to connect, the {@code Host} header, and the path
 * prefix put before the buyer's path. Parsed per distinct URL and cached, not per request
 * ({@code URI} parsing showed in the buyer port's profile).
 *
 * @param authority {@code host:port}, the port always given: how logs and metrics name the
 *     endpoint (never its URL, whose path, query or user info may hold a secret)
 */
record Origin(URI uri, boolean tls, String host, int port, String hostHeader, String pathPrefix, String authority) {

  private static final ConcurrentHashMap<String, Origin> CACHE = new ConcurrentHashMap<>();

  static Origin of(String url) {
    Origin o = CACHE.get(url);
    return o != null ? o : CACHE.computeIfAbsent(url, Origin::parse);
  }

  private static Origin parse(String url) {
    URI uri = URI.create(url);
    boolean tls = "https".equals(uri.getScheme());
    int port = uri.getPort() > 0 ? uri.getPort() : tls ? 443 : 80;
    String prefix = uri.getRawPath() == null ? "" : uri.getRawPath();
    if (prefix.endsWith("/")) {
      prefix = prefix.substring(0, prefix.length() - 1);
    }
    String hostHeader = uri.getPort() > 0 ? uri.getHost() + ":" + uri.getPort() : uri.getHost();
    return new Origin(uri, tls, uri.getHost(), port, hostHeader, prefix, uri.getHost() + ":" + port);
  }
}
