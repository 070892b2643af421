package io.tollgate.gateway.catalog;

import java.util.Objects;

/**
 * How tollgate authenticates to a product's endpoints.
 *
 * <p>{@code AKSK}: a fresh HS256 JWT per request, claims {@code api_key}, {@code timestamp} (ms),
 * {@code exp} (5 minutes on), signed with the secret key. {@code HEADERS}: the endpoints' static
 * headers carry the merchant's credentials. {@code NONE}: nothing added.
 */
public record UpstreamAuth(Type type, String accessKey, String secretKey) {

  public static final UpstreamAuth NONE = new UpstreamAuth(Type.NONE, null, null);

  public enum Type {
    NONE,
    HEADERS,
    AKSK
  }

  public UpstreamAuth {
    Objects.requireNonNull(type, "type");
    if (type == Type.AKSK && (isBlank(accessKey) || isBlank(secretKey))) {
      throw new IllegalArgumentException("aksk auth needs accessKey and secretKey");
    }
  }

  private static boolean isBlank(String s) {
    return s == null || s.isBlank();
  }

  /** Never prints the secret. */
  @Override
  public String toString() {
    return "UpstreamAuth[type=" + type + ", accessKey=" + accessKey + ", secretKey=***]";
  }
}
