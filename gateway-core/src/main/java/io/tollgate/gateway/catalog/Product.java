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
    Listing listing) {

  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_RESPONSE_TIMEOUT = Duration.ofSeconds(60);
  public static final String DEFAULT_TOKENIZER = "o200k_base";

  public Product {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(merchantId, "merchantId");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(protocol, "protocol");
    endpoints = List.copyOf(endpoints);
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("a product needs at least one endpoint");
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
   * A product as a merchant describes it, without a listing state (a draft): what creating or
   * updating a product takes.
   */
  public Product(String id, String merchantId, String name, Protocol protocol, List<Endpoint> endpoints,
      UpstreamAuth auth, Duration connectTimeout, Duration responseTimeout, List<String> paths,
      String healthCheckPath, String tokenizer, List<String> usagePointers, Instant createdAt) {
    this(id, merchantId, name, protocol, endpoints, auth, connectTimeout, responseTimeout, paths, healthCheckPath,
        tokenizer, usagePointers, createdAt, null);
  }

  /** Shorthand for {@code listing().status()}. */
  public ListingStatus status() {
    return listing.status();
  }
}
