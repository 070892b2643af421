package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageRecorder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ForkJoinPool;

/**
 * A buyer port in front of real upstreams, with subscriptions defined in memory: what the proxy
 * does is tested here without the catalog's database (the gateway-level tests add it).
 *
 * <p>On the transport named by the system property {@value #TRANSPORT_PROPERTY} (default {@code
 * auto}), so the proxy tests can be run on each: {@code mvn ... -Dtollgate.test.transport=io_uring};
 * or on the one a test names. The tests of the buyer port's faults and edges (a buyer or upstream
 * that hangs up, resets or stalls, pipelining with reading paused, timeouts, chunked relay, the
 * lingering close after a 413) name each of io_uring, which {@code auto} takes, and epoll, which
 * {@code auto} falls back to where io_uring is missing (and operators may choose): both are
 * the product, and they differ in how they report a peer's hang-up and a half-closed input and in
 * when a flushed write leaves.
 */
final class ProxyHarness implements AutoCloseable {

  static final String TRANSPORT_PROPERTY = "tollgate.test.transport";
  /** The request-head timeout where a test gives none. */
  static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);
  /** The idle timeout where a test gives none. */
  static final Duration IDLE_TIMEOUT = Duration.ofMinutes(1);

  final Map<String, SubscriptionSnapshot> byKeyHash = new ConcurrentHashMap<>();
  /** The recorded events, each once it is published: at once, or for a held one at its thread's publish(). */
  final ConcurrentLinkedQueue<UsageEvent> events = new ConcurrentLinkedQueue<>();
  /** How many events were recorded held ({@link UsageRecorder#recordHeld}). */
  final java.util.concurrent.atomic.AtomicInteger recordedHeld = new java.util.concurrent.atomic.AtomicInteger();
  private final ThreadLocal<List<UsageEvent>> held = ThreadLocal.withInitial(java.util.ArrayList::new);
  /** How long a publish() of held events takes before they count: a test widens the window it guards. */
  volatile long publishMillis;
  /** As a journal: a held event is published by its thread's next publish() or plain record. */
  final UsageRecorder recorder = new UsageRecorder() {
    @Override
    public void record(UsageEvent event) {
      publish();
      events.add(event);
    }

    @Override
    public void recordHeld(UsageEvent event) {
      recordedHeld.incrementAndGet();
      held.get().add(event);
    }

    @Override
    public void publish() {
      List<UsageEvent> mine = held.get();
      if (!mine.isEmpty() && publishMillis > 0) {
        try {
          Thread.sleep(publishMillis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      events.addAll(mine);
      mine.clear();
    }
  };
  /** What the observer was told of each ended call. */
  final ConcurrentLinkedQueue<io.tollgate.gateway.observe.CallSummary> calls = new ConcurrentLinkedQueue<>();
  /** Told of each ended call after {@link #calls}, on the call's loop, as the gateway's observers are. */
  volatile java.util.function.Consumer<io.tollgate.gateway.observe.CallSummary> onEnded = call -> { };
  final SubscriptionCache cache;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final ProxyServices services;
  final BuyerServer server;
  final int port;

  ProxyHarness(int eventLoops, long maxBodyBytes) throws Exception {
    this(eventLoops, maxBodyBytes, AddressPolicy.ALLOW_ALL, HEAD_TIMEOUT);
  }

  /** A buyer port whose upstream connections pass {@code upstreams}. */
  ProxyHarness(int eventLoops, long maxBodyBytes, AddressPolicy upstreams) throws Exception {
    this(eventLoops, maxBodyBytes, upstreams, HEAD_TIMEOUT);
  }

  ProxyHarness(int eventLoops, long maxBodyBytes, Duration requestHeaderTimeout) throws Exception {
    this(eventLoops, maxBodyBytes, AddressPolicy.ALLOW_ALL, requestHeaderTimeout);
  }

  ProxyHarness(int eventLoops, long maxBodyBytes, AddressPolicy upstreams, Duration requestHeaderTimeout)
      throws Exception {
    this(eventLoops, maxBodyBytes, upstreams, requestHeaderTimeout, IDLE_TIMEOUT);
  }

  ProxyHarness(int eventLoops, long maxBodyBytes, AddressPolicy upstreams, Duration requestHeaderTimeout,
      Duration idleTimeout) throws Exception {
    this(eventLoops, maxBodyBytes, upstreams, requestHeaderTimeout, idleTimeout, EndpointLimits.UNLIMITED,
        System.getProperty(TRANSPORT_PROPERTY, Transport.AUTO), null);
  }

  /** A buyer port that enforces rate limits and quotas through {@code metering} (closed with it). */
  ProxyHarness(int eventLoops, CallMetering metering) throws Exception {
    this(eventLoops, 64 * 1024, AddressPolicy.ALLOW_ALL, HEAD_TIMEOUT, IDLE_TIMEOUT,
        EndpointLimits.UNLIMITED, System.getProperty(TRANSPORT_PROPERTY, Transport.AUTO), metering);
  }

  /** A buyer port that caps its connections to each endpoint. */
  ProxyHarness(int eventLoops, EndpointLimits limits) throws Exception {
    this(eventLoops, 64 * 1024, AddressPolicy.ALLOW_ALL, HEAD_TIMEOUT, IDLE_TIMEOUT, limits,
        System.getProperty(TRANSPORT_PROPERTY, Transport.AUTO), null);
  }

  /** A buyer port on the given transport. */
  ProxyHarness(int eventLoops, String transport) throws Exception {
    this(transport, eventLoops, 64 * 1024, HEAD_TIMEOUT, IDLE_TIMEOUT, EndpointLimits.UNLIMITED);
  }

  /**
   * A buyer port on {@code transport}, which must be available here: a test that names one is
   * there to cover it, so a missing one fails the test with its cause, never skips it.
   */
  ProxyHarness(String transport, int eventLoops, long maxBodyBytes, Duration requestHeaderTimeout,
      Duration idleTimeout, EndpointLimits limits) throws Exception {
    this(eventLoops, maxBodyBytes, AddressPolicy.ALLOW_ALL, requestHeaderTimeout, idleTimeout, limits,
        available(transport), null);
  }

  /** {@code transport}, failing the test with why it cannot run here when it cannot. */
  static String available(String transport) {
    Throwable cause = Transport.AUTO.equals(transport) ? null : Transport.unavailabilityCause(transport);
    if (cause != null) {
      throw new AssertionError("the buyer port's " + transport + " transport is not available here, so the tests"
          + " that cover it cannot run: " + cause, cause);
    }
    return transport;
  }

  /** A buyer port on {@code transport} that holds at most {@code maxConnections} buyer connections. */
  ProxyHarness(String transport, int maxConnections) throws Exception {
    this(1, 64 * 1024, AddressPolicy.ALLOW_ALL, HEAD_TIMEOUT, IDLE_TIMEOUT, EndpointLimits.UNLIMITED, maxConnections,
        available(transport), null);
  }

  private ProxyHarness(int eventLoops, long maxBodyBytes, AddressPolicy upstreams, Duration requestHeaderTimeout,
      Duration idleTimeout, EndpointLimits limits, String transport, CallMetering metering) throws Exception {
    this(eventLoops, maxBodyBytes, upstreams, requestHeaderTimeout, idleTimeout, limits, Integer.MAX_VALUE, transport,
        metering);
  }

  private ProxyHarness(int eventLoops, long maxBodyBytes, AddressPolicy upstreams, Duration requestHeaderTimeout,
      Duration idleTimeout, EndpointLimits limits, int maxConnections, String transport, CallMetering metering)
      throws Exception {
    cache = new SubscriptionCache(h -> Optional.ofNullable(byKeyHash.get(h)), ForkJoinPool.commonPool(),
        Duration.ofMinutes(1), null);
    services = new ProxyServices(cache, recorder, ExtractorFactory.REUSING,
        snap -> CompletableFuture.completedFuture(("{\"id\":\"" + snap.subscription().id() + "\"}").getBytes()),
        registry, null, metering).withUpstreamPolicy(upstreams).withObserver(call -> {
          calls.add(call);
          onEnded.accept(call);
        });
    server = new BuyerServer(new BuyerServer.Settings("127.0.0.1", 0, eventLoops, maxBodyBytes,
        idleTimeout, requestHeaderTimeout, maxConnections, transport, limits), services);
    port = server.start();
  }

  String url(String path) {
    return "http://127.0.0.1:" + port + path;
  }

  /** Registers a subscription and returns its key. */
  String subscribe(Product product, List<String> models, SubscriptionStatus status, Instant expiresAt) {
    return subscribe(product, models, status, expiresAt, "tg-test-" + UUID.randomUUID());
  }

  /** Registers an active subscription under a key chosen by the caller. */
  String subscribe(Product product, String key) {
    return subscribe(product, List.of(), SubscriptionStatus.ACTIVE, null, key);
  }

  private String subscribe(Product product, List<String> models, SubscriptionStatus status, Instant expiresAt,
      String key) {
    Instant now = Instant.now();
    Sku sku = new Sku("sku-" + product.id(), product.id(), "payg", Map.of(), models, BillingMode.PER_TOKEN,
        new Prices(now, "USD", null, null, null, null), null, null, null, null, Map.of(), now);
    Subscription sub = new Subscription("sub-" + UUID.randomUUID(), sku.id(), "buyer-1", "Buyer Ünïcode\r\nX",
        status, false, now, now, expiresAt, null);
    byKeyHash.put(ApiKeys.sha256Hex(key), new SubscriptionSnapshot(sub, sku, product));
    return key;
  }

  /** Registers an active subscription to a SKU of {@code mode} with these limits (null: none) and returns its key. */
  String subscribe(Product product, BillingMode mode, Integer rpm, Integer tpm, Long quota) {
    Instant now = Instant.now();
    boolean pack = mode != BillingMode.PER_TOKEN;
    Sku sku = new Sku("sku-" + UUID.randomUUID(), product.id(), "limited", Map.of(), List.of("mock-gpt", "mock-claude"),
        mode, new Prices(now, "USD", null, null, null, pack ? java.math.BigDecimal.TEN : null), quota,
        pack ? io.tollgate.gateway.catalog.Period.MONTH : null, rpm, tpm, Map.of(), now);
    Subscription sub = new Subscription("sub-" + UUID.randomUUID(), sku.id(), "buyer-1", "Buyer", SubscriptionStatus.ACTIVE,
        false, now, now, null, quota);
    String key = "tg-test-" + UUID.randomUUID();
    byKeyHash.put(ApiKeys.sha256Hex(key), new SubscriptionSnapshot(sub, sku, product));
    return key;
  }

  String subscribe(Product product) {
    return subscribe(product, List.of(), SubscriptionStatus.ACTIVE, null);
  }

  static Product product(Protocol protocol, String baseUrl, UpstreamAuth auth, Map<String, String> headers,
      Duration responseTimeout, List<String> paths) {
    return new Product("p-" + UUID.randomUUID(), "m-1", "Test " + protocol, protocol,
        List.of(new Endpoint(baseUrl, 1, headers)), auth, Duration.ofSeconds(2), responseTimeout, paths, null,
        null, null, Instant.now());
  }

  @Override
  public void close() {
    server.close();
    services.metering().close();
  }
}
