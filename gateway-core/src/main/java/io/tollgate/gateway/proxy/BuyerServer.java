package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The buyer port: a Netty pipeline of a request-head timer, {@link BuyerCodec} and a {@link
 * BuyerHandler} (which also keeps the idle timeout) per connection, on its own event loops of the
 * {@link Transport} chosen by {@code server.transport} (io_uring, epoll or NIO).
 *
 * <p>Why raw Netty and not Vert.x here: measured on this machine against nginx with a worker per
 * core, a raw Netty pipe proxy reached 1.04x nginx's requests/s at 1.1x its CPU per request, a
 * Vert.x HttpServer + HttpClient pipe 0.88-0.97x at 1.4x. Vert.x serves everything else.
 *
 * <p>Connections are capped ({@code server.maxConnections}): one over the cap is closed as soon
 * as it is accepted, on the accept loop, so idle connections opened by anyone cannot use up the
 * process's file descriptors, which the journal, the databases and upstream connections need too
 * (when they ran out, metering once stopped for good). The default cap is derived from the descriptor limit:
 * see {@link #derivedMaxConnections}.
 *
 * <p>Stopping is a drain ({@link #drain}): the listener closes first, so new connections are
 * refused; idle connections close at once, and each connection with a call in flight closes as
 * soon as its answer has ended, up to a deadline past which the rest are cut. {@link #close()}
 * alone is a drain with no time at all.
 */
public final class BuyerServer implements AutoCloseable {

  /**
   * The user event that asks a buyer connection to close as soon as nothing is in flight on it:
   * at once if idle, else when the current answer has ended.
   */
  static final Object DRAIN = new Object() {
    @Override
    public String toString() {
      return "DRAIN";
    }
  };

  /** Longest request line the codec reads; longer gets 400. */
  static final int MAX_INITIAL_LINE = 8192;
  /** Largest header block the codec reads; larger gets 400. */
  static final int MAX_HEADER_SIZE = 16384;
  /** Largest piece of a body the codec passes on at once. */
  static final int MAX_CHUNK_SIZE = 65536;
  /**
   * Netty's defaults but for the sizes above, smaller header tables ({@link HeaderTables}, same
   * validation) and trailer tables made only for a trailer field ({@link Trailers}).
   */
  static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
      .setMaxInitialLineLength(MAX_INITIAL_LINE)
      .setMaxHeaderSize(MAX_HEADER_SIZE)
      .setMaxChunkSize(MAX_CHUNK_SIZE)
      .setHeadersFactory(HeaderTables.VALIDATING)
      .setTrailersFactory(Trailers.SMALL);

  /**
   * @param eventLoops number of event loops, at least 1
   * @param maxBodyBytes largest request body read; larger gets 413
   * @param idleTimeout a connection with no request in flight for this long is closed
   * @param requestHeaderTimeout the whole head of a request must arrive within this time from its
   *     first byte; positive
   * @param maxConnections buyer connections open at once, at least 1; more are closed at once
   * @param transport {@code auto}, {@code io_uring}, {@code epoll} or {@code nio}
   * @param endpointLimits caps on the connections to each upstream endpoint, for the whole port
   */
  public record Settings(String host, int port, int eventLoops, long maxBodyBytes, Duration idleTimeout,
      Duration requestHeaderTimeout, int maxConnections, String transport, EndpointLimits endpointLimits) {
    public Settings {
      transport = transport == null ? Transport.AUTO : transport;
      endpointLimits = endpointLimits == null ? EndpointLimits.UNLIMITED : endpointLimits;
      if (eventLoops < 1) {
        throw new IllegalArgumentException("eventLoops must be at least 1: " + eventLoops);
      }
      if (requestHeaderTimeout == null || requestHeaderTimeout.isNegative() || requestHeaderTimeout.isZero()) {
        throw new IllegalArgumentException("requestHeaderTimeout must be positive: " + requestHeaderTimeout);
      }
      if (maxConnections < 1) {
        throw new IllegalArgumentException("maxConnections must be at least 1: " + maxConnections);
      }
    }

    /** Settings without connection caps, on the {@code auto} transport (tests). */
    public Settings(String host, int port, int eventLoops, long maxBodyBytes, Duration idleTimeout,
        Duration requestHeaderTimeout) {
      this(host, port, eventLoops, maxBodyBytes, idleTimeout, requestHeaderTimeout, Integer.MAX_VALUE, null, null);
    }
  }

  /**
   * Sets what Netty reads once, when its classes load, before anything in this process loads them:
   * io_uring accepts one connection at a time (see {@code Transport.ACCEPT_MULTISHOT}).
   */
  public static void setNettyDefaults() {
    Transport.setNettyDefaults();
  }

  /** Descriptors kept for the process's own files: jars, journal, databases, admin port, epoll. */
  static final int RESERVED_DESCRIPTORS = 256;

  /**
   * The default connection cap for a descriptor limit: what is left after {@link
   * #RESERVED_DESCRIPTORS}, halved because each buyer connection in flight holds an upstream
   * connection too (and pooled idle ones never outnumber the peak of those). At least 16. Under
   * {@code ulimit -n 900}: 322; under 1,048,576: 524,160.
   */
  public static int derivedMaxConnections(long descriptorLimit) {
    long usable = (descriptorLimit - RESERVED_DESCRIPTORS) / 2;
    return (int) Math.max(16, Math.min(Integer.MAX_VALUE, usable));
  }

  /** This process's descriptor limit (RLIMIT_NOFILE), or -1 where the platform does not say. */
  public static long descriptorLimit() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      return unix.getMaxFileDescriptorCount();
    }
    return -1;
  }

  private final Settings settings;
  private final ProxyServices services;
  private final Transport transport;
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private BackendPools pools;
  private Channel listener;
  private int boundPort;
  /** Open buyer connections (closed ones leave by themselves). */
  private final ChannelGroup connections = new DefaultChannelGroup("tollgate-buyers", GlobalEventExecutor.INSTANCE);
  private volatile boolean draining;

  /**
   * @throws IllegalArgumentException when {@code settings.transport()} names a transport that is
   *     not available in this process (the message says why)
   */
  public BuyerServer(Settings settings, ProxyServices services) {
    this.settings = settings;
    this.services = services;
    this.transport = Transport.choose(settings.transport());
  }

  /**
   * Binds the port.
   *
   * @return the bound port
   * @throws BindException when the port is in use or the address cannot be bound
   */
  public int start() throws BindException {
    boss = transport.newGroup(1, "tollgate-accept");
    workers = transport.newGroup(settings.eventLoops(), "tollgate-loop");
    pools = new BackendPools(transport, services.upstreamPolicy(),
        settings.endpointLimits().perLoop(settings.eventLoops()), services.registry());
    Via via = new Via(services.instanceId());
    long idleNanos = Math.max(1, settings.idleTimeout().toNanos());
    int maxConnections = settings.maxConnections();
    AtomicInteger open = new AtomicInteger();
    Gauge.builder("tollgate.buyer.connections", open, AtomicInteger::get)
        .description("buyer connections open").register(services.registry());
    Counter refused = Counter.builder("tollgate.buyer.connections.refused")
        .description("buyer connections closed at accept: over server.maxConnections")
        .register(services.registry());
    long headTimeoutNanos = settings.requestHeaderTimeout().toNanos();
    ServerBootstrap b = new ServerBootstrap()
        .group(boss, workers)
        .channel(transport.serverChannel())
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
        .handler(new OverCapRefusal(open, maxConnections, refused))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(
                new RequestHeadTimer(headTimeoutNanos),
                new BuyerCodec(DECODER, MAX_CHUNK_SIZE),
                new BuyerHandler(services, pools, via, settings.maxBodyBytes(), idleNanos));
            connections.add(ch);
            // Accepted just before the listener closed, after drain() told the others: told here.
            // (drain() sets the flag before it walks the group, so one of the two sees it.)
            if (draining) {
              ch.pipeline().fireUserEventTriggered(DRAIN);
            }
          }
        });
    try {
      listener = b.bind(new InetSocketAddress(settings.host(), settings.port())).syncUninterruptibly().channel();
      boundPort = ((InetSocketAddress) listener.localAddress()).getPort();
    } catch (Exception e) {
      close();
      BindException be = new BindException(
          "cannot listen on " + settings.host() + ":" + settings.port() + ": " + e.getMessage());
      be.initCause(e);
      throw be;
    }
    return port();
  }

  /**
   * Closes a connection over the cap where it was accepted, on the accept loop, before it is
   * handed to an event loop: a burst of connections then holds at most the descriptors of one
   * accept batch beyond the cap, not every connection accepted and still queued for a loop
   * (io_uring completes many accepts at once). Counts the open ones; each leaves the count when
   * its channel closes.
   */
  @ChannelHandler.Sharable
  private static final class OverCapRefusal extends ChannelInboundHandlerAdapter {
    private final AtomicInteger open;
    private final int maxConnections;
    private final Counter refused;

    OverCapRefusal(AtomicInteger open, int maxConnections, Counter refused) {
      this.open = open;
      this.maxConnections = maxConnections;
      this.refused = refused;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Channel child = (Channel) msg;
      if (open.incrementAndGet() > maxConnections) {
        open.decrementAndGet();
        refused.increment();
        child.unsafe().closeForcibly(); // not registered with a loop yet: closes its descriptor now
        return;
      }
      child.closeFuture().addListener(f -> open.decrementAndGet());
      ctx.fireChannelRead(child);
    }
  }

  /** The port bound at {@link #start()}, also once the listener has closed. */
  public int port() {
    return boundPort;
  }

  /**
   * Stops taking calls and lets those in flight end: closes the listener (new connections are
   * refused from now on), closes idle connections, and waits until every connection with a call
   * in flight has closed after its answer, at most {@code timeout}. Connections still open then
   * are left to {@link #close()}, which cuts them. Blocks; call it from no event loop.
   *
   * @return the number of connections still open at the deadline (0: drained)
   */
  public int drain(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    draining = true;
    if (listener != null) {
      listener.close().syncUninterruptibly();
      listener = null;
    }
    for (Channel ch : connections) {
      ch.pipeline().fireUserEventTriggered(DRAIN); // runs on the channel's event loop
    }
    while (!connections.isEmpty() && System.nanoTime() - deadline < 0) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return connections.size();
  }

  /**
   * Records a health probe of the endpoint at {@code url} of product {@code productId}: unhealthy
   * keeps it out of the weighted choice for {@code downFor}, or until a probe finds it healthy.
   */
  public void endpointProbed(String productId, String url, boolean healthy, Duration downFor) {
    pools.health().probed(productId, url, healthy, downFor.toNanos());
  }

  /**
   * The transport {@code server.transport} = {@code choice} gives in this process: {@code
   * io_uring}, {@code epoll} or {@code nio}.
   *
   * @throws IllegalArgumentException as the constructor does, when {@code choice} names a
   *     transport that is not available here
   */
  public static String transportFor(String choice) {
    return Transport.choose(choice == null ? Transport.AUTO : choice).name();
  }

  /** The transport in use: {@code io_uring}, {@code epoll} or {@code nio} (never {@code auto}). */
  public String transportName() {
    return transport.name();
  }

  /** Closes the port at once: what a {@link #drain} left open is cut. */
  @Override
  public void close() {
    draining = true;
    if (listener != null) {
      listener.close().syncUninterruptibly();
      listener = null;
    }
    connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    if (boss != null) {
      boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    if (pools != null) {
      pools.close();
    }
  }
}
