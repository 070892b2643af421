package io.tollgate.gateway.licence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.proxy.LicenceApi;
import io.tollgate.metering.quota.RateDecision;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.quota.RateLimits;
import java.security.PrivateKey;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The licence API: activation, heartbeat and deactivation of the machines a licence code runs
 * on, and the products' public keys; every answer signed with the product's Ed25519 key.
 *
 * <p>Where each answer comes from:
 *
 * <ul>
 *   <li>The code is the subscription's key: resolved through the buyer port's subscription cache
 *       (no catalog read per call; admin changes such as a suspension invalidate it on every
 *       instance). A code that names no licence subscription is 401, unsigned: no product's key
 *       could sign it, and signing with some other key would tell the caller nothing.
 *   <li>Activation counts seats under the subscription's row lock ({@link Machines}); heartbeats
 *       touch the seen store ({@link SeenTimes}) and queue the time for the {@link
 *       LastSeenWriter}: no database read or write per heartbeat once warm.
 *   <li>Rate limit per code, {@code licence.requestsPerMinute} a minute on each instance
 *       (default 60): 429 {@code rate_limit_exceeded} with {@code retry-after}, signed.
 * </ul>
 *
 * <p>Every answer of a known code's product carries {@code X-Tollgate-Signature: ed25519
 * <base64>}, the signature of the exact body bytes, and echoes the caller's {@code nonce} with
 * {@code issuedAt}, so the software can reject a replayed or forged answer. The private key is
 * loaded from the catalog once per product and never leaves this class.
 *
 * <p>All work runs on the licence workers ({@value #WORKERS} threads, a bounded queue: a flood
 * beyond it is 503), never on an event loop.
 */
public final class LicenceService implements LicenceApi, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LicenceService.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final int WORKERS = 4;
  static final int QUEUE = 10_000;
  /** Largest licence request body: a code, a fingerprint, a hostname and a nonce. */
  static final int MAX_BODY_BYTES = 16 * 1024;
  private static final int MAX_TEXT = 200;
  private static final String NO_PRODUCT = "none";

  private final SubscriptionCache subscriptions;
  private final CatalogRepository catalog;
  private final Machines machines;
  private final SeenTimes seen;
  private final LastSeenWriter writer;
  private final RateLimiter limiter;
  private final RateLimits limits;
  private final Clock clock;
  private final MeterRegistry registry;
  private final ThreadPoolExecutor workers;
  private final ConcurrentHashMap<String, PrivateKey> keys = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private static final ThreadLocal<Signature> ED25519 = ThreadLocal.withInitial(() -> {
    try {
      return Signature.getInstance("Ed25519");
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("this JDK has no Ed25519", e);
    }
  });

  /**
   * A machine as the admin API shows it.
   *
   * @param alive last seen within two heartbeat intervals of now
   */
  public record MachineView(String fingerprint, String hostname, Instant activatedAt, Instant lastHeartbeatAt,
      boolean alive) {}

  private LicenceService(SubscriptionCache subscriptions, CatalogRepository catalog, SeenTimes seen,
      Duration flushInterval, int requestsPerMinute, Clock clock, MeterRegistry registry,
      io.tollgate.metering.health.TaskHealth health) {
    this.subscriptions = subscriptions;
    this.catalog = catalog;
    this.seen = seen;
    this.machines = new Machines(catalog.dataSource(), seen);
    this.clock = clock;
    this.registry = registry;
    this.writer = new LastSeenWriter(machines, clock, flushInterval, health, registry);
    this.limiter = new RateLimiter(clock, 1, registry);
    this.limits = new RateLimits(requestsPerMinute, 0);
    AtomicInteger n = new AtomicInteger();
    this.workers = new ThreadPoolExecutor(WORKERS, WORKERS, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE),
        r -> {
          Thread t = new Thread(r, "tollgate-licence-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
  }

  /**
   * A licence service, its last-seen writer started.
   *
   * @param redis where last-seen times are shared between instances; null keeps them in this
   *     process (one instance)
   * @param redisPrefix the prefix of its Redis keys
   */
  public static LicenceService start(SubscriptionCache subscriptions, CatalogRepository catalog,
      io.lettuce.core.api.sync.RedisCommands<String, String> redis, String redisPrefix, Duration flushInterval,
      int requestsPerMinute, Clock clock, MeterRegistry registry, io.tollgate.metering.health.TaskHealth health) {
    SeenTimes seen = redis == null ? new LocalSeenTimes() : new RedisSeenTimes(redis, redisPrefix);
    LicenceService s = new LicenceService(subscriptions, catalog, seen, flushInterval, requestsPerMinute, clock,
        registry, health);
    s.writer.start();
    return s;
  }

  // ---------------------------------------------------------------- the buyer port

  @Override
  public CompletableFuture<Answer> answer(String method, String path, byte[] body) {
    String verb = path.substring(PREFIX.length());
    boolean keys = verb.startsWith("keys/");
    if (!keys && !verb.equals("activate") && !verb.equals("heartbeat") && !verb.equals("deactivate")) {
      return CompletableFuture.completedFuture(null);
    }
    String expected = keys ? "GET" : "POST";
    if (!expected.equals(method)) {
      return CompletableFuture.completedFuture(unsigned(405, "invalid_request_error", "method_not_allowed",
          method + " is not allowed on " + path + "; use " + expected + ".", null, clock.millis()));
    }
    try {
      return CompletableFuture.supplyAsync(() -> {
        try {
          return keys ? key(verb.substring("keys/".length())) : verb(verb, body);
        } catch (RuntimeException | java.sql.SQLException e) {
          log.warn("licence {} failed: {}", verb, e.toString());
          count(NO_PRODUCT, keys ? "keys" : verb, "store_unavailable");
          return unsigned(503, "api_error", "store_unavailable",
              "The licence store is unavailable; try again shortly.", null, clock.millis());
        }
      }, workers);
    } catch (RejectedExecutionException e) {
      count(NO_PRODUCT, keys ? "keys" : verb, "overloaded");
      return CompletableFuture.completedFuture(unsigned(503, "api_error", "overloaded",
          "The licence API is overloaded; try again shortly.", null, clock.millis()));
    }
  }

  private Answer key(String productId) {
    long now = clock.millis();
    Optional<Product> p = productId.length() > 64 ? Optional.empty() : catalog.getProduct(productId);
    if (p.isEmpty() || p.get().protocol() != Protocol.LICENCE) {
      count(NO_PRODUCT, "keys", "not_found");
      return unsigned(404, "invalid_request_error", "not_found", "No licence product " + productId + ".", null, now);
    }
    Product product = p.get();
    ObjectNode o = JSON.createObjectNode();
    o.put("object", "licence.key");
    o.put("productId", product.id());
    o.put("algorithm", "Ed25519");
    o.put("format", "spki-der-base64");
    o.put("publicKey", product.licence().publicKey());
    o.put("issuedAt", Instant.ofEpochMilli(now).toString());
    count(product.id(), "keys", "ok");
    return signed(200, o, product.id(), 0);
  }

  private Answer verb(String verb, byte[] body) throws java.sql.SQLException {
    long now = clock.millis();
    if (body.length > MAX_BODY_BYTES) {
      count(NO_PRODUCT, verb, "request_too_large");
      return unsigned(413, "invalid_request_error", "request_too_large",
          "A licence request body is at most " + MAX_BODY_BYTES + " bytes.", null, now);
    }
    JsonNode tree;
    try {
      tree = body.length == 0 ? null : JSON.readTree(body);
    } catch (java.io.IOException e) {
      tree = null;
    }
    if (tree == null || !tree.isObject()) {
      count(NO_PRODUCT, verb, "invalid_json");
      return unsigned(400, "invalid_request_error", "invalid_json",
          "The request body must be a JSON object with code and fingerprint.", null, now);
    }
    String nonce;
    String code;
    try {
      nonce = text(tree, "nonce", false);
      code = text(tree, "code", true);
    } catch (IllegalArgumentException e) {
      count(NO_PRODUCT, verb, "invalid_value");
      return unsigned(400, "invalid_request_error", "invalid_value", e.getMessage(), null, now);
    }
    Optional<SubscriptionSnapshot> found = lookup(code);
    if (found.isEmpty() || found.get().product().protocol() != Protocol.LICENCE) {
      count(NO_PRODUCT, verb, "invalid_api_key");
      return unsigned(401, "invalid_request_error", "invalid_api_key", "Unknown licence code.", nonce, now);
    }
    SubscriptionSnapshot snap = found.get();
    return known(snap, verb, tree, nonce, now).of(snap.subscription().id(), snap.sku().id());
  }

  /** A request with a known licence code ({@code snap}), past the body's and the code's checks. */
  private Answer known(SubscriptionSnapshot snap, String verb, JsonNode tree, String nonce, long now)
      throws java.sql.SQLException {
    Subscription sub = snap.subscription();
    String productId = snap.product().id();
    if (limiter.tryAcquire(sub.id(), limits, 0) instanceof RateDecision.Limited l) {
      count(productId, verb, "rate_limit_exceeded");
      ObjectNode o = error("rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached for this licence code ("
          + limits.rpm() + " requests a minute). Try again in " + l.retryAfterSeconds() + "s.");
      return signed(429, stamp(o, now, nonce), productId, l.retryAfterSeconds());
    }
    String fingerprint;
    String hostname;
    try {
      fingerprint = text(tree, "fingerprint", true);
      hostname = verb.equals("activate") ? text(tree, "hostname", false) : null;
      if (hostname != null && hostname.length() > 255) {
        throw new IllegalArgumentException("hostname must be at most 255 characters");
      }
    } catch (IllegalArgumentException e) {
      count(productId, verb, "invalid_value");
      return signed(400, stamp(error("invalid_request_error", "invalid_value", e.getMessage()), now, nonce),
          productId, 0);
    }
    Duration interval = snap.product().licence().heartbeatInterval();
    long aliveSince = now - 2 * interval.toMillis();
    SubscriptionStatus status = sub.statusAt(Instant.ofEpochMilli(now));
    return switch (verb) {
      case "activate" -> activate(snap, status, fingerprint, hostname, now, aliveSince, nonce);
      case "heartbeat" -> heartbeat(snap, status, fingerprint, now, aliveSince, nonce);
      default -> deactivate(snap, status, fingerprint, now, aliveSince, nonce);
    };
  }

  private Answer activate(SubscriptionSnapshot snap, SubscriptionStatus status, String fingerprint, String hostname,
      long now, long aliveSince, String nonce) throws java.sql.SQLException {
    String productId = snap.product().id();
    if (status != SubscriptionStatus.ACTIVE) {
      return inactive(snap, status, "activate", now, nonce);
    }
    Subscription sub = snap.subscription();
    long seats = sub.seats();
    Machines.Activation a = machines.activate(sub.id(), fingerprint, hostname, now, aliveSince, seats);
    if (a instanceof Machines.Activation.Full full) {
      count(productId, "activate", "too_many_machines");
      ObjectNode o = error("invalid_request_error", "too_many_machines", "Every seat of this licence is in use ("
          + full.used() + " of " + seats + " machines); deactivate one first.");
      o.putObject("seats").put("used", full.used()).put("max", seats);
      return signed(409, stamp(o, now, nonce), productId, 0);
    }
    var done = (Machines.Activation.Activated) a;
    count(productId, "activate", "ok");
    return signed(200, licence(snap, status, done.used(), fingerprint, done.machine().activatedAt(), now, nonce),
        productId, 0);
  }

  private Answer heartbeat(SubscriptionSnapshot snap, SubscriptionStatus status, String fingerprint, long now,
      long aliveSince, String nonce) throws java.sql.SQLException {
    String subId = snap.subscription().id();
    String productId = snap.product().id();
    SeenTimes.Touch touch = seen.touchIfAlive(subId, fingerprint, now, aliveSince);
    if (touch.before() == null) {
      machines.warm(subId); // the seen store lost it, or never had it (a restart): the table knows
      touch = seen.touchIfAlive(subId, fingerprint, now, aliveSince);
    }
    SeenTimes.Seen before = touch.before();
    if (before == null || before.lastSeen() < aliveSince) {
      return notActivated(productId, "heartbeat", fingerprint, now, nonce);
    }
    writer.seen(new MachineKey(subId, fingerprint), now);
    count(productId, "heartbeat", status == SubscriptionStatus.ACTIVE ? "ok" : status.name().toLowerCase(Locale.ROOT));
    return signed(200, licence(snap, status, touch.alive(), fingerprint, before.activatedAt(), now, nonce),
        productId, 0);
  }

  private Answer deactivate(SubscriptionSnapshot snap, SubscriptionStatus status, String fingerprint, long now,
      long aliveSince, String nonce) throws java.sql.SQLException {
    String subId = snap.subscription().id();
    String productId = snap.product().id();
    if (!machines.deactivate(subId, fingerprint)) {
      return notActivated(productId, "deactivate", fingerprint, now, nonce);
    }
    count(productId, "deactivate", "ok");
    ObjectNode o = licence(snap, status, aliveCount(subId, aliveSince), fingerprint, -1, now, nonce);
    ((ObjectNode) o.get("machine")).put("deactivatedAt", Instant.ofEpochMilli(now).toString());
    return signed(200, o, productId, 0);
  }

  private Answer inactive(SubscriptionSnapshot snap, SubscriptionStatus status, String verb, long now, String nonce) {
    String s = status.name().toLowerCase(Locale.ROOT);
    count(snap.product().id(), verb, "subscription_" + s);
    ObjectNode o = error("permission_error", "subscription_" + s, "This licence is " + s + ".");
    o.put("status", s);
    o.put("valid", false);
    return signed(403, stamp(o, now, nonce), snap.product().id(), 0);
  }

  private Answer notActivated(String productId, String verb, String fingerprint, long now, String nonce) {
    count(productId, verb, "machine_not_activated");
    ObjectNode o = error("invalid_request_error", "machine_not_activated", "Machine " + fingerprint
        + " is not activated on this licence (never activated, deactivated, or silent for two heartbeat"
        + " intervals); activate it again.");
    return signed(409, stamp(o, now, nonce), productId, 0);
  }

  private long aliveCount(String subscriptionId, long aliveSince) {
    long n = 0;
    for (SeenTimes.Seen s : seen.all(subscriptionId).values()) {
      if (s.lastSeen() >= aliveSince) {
        n++;
      }
    }
    return n;
  }

  private Optional<SubscriptionSnapshot> lookup(String code) {
    try {
      return subscriptions.lookup(ApiKeys.sha256Hex(code)).get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("the catalog did not answer: " + e.getClass().getSimpleName());
    }
  }

  private ObjectNode licence(SubscriptionSnapshot snap, SubscriptionStatus status, long used, String fingerprint,
      long activatedAt, long now, String nonce) {
    Subscription s = snap.subscription();
    Duration interval = snap.product().licence().heartbeatInterval();
    ObjectNode o = JSON.createObjectNode();
    o.put("object", "licence");
    o.put("status", status.name().toLowerCase(Locale.ROOT));
    o.put("valid", status == SubscriptionStatus.ACTIVE);
    o.put("subscriptionId", s.id());
    o.put("productId", snap.product().id());
    o.put("skuId", s.skuId());
    ObjectNode attributes = o.putObject("attributes");
    s.choices().attributes().forEach(attributes::put);
    ObjectNode quantities = o.putObject("quantities");
    s.choices().quantities().forEach(quantities::put);
    o.put("expiresAt", s.expiresAt() == null ? null : s.expiresAt().toString());
    o.putObject("seats").put("used", used).put("max", s.seats());
    ObjectNode machine = o.putObject("machine");
    machine.put("fingerprint", fingerprint);
    machine.put("activatedAt", activatedAt < 0 ? null : Instant.ofEpochMilli(activatedAt).toString());
    o.put("heartbeatInterval", interval.toString());
    // the machine keeps its seat while it is seen again within two intervals
    o.put("nextHeartbeatBefore", Instant.ofEpochMilli(now).plus(interval.multipliedBy(2)).toString());
    o.put("issuedAt", Instant.ofEpochMilli(now).toString());
    o.put("nonce", nonce);
    return o;
  }

  private static ObjectNode error(String type, String code, String message) {
    ObjectNode o = JSON.createObjectNode();
    o.putObject("error").put("message", message).put("type", type).put("code", code);
    return o;
  }

  private static ObjectNode stamp(ObjectNode o, long now, String nonce) {
    o.put("issuedAt", Instant.ofEpochMilli(now).toString());
    o.put("nonce", nonce);
    return o;
  }

  private static Answer unsigned(int status, String type, String code, String message, String nonce, long now) {
    return new Answer(status, bytes(stamp(error(type, code, message), now, nonce)), null, 0, null);
  }

  private Answer signed(int status, ObjectNode o, String productId, long retryAfter) {
    byte[] body = bytes(o);
    return new Answer(status, body, "ed25519 " + sign(productId, body), retryAfter, productId);
  }

  /** Base64 of the Ed25519 signature of {@code body} with the product's private key. */
  String sign(String productId, byte[] body) {
    PrivateKey key = keys.computeIfAbsent(productId, id -> catalog.licenceSigningKey(id)
        .orElseThrow(() -> new IllegalStateException("licence product " + id + " has no key pair")));
    try {
      Signature s = ED25519.get();
      s.initSign(key);
      s.update(body);
      return Base64.getEncoder().encodeToString(s.sign());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("signing failed: " + e.getClass().getSimpleName());
    }
  }

  private static byte[] bytes(ObjectNode o) {
    try {
      return JSON.writeValueAsBytes(o);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A string field: required or not, at most {@value #MAX_TEXT} characters, no control characters. */
  private static String text(JsonNode tree, String field, boolean required) {
    JsonNode v = tree.get(field);
    if (v == null || v.isNull()) {
      if (required) {
        throw new IllegalArgumentException(field + " is required");
      }
      return null;
    }
    if (!v.isTextual() || v.asText().isEmpty()) {
      throw new IllegalArgumentException(field + " must be a non-empty string");
    }
    String s = v.asText();
    int max = field.equals("hostname") ? 255 : MAX_TEXT;
    if (s.length() > max) {
      throw new IllegalArgumentException(field + " must be at most " + max + " characters");
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        throw new IllegalArgumentException(field + " must not contain control characters");
      }
    }
    return s;
  }

  private void count(String product, String verb, String result) {
    counters.computeIfAbsent(product + '\0' + verb + '\0' + result, k -> Counter.builder("tollgate.licence.requests")
        .description("licence API requests by product, verb (activate, heartbeat, deactivate, keys) and result"
            + " (ok, or the error code; a heartbeat of a code that is not active: its status)")
        .tag("product", product).tag("verb", verb).tag("result", result).register(registry)).increment();
  }

  // ---------------------------------------------------------------- the admin port

  /**
   * The machines activated on a licence subscription, alive or dead as of now, oldest activation
   * first. Blocks on JDBC (and Redis).
   */
  public List<MachineView> machines(SubscriptionSnapshot snap) {
    long now = clock.millis();
    long aliveSince = now - 2 * snap.product().licence().heartbeatInterval().toMillis();
    List<MachineView> out = new ArrayList<>();
    try {
      for (Machines.Machine m : machines.list(snap.subscription().id())) {
        out.add(new MachineView(m.fingerprint(), m.hostname(), Instant.ofEpochMilli(m.activatedAt()),
            Instant.ofEpochMilli(m.lastSeen()), m.aliveSince(aliveSince)));
      }
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException("the machines table did not answer: " + e.getMessage(), e);
    }
    return out;
  }

  /**
   * Writes the pending last-seen times now, as the periodic batch does (tests, the load
   * measurement).
   *
   * @return the rows written
   */
  public int flushLastSeen() throws java.sql.SQLException {
    return writer.flush();
  }

  /** For tests in this package: the seen store. */
  Map<String, SeenTimes.Seen> seen(String subscriptionId) {
    return seen.all(subscriptionId);
  }

  @Override
  public void close() {
    workers.shutdown();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    writer.close();
  }
}
