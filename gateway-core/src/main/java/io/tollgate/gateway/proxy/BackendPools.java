package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.concurrent.FastThreadLocal;
import io.tollgate.gateway.upstream.AddressPolicy;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;

/**
 * Keep-alive connections to upstream endpoints, one pool per (event loop, endpoint origin,
 * connect timeout).
 *
 * <p>A pool's bootstrap is registered on the event loop that asks for it, so a backend channel
 * always shares the buyer channel's thread: the pair needs no locks and a response's bytes never
 * cross threads. The map of pools lives in a {@link FastThreadLocal} of that event loop for the
 * same reason. An {@link OriginPool} per key does the pooling (most recently used first, dead
 * connections dropped, at most {@link OriginPool#MAX_IDLE} idle, connections capped with a queue
 * per {@link EndpointLimits}).
 *
 * <p>Every connection's resolved address passes the {@link AddressPolicy} before it is connected
 * ({@link CheckedResolverGroup}); a refused one fails the acquire with an {@link
 * UpstreamRefusedException}.
 */
final class BackendPools {

  /**
   * Strict framing, set here rather than left to Netty's defaults (which system properties can
   * loosen): a head with both {@code Content-Length} and {@code Transfer-Encoding}, differing
   * {@code Content-Length}s or a bare LF fails to decode instead of being guessed at, and {@link
   * BackendHandler} turns the failure into a 502 or a cut buyer connection. Header and trailer
   * tables as the buyer port's ({@link HeaderTables}, {@link Trailers}: Netty's validation, less
   * garbage).
   */
  static final int MAX_CHUNK_SIZE = 65536;

  static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
      .setMaxInitialLineLength(8192)
      .setMaxHeaderSize(65536)
      .setMaxChunkSize(MAX_CHUNK_SIZE)
      .setUseRfc9112TransferEncoding(true)
      .setAllowDuplicateContentLengths(false)
      .setStrictLineParsing(true)
      .setHeadersFactory(HeaderTables.VALIDATING)
      .setTrailersFactory(Trailers.SMALL);

  private final Transport transport;
  private final EndpointLimits limitsPerLoop;
  private final OriginPool.CapMeters capMeters;
  private final AddressResolverGroup<InetSocketAddress> resolver;
  private final SslContext ssl;
  private final EndpointHealth health;
  private final FastThreadLocal<Map<PoolKey, OriginPool>> pools = new FastThreadLocal<>() {
    @Override
    protected Map<PoolKey, OriginPool> initialValue() {
      return new HashMap<>();
    }
  };

  /**
   * @param transport the event loops' transport: the backend and DNS channels must be of it
   * @param limitsPerLoop each event loop's share of the per-endpoint caps
   */
  BackendPools(Transport transport, AddressPolicy policy, EndpointLimits limitsPerLoop, MeterRegistry registry) {
    this.transport = transport;
    this.limitsPerLoop = limitsPerLoop;
    this.health = new EndpointHealth(registry);
    AtomicInteger waiting = new AtomicInteger();
    Gauge.builder("tollgate.upstream.pending", waiting, AtomicInteger::get)
        .description("Calls waiting for a connection to their endpoint: its upstream.maxConnectionsPerEndpoint is reached")
        .register(registry);
    this.capMeters = new OriginPool.CapMeters(overflowCounter(registry, "queue_full"),
        overflowCounter(registry, "wait_timed_out"), waiting);
    this.resolver = new CheckedResolverGroup(new DnsAddressResolverGroup(new DnsNameResolverBuilder()
        .datagramChannelType(transport.datagramChannel())), policy);
    try {
      this.ssl = SslContextBuilder.forClient().build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot build the TLS client context", e);
    }
  }

  /** One pool per origin and connect timeout (a pool's bootstrap carries the timeout). */
  private record PoolKey(String host, int port, boolean tls, int connectTimeoutMillis) {}

  /** The pool of {@code origin} for the calling event loop; call it on {@code loop}. */
  OriginPool pool(EventLoop loop, Origin origin, int connectTimeoutMillis) {
    assert loop.inEventLoop();
    boolean tls = origin.tls();
    int port = origin.port();
    PoolKey key = new PoolKey(origin.host(), port, tls, connectTimeoutMillis);
    Map<PoolKey, OriginPool> map = pools.get();
    OriginPool pool = map.get(key);
    if (pool == null) {
      String host = origin.host();
      Bootstrap b = new Bootstrap()
          .group(loop)
          .channel(transport.socketChannel())
          .resolver(resolver)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
          .option(ChannelOption.TCP_NODELAY, true)
          // the buyer port's allocator: what a backend reads is written to a buyer, and a request
          // head and body merge into one buffer, pooled direct memory on both sides (Netty 4.2's
          // default adaptive allocator here cost a view object per copy and more CPU per call)
          .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
          .remoteAddress(InetSocketAddress.createUnresolved(host, port))
          .handler(new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
          if (tls) {
            ch.pipeline().addLast(ssl.newHandler(ch.alloc(), host, port));
          }
          ChunkedRelay relay = new ChunkedRelay();
          ch.pipeline().addLast(relay);
          ch.pipeline().addLast(new BackendCodec(DECODER, MAX_CHUNK_SIZE));
          ch.pipeline().addLast(new BackendHandler(relay));
        }
      });
      pool = new OriginPool(b, loop, OriginPool.MAX_IDLE, limitsPerLoop,
          TimeUnit.MILLISECONDS.toNanos(connectTimeoutMillis), capMeters);
      map.put(key, pool);
    }
    return pool;
  }

  private static Counter overflowCounter(MeterRegistry registry, String reason) {
    return Counter.builder("tollgate.upstream.overloaded")
        .description("Calls answered 503 upstream_overloaded: the endpoint's connection cap"
            + " (upstream.maxConnectionsPerEndpoint) was reached and its queue was full, or the wait passed the"
            + " connect timeout")
        .tag("reason", reason)
        .register(registry);
  }

  EndpointHealth health() {
    return health;
  }

  void close() {
    resolver.close();
  }
}
