package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.upstream.AddressPolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Products on the wire. Upstream secrets (the aksk {@code secretKey}, every endpoint header value)
 * are written as {@link #MASK}; a PUT that sends the mask back keeps the stored secret, so a
 * client may GET, edit and PUT a product without ever holding the secrets.
 *
 * <p>Timeouts are whole milliseconds: {@code "timeouts":{"connectMs":5000,"responseMs":60000}}.
 *
 * <p>The listing is shown read-only: {@code status} ({@code draft}, {@code pending_review}, {@code
 * listed}, {@code delisted}), {@code reviewNote} (the operator's reason for the last rejection or
 * delisting) and {@code firstListedAt} (from then on the product's SKUs are frozen).
 */
final class ProductJson {

  static final String MASK = "****";

  private static final Set<String> FIELDS =
      Set.of("name", "protocol", "endpoints", "auth", "paths", "timeouts", "healthCheck",
          "tokenizer", "usagePointers", "merchantId", "licence",
          // read-only fields of a GET, accepted (and ignored) so a GET body can be PUT back; the
          // listing changes only through the review (ListingRoutes)
          "id", "object", "createdAt", "status", "reviewNote", "firstListedAt");
  private static final Set<String> ENDPOINT_FIELDS = Set.of("url", "weight", "headers");
  private static final Set<String> AUTH_FIELDS = Set.of("type", "accessKey", "secretKey");
  private static final Set<String> TIMEOUT_FIELDS = Set.of("connectMs", "responseMs");
  private static final Set<String> HEALTH_FIELDS = Set.of("path");
  /** {@code publicKey} is read-only: accepted (and ignored) so a GET body can be PUT back. */
  private static final Set<String> LICENCE_FIELDS = Set.of("heartbeatInterval", "publicKey");
  private static final Set<String> TOKENIZERS =
      Set.of("o200k_base", "cl100k_base", "p50k_base", "p50k_edit", "r50k_base");
  /** RFC 9110 token characters. */
  private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
  /** Headers tollgate itself sets or that would break the forwarded request. */
  private static final Set<String> RESERVED_HEADERS =
      Set.of("host", "content-length", "transfer-encoding", "connection", "x-request-id",
          "x-customer-id", "x-customer-name");

  private ProductJson() {}

  /**
   * Reads a product body.
   *
   * @param stored the product being replaced (PUT), whose secrets a mask stands for; null on POST
   * @param upstreams judges the addresses endpoint hosts resolve to; resolving blocks, so this
   *     runs on a worker
   */
  static Product parse(JsonInput in, String id, String merchantId, Product stored, Instant createdAt,
      AddressPolicy upstreams) {
    in.allowOnly(FIELDS);
    String name = in.requiredText("name");
    if (name.length() > 200) {
      throw ApiError.invalid("name must be at most 200 characters");
    }
    String protocolName = in.requiredText("protocol");
    Protocol protocol = Protocol.parse(protocolName);
    if (protocol == null) {
      throw ApiError.invalid("protocol must be one of openai, anthropic, custom, licence");
    }
    if (protocol == Protocol.LICENCE) {
      return licence(in, id, merchantId, name, createdAt);
    }
    if (in.has("licence")) {
      throw ApiError.invalid("licence applies only to protocol licence");
    }

    List<JsonInput> endpointInputs = in.optionalObjects("endpoints");
    if (endpointInputs == null || endpointInputs.isEmpty()) {
      throw ApiError.invalid("endpoints must list at least one endpoint");
    }
    var endpoints = new ArrayList<Endpoint>();
    for (int i = 0; i < endpointInputs.size(); i++) {
      endpoints.add(endpoint(endpointInputs.get(i), i, stored, upstreams));
    }

    UpstreamAuth auth = auth(in.optionalObject("auth"), stored);

    List<String> paths = in.optionalStrings("paths");
    if (protocol == Protocol.CUSTOM) {
      if (paths == null || paths.isEmpty()) {
        throw ApiError.invalid("paths must list the buyer paths of a custom product");
      }
      for (int i = 0; i < paths.size(); i++) {
        requirePath(paths.get(i), in.path("paths[" + i + "]"));
      }
    } else if (paths != null && !paths.isEmpty()) {
      throw ApiError.invalid("paths applies only to protocol custom");
    }

    Duration connect = null;
    Duration response = null;
    JsonInput timeouts = in.optionalObject("timeouts");
    if (timeouts != null) {
      timeouts.allowOnly(TIMEOUT_FIELDS);
      Long c = timeouts.optionalPositiveLong("connectMs");
      Long r = timeouts.optionalPositiveLong("responseMs");
      connect = c == null ? null : Duration.ofMillis(c);
      response = r == null ? null : Duration.ofMillis(r);
    }

    String healthPath = null;
    JsonInput health = in.optionalObject("healthCheck");
    if (health != null) {
      health.allowOnly(HEALTH_FIELDS);
      healthPath = health.requiredText("path");
      requirePath(healthPath, health.path("path"));
    }

    String tokenizer = in.optionalText("tokenizer");
    if (tokenizer != null && !TOKENIZERS.contains(tokenizer)) {
      throw ApiError.invalid("tokenizer must be one of " + String.join(", ", sorted(TOKENIZERS)));
    }

    List<String> usagePointers = in.optionalStrings("usagePointers");
    if (usagePointers != null) {
      for (int i = 0; i < usagePointers.size(); i++) {
        if (!usagePointers.get(i).startsWith("/")) {
          throw ApiError.invalid(in.path("usagePointers[" + i + "]")
              + " must be a JSON pointer such as /meta/usage");
        }
      }
    }

    return new Product(id, merchantId, name, protocol, endpoints, auth, connect, response,
        paths == null ? List.of() : paths, healthPath, tokenizer, usagePointers, createdAt);
  }

  /**
   * A licence product: merchant software sold per period, checked on the licence API. Nothing is
   * proxied for it, so it takes no endpoints, auth, paths, timeouts or health check; {@code
   * licence.heartbeatInterval} is an ISO-8601 duration, at least {@code PT5S}, defaulting to {@code
   * PT10M}.
   */
  private static Product licence(JsonInput in, String id, String merchantId, String name, Instant createdAt) {
    List<JsonInput> endpoints = in.optionalObjects("endpoints");
    if (endpoints != null && !endpoints.isEmpty()) {
      throw ApiError.invalid("endpoints does not apply to protocol licence: nothing is proxied for it");
    }
    for (String field : List.of("auth", "paths", "timeouts", "healthCheck", "usagePointers")) {
      if (in.has(field) && !isEmptyOrNone(in, field)) {
        throw ApiError.invalid(field + " does not apply to protocol licence");
      }
    }
    Duration interval = null;
    JsonInput licence = in.optionalObject("licence");
    if (licence != null) {
      licence.allowOnly(LICENCE_FIELDS);
      String text = licence.optionalText("heartbeatInterval");
      if (text != null) {
        try {
          interval = Duration.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
          throw ApiError.invalid(licence.path("heartbeatInterval") + " must be an ISO-8601 duration such as PT10M");
        }
        if (interval.compareTo(Product.LicenceTerms.MIN_HEARTBEAT_INTERVAL) < 0) {
          throw ApiError.invalid(licence.path("heartbeatInterval") + " must be at least PT5S");
        }
        if (interval.compareTo(Duration.ofDays(7)) > 0) {
          throw ApiError.invalid(licence.path("heartbeatInterval") + " must be at most P7D");
        }
      }
    }
    String tokenizer = in.optionalText("tokenizer");
    if (tokenizer != null && !TOKENIZERS.contains(tokenizer)) {
      throw ApiError.invalid("tokenizer must be one of " + String.join(", ", sorted(TOKENIZERS)));
    }
    return new Product(id, merchantId, name, Protocol.LICENCE, List.of(), null, null, null, List.of(), null,
        tokenizer, null, createdAt, null, new Product.LicenceTerms(interval, null));
  }

  /** Whether a field a GET of a licence product shows (empty) was sent back as it was shown. */
  private static boolean isEmptyOrNone(JsonInput in, String field) {
    com.fasterxml.jackson.databind.JsonNode v = in.node().get(field);
    if (v == null || v.isNull() || (v.isContainerNode() && v.isEmpty())) {
      return true;
    }
    if ("auth".equals(field)) {
      return v.size() == 1 && "none".equals(v.path("type").asText());
    }
    return "timeouts".equals(field); // shown with the defaults; meaningless here, so ignored
  }

  private static Endpoint endpoint(JsonInput in, int index, Product stored, AddressPolicy upstreams) {
    in.allowOnly(ENDPOINT_FIELDS);
    String url = in.requiredText("url");
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException e) {
      uri = null;
    }
    if (uri == null
        || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
        || uri.getHost() == null
        || uri.getQuery() != null
        || uri.getFragment() != null) {
      throw ApiError.invalid(in.path("url") + " must be an http or https URL with a host (no query)");
    }
    if (uri.getRawUserInfo() != null) {
      // It would show in every GET of the product; credentials go in headers or auth.
      throw ApiError.invalid(in.path("url") + " must not carry user info (user:password@);"
          + " send credentials as endpoint headers or auth");
    }
    checkAddress(uri, in.path("url"), upstreams);
    Integer weight = in.optionalPositiveInt("weight");
    Map<String, String> given = in.optionalStringMap("headers");
    var headers = new LinkedHashMap<String, String>();
    if (given != null) {
      Endpoint previous = storedEndpoint(stored, url, index);
      for (var e : given.entrySet()) {
        String field = in.path("headers." + e.getKey());
        if (!HEADER_NAME.matcher(e.getKey()).matches()) {
          throw ApiError.invalid(field + " is not a valid header name");
        }
        if (RESERVED_HEADERS.contains(e.getKey().toLowerCase(Locale.ROOT))) {
          throw ApiError.invalid(field + " is set by tollgate and cannot be configured");
        }
        String value = e.getValue();
        if (MASK.equals(value)) {
          value = previous == null ? null : previous.headers().get(e.getKey());
          if (value == null) {
            throw ApiError.invalid(field + " is the mask \"" + MASK + "\" but no value is stored; send the value");
          }
        }
        String problem = fieldValueProblem(value);
        if (problem != null) {
          throw ApiError.invalid(field + " " + problem);
        }
        headers.put(e.getKey(), value);
      }
    }
    return new Endpoint(url, weight == null ? 1 : weight, headers);
  }

  /**
   * Refuses a URL whose host resolves (system resolver) to an address tollgate must not call. A
   * host that does not resolve now is accepted: the buyer port checks the address it resolves
   * at connect time anyway, as DNS answers can change.
   */
  private static void checkAddress(URI uri, String field, AddressPolicy upstreams) {
    String host = uri.getHost();
    if (AddressPolicy.isAmbiguousNumericHost(host)) {
      throw ApiError.invalid(field + " must write an IPv4 address as four decimal numbers, such as 203.0.113.7");
    }
    boolean literal = host.startsWith("[");
    if (literal && host.indexOf('%') >= 0) {
      throw ApiError.invalid(field + " must not carry an IPv6 zone");
    }
    if (upstreams.refusesNothing()) {
      return;
    }
    int port = uri.getPort() > 0 ? uri.getPort() : "https".equals(uri.getScheme()) ? 443 : 80;
    InetAddress[] all;
    try {
      all = InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      if (literal) {
        throw ApiError.invalid(field + " has an invalid IPv6 address");
      }
      return;
    }
    for (InetAddress a : all) {
      if (!upstreams.check(new InetSocketAddress(a, port)).allowed()) {
        throw ApiError.invalid(field + " points to an address tollgate does not call: its own ports,"
            + " link-local and metadata addresses, and the networks the operator denies");
      }
    }
  }

  /**
   * Why {@code value} cannot be sent as an HTTP field value, or null when it can. RFC 9110
   * section 5.5: visible ASCII, obs-text (0x80-0xFF, sent as one octet each), and SP and HTAB
   * between them. Any other control character would make every call to the endpoint fail (Netty
   * refuses to send it) or split the request (CR, LF); a character past 0xFF has no single octet
   * to be sent as; leading or trailing whitespace is not part of a field value.
   */
  private static String fieldValueProblem(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7F || c > 0xFF) {
        return "may hold only visible characters, spaces and tabs (RFC 9110), not U+"
            + String.format(Locale.ROOT, "%04X", (int) c);
      }
    }
    if (!value.isEmpty() && (isBlank(value.charAt(0)) || isBlank(value.charAt(value.length() - 1)))) {
      return "must not start or end with a space or tab (RFC 9110)";
    }
    return null;
  }

  private static boolean isBlank(char c) {
    return c == ' ' || c == '\t';
  }

  /** The stored endpoint a masked header refers to: same URL, else same position. */
  private static Endpoint storedEndpoint(Product stored, String url, int index) {
    if (stored == null) {
      return null;
    }
    for (Endpoint e : stored.endpoints()) {
      if (e.url().equals(url)) {
        return e;
      }
    }
    return index < stored.endpoints().size() ? stored.endpoints().get(index) : null;
  }

  private static UpstreamAuth auth(JsonInput in, Product stored) {
    if (in == null) {
      return UpstreamAuth.NONE;
    }
    in.allowOnly(AUTH_FIELDS);
    String typeName = in.requiredText("type");
    UpstreamAuth.Type type;
    try {
      type = UpstreamAuth.Type.valueOf(typeName.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid(in.path("type") + " must be one of none, headers, aksk");
    }
    if (type != UpstreamAuth.Type.AKSK) {
      if (in.has("accessKey") || in.has("secretKey")) {
        throw ApiError.invalid(in.path("accessKey") + " and secretKey apply only to type aksk");
      }
      return type == UpstreamAuth.Type.NONE ? UpstreamAuth.NONE : new UpstreamAuth(type, null, null);
    }
    String accessKey = in.requiredText("accessKey");
    String secretKey = in.requiredText("secretKey");
    if (MASK.equals(secretKey)) {
      secretKey =
          stored != null && stored.auth().type() == UpstreamAuth.Type.AKSK
              ? stored.auth().secretKey()
              : null;
      if (secretKey == null) {
        throw ApiError.invalid(in.path("secretKey") + " is the mask \"" + MASK + "\" but no secret is stored; send the secret");
      }
    }
    return new UpstreamAuth(type, accessKey, secretKey);
  }

  private static void requirePath(String path, String field) {
    if (!path.startsWith("/") || path.contains("?") || path.contains("#") || path.contains(" ")) {
      throw ApiError.invalid(field + " must be a path starting with / (no query)");
    }
  }

  private static List<String> sorted(Set<String> s) {
    var l = new ArrayList<>(s);
    l.sort(null);
    return l;
  }

  /** The product as the admin API shows it: secrets masked. */
  static ObjectNode render(Product p) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", p.id());
    o.put("object", "product");
    o.put("merchantId", p.merchantId());
    o.put("name", p.name());
    o.put("protocol", p.protocol().wireName());
    var endpoints = o.putArray("endpoints");
    for (Endpoint e : p.endpoints()) {
      ObjectNode eo = endpoints.addObject();
      eo.put("url", e.url());
      eo.put("weight", e.weight());
      ObjectNode headers = eo.putObject("headers");
      for (String name : e.headers().keySet()) {
        headers.put(name, MASK);
      }
    }
    ObjectNode auth = o.putObject("auth");
    auth.put("type", p.auth().type().name().toLowerCase(Locale.ROOT));
    if (p.auth().type() == UpstreamAuth.Type.AKSK) {
      auth.put("accessKey", p.auth().accessKey());
      auth.put("secretKey", MASK);
    }
    var paths = o.putArray("paths");
    p.paths().forEach(paths::add);
    ObjectNode timeouts = o.putObject("timeouts");
    timeouts.put("connectMs", p.connectTimeout().toMillis());
    timeouts.put("responseMs", p.responseTimeout().toMillis());
    if (p.healthCheckPath() == null) {
      o.putNull("healthCheck");
    } else {
      o.putObject("healthCheck").put("path", p.healthCheckPath());
    }
    o.put("tokenizer", p.tokenizer());
    var pointers = o.putArray("usagePointers");
    p.usagePointers().forEach(pointers::add);
    o.put("createdAt", p.createdAt() == null ? null : p.createdAt().toString());
    o.put("status", p.status().wireName());
    o.put("reviewNote", p.listing().reviewNote());
    o.put("firstListedAt", p.listing().firstListedAt() == null ? null : p.listing().firstListedAt().toString());
    if (p.licence() != null) {
      o.putObject("licence").put("heartbeatInterval", p.licence().heartbeatInterval().toString())
          .put("publicKey", p.licence().publicKey());
    }
    return o;
  }
}
