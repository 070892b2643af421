package io.tollgate.gateway.catalog;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A merchant's API offered on the marketplace: its endpoint pool and how to reach it.
 *
 * @param paths for protocol {@code custom}, the buyer paths it serves (GET or POST)
 * @param connectTimeout defaults to 5 s
 * @param responseTimeout time allowed for the response head and between body chunks; defaults to
 *     60 s
 * @param healthCheckPath path probed on each endpoint, or null for none
 * @param tokenizer the jtokkit encoding used when usage must be estimated (defaults to
 *     {@code o200k_base})
 * @param usagePointers extra JSON pointers (e.g. {@code /meta/usage}) where this product's
 *     upstream reports usage, besides its protocol's own places; defaults to none
 * @param listing its place in the listing review, as read from the catalog; defaults to {@link
 *     Listing#DRAFT}. Creating or updating a product ignores it: only the review changes it
 * @param licence for protocol {@code licence} (and only for it): its heartbeat interval and public
 *     key; defaults to {@link LicenceTerms#DEFAULT_HEARTBEAT_INTERVAL} and no key yet (the catalog
 *     makes the key pair when it stores the product)
 */
public record Product(
    String id,
    String merchantId,
    String name,
    Protocol protocol,
    List<Endpoint> endpoints,
    UpstreamAuth auth,
    Duration connectTimeout,
    Duration responseTimeout,
    List<String> paths,
    String healthCheckPath,
    String tokenizer,
    List<String> usagePointers,
    Instant createdAt,
    Listing listing,
    LicenceTerms licence) {

  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_RESPONSE_TIMEOUT = Duration.ofSeconds(60);
  public static final String DEFAULT_TOKENIZER = "o200k_base";

  public Product {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(merchantId, "merchantId");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(protocol, "protocol");
    endpoints = List.copyOf(endpoints);
    if (protocol == Protocol.LICENCE) {
      if (!endpoints.isEmpty()) {
        throw new IllegalArgumentException("a licence product has no endpoints");
      }
      licence = licence == null ? new LicenceTerms(null, null) : licence;
    } else {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("a product needs at least one endpoint");
      }
      if (licence != null) {
        throw new IllegalArgumentException("licence applies only to protocol licence");
      }
    }
    auth = auth == null ? UpstreamAuth.NONE : auth;
    connectTimeout = connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout;
    responseTimeout = responseTimeout == null ? DEFAULT_RESPONSE_TIMEOUT : responseTimeout;
    paths = paths == null ? List.of() : List.copyOf(paths);
    tokenizer = tokenizer == null ? DEFAULT_TOKENIZER : tokenizer;
    usagePointers = usagePointers == null ? List.of() : List.copyOf(usagePointers);
    for (String pointer : usagePointers) {
      if (!pointer.startsWith("/")) {
        throw new IllegalArgumentException("a usage pointer is a JSON pointer starting with '/': " + pointer);
      }
    }
    listing = listing == null ? Listing.DRAFT : listing;
  }

  /**
   * The licence settings of a {@code licence} product.
   *
   * @param heartbeatInterval how often the merchant's software sends a heartbeat; a machine silent
   *     for two intervals is dead and its seat free. At least {@link #MIN_HEARTBEAT_INTERVAL};
   *     defaults to {@link #DEFAULT_HEARTBEAT_INTERVAL}
   * @param publicKey the product's Ed25519 public key, base64 of its X.509 SubjectPublicKeyInfo
   *     DER, with which the software verifies the licence API's answers; null until stored
   */
  public record LicenceTerms(Duration heartbeatInterval, String publicKey) {
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofMinutes(10);
    public static final Duration MIN_HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

    public LicenceTerms {
      heartbeatInterval = heartbeatInterval == null ? DEFAULT_HEARTBEAT_INTERVAL : heartbeatInterval;
      if (heartbeatInterval.compareTo(MIN_HEARTBEAT_INTERVAL) < 0) {
        throw new IllegalArgumentException("heartbeatInterval must be at least PT5S: " + heartbeatInterval);
      }
    }

    /** These terms with {@code key} as the public key. */
    public LicenceTerms withPublicKey(String key) {
      return new LicenceTerms(heartbeatInterval, key);
    }
  }

  /** A product as read before licences: none. */
  public Product(String id, String merchantId, String name, Protocol protocol, List<Endpoint> endpoints,
      UpstreamAuth auth, Duration connectTimeout, Duration responseTimeout, List<String> paths,
      String healthCheckPath, String tokenizer, List<String> usagePointers, Instant createdAt, Listing listing) {
    this(id, merchantId, name, protocol, endpoints, auth, connectTimeout, responseTimeout, paths, healthCheckPath,
        tokenizer, usagePointers, createdAt, listing, null);
  }

  /**
   * A product as a merchant describes it, without a listing state (a draft): what creating or
   * updating a product takes.
   */
  public Product(String id, String merchantId, String name, Protocol protocol, List<Endpoint> endpoints,
      UpstreamAuth auth, Duration connectTimeout, Duration responseTimeout, List<String> paths,
      String healthCheckPath, String tokenizer, List<String> usagePointers, Instant createdAt) {
    this(id, merchantId, name, protocol, endpoints, auth, connectTimeout, responseTimeout, paths, healthCheckPath,
        tokenizer, usagePointers, createdAt, null, null);
  }

  /** This product with {@code terms} as its licence terms (a licence product only). */
  public Product withLicence(LicenceTerms terms) {
    return new Product(id, merchantId, name, protocol, endpoints, auth, connectTimeout, responseTimeout, paths,
        healthCheckPath, tokenizer, usagePointers, createdAt, listing, terms);
  }

  /** This product with {@code createdAt} and {@code listing} as stored. */
  Product stored(Instant at, Listing l) {
    return new Product(id, merchantId, name, protocol, endpoints, auth, connectTimeout, responseTimeout, paths,
        healthCheckPath, tokenizer, usagePointers, at, l, licence);
  }

  /** Shorthand for {@code listing().status()}. */
  public ListingStatus status() {
    return listing.status();
  }
}
