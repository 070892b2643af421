package io.tollgate.gateway.catalog;

import java.net.URI;
import java.util.Map;
import java.util.Objects;

/**
 * One upstream endpoint of a product's pool.
 *
 * @param url base URL, {@code http://host:port[/prefix]}; the buyer's path is appended to it
 * @param weight relative share of calls, at least 1 (defaults to 1)
 * @param headers the merchant's static headers added to every upstream request (credentials
 *     included; never shown to buyers, masked in the admin API)
 */
public record Endpoint(String url, int weight, Map<String, String> headers) {

  public Endpoint {
    Objects.requireNonNull(url, "url");
    URI uri = URI.create(url);
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException("endpoint url must be http or https: " + url);
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("endpoint url has no host: " + url);
    }
    if (weight < 1) {
      throw new IllegalArgumentException("endpoint weight must be at least 1: " + weight);
    }
    headers = headers == null ? Map.of() : Map.copyOf(headers);
  }

  /** Never prints header values: they carry the merchant's credentials. */
  @Override
  public String toString() {
    return "Endpoint[url=" + url + ", weight=" + weight + ", headers=" + headers.keySet() + "(values masked)]";
  }
}
