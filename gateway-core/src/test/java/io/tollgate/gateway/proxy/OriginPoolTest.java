package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The pool's own rules. Idle handling on in-memory channels (no connection is made); the cap and
 * its queue on Netty's in-process transport, with real connects on one event loop.
 */
class OriginPoolTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final OriginPool.CapMeters meters = new OriginPool.CapMeters(registry.counter("queue_full"),
      registry.counter("wait_timed_out"), new AtomicInteger());
  private EventLoopGroup group;
  private Channel server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close().syncUninterruptibly();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  private OriginPool idlePool(int maxIdle) {
    return new OriginPool(new Bootstrap(), new EmbeddedChannel().eventLoop(), maxIdle, EndpointLimits.UNLIMITED,
        TimeUnit.SECONDS.toNanos(1), meters);
  }

  @Test
  void release_beyondMaxIdle_closesTheExcess_andAcquireTakesTheMostRecent() {
    OriginPool pool = idlePool(/* maxIdle= */ 2);
    EmbeddedChannel a = new EmbeddedChannel();
    EmbeddedChannel b = new EmbeddedChannel();
    EmbeddedChannel c = new EmbeddedChannel();

    pool.release(a);
    pool.release(b);
    pool.release(c);

    assertThat(c.isOpen()).as("a connection released over the cap is closed").isFalse();
    assertThat(pool.idleCount()).isEqualTo(2);
    assertThat(pool.acquire().getNow()).as("most recently used first").isSameAs(b);
    assertThat(pool.acquire().getNow()).isSameAs(a);
  }

  @Test
  void acquire_walksPastAnyNumberOfDeadIdleConnections() {
    // Netty's SimpleChannelPool recursed once per dead connection here; 20,000 would overflow.
    OriginPool pool = idlePool(/* maxIdle= */ 30_000);
    EmbeddedChannel survivor = new EmbeddedChannel();
    pool.release(survivor);
    List<Channel> dead = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      EmbeddedChannel ch = new EmbeddedChannel();
      pool.release(ch);
      dead.add(ch);
    }
    dead.forEach(Channel::close);

    assertThat(pool.acquire().getNow()).as("the one live connection under the dead ones").isSameAs(survivor);
    assertThat(pool.idleCount()).isZero();
  }

  @Test
  void release_ofAClosedConnection_keepsNothing() {
    OriginPool pool = idlePool(/* maxIdle= */ 4);
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.close();

    pool.release(ch);

    assertThat(pool.idleCount()).isZero();
  }

  private static final ChannelInitializer<Channel> NOTHING = new ChannelInitializer<>() {
    @Override
    protected void initChannel(Channel ch) {}
  };

  /** A pool of in-process connections to a server that accepts and ignores them. */
  private OriginPool cappedPool(EndpointLimits limits, Duration maxWait) {
    group = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
    LocalAddress address = new LocalAddress("origin-" + UUID.randomUUID());
    server = new ServerBootstrap().group(group).channel(LocalServerChannel.class)
        .childHandler(NOTHING).bind(address).syncUninterruptibly().channel();
    EventLoop loop = group.next();
    Bootstrap b = new Bootstrap().group(loop).channel(LocalChannel.class).remoteAddress(address)
        .handler(NOTHING);
    return new OriginPool(b, loop, OriginPool.MAX_IDLE, limits, maxWait.toNanos(), meters);
  }

  /** Runs {@code task} on the pool's loop, where every pool call belongs. */
  private <T> T onLoop(Callable<T> task) throws Exception {
    return group.next().submit(task).get(5, TimeUnit.SECONDS);
  }

  private static Channel connected(Future<Channel> f) {
    return f.awaitUninterruptibly(5, TimeUnit.SECONDS) && f.isSuccess() ? f.getNow() : null;
  }

  @Test
  void atTheCap_aCallWaits_andOneBeyondTheQueueFailsAtOnce() throws Exception {
    OriginPool pool = cappedPool(new EndpointLimits(2, 1), Duration.ofSeconds(30));
    Channel first = connected(onLoop(pool::acquire));
    Channel second = connected(onLoop(pool::acquire));

    Future<Channel> third = onLoop(pool::acquire);
    Future<Channel> fourth = onLoop(pool::acquire);

    assertThat(first).isNotNull();
    assertThat(second).isNotNull().isNotSameAs(first);
    assertThat(third.isDone()).as("the third call waits for one of the two connections").isFalse();
    assertThat(onLoop(pool::waitingCount)).isEqualTo(1);
    assertThat(meters.waiting().get()).isEqualTo(1);
    assertThat(fourth.isDone()).as("the queue holds one: the fourth is refused at once").isTrue();
    assertThat(fourth.cause()).isSameAs(UpstreamOverloadedException.QUEUE_FULL);
    assertThat(registry.counter("queue_full").count()).isEqualTo(1.0);
  }

  @Test
  void releasedConnection_goesToTheFirstWaitingCall_beforeAnyNewOne() throws Exception {
    OriginPool pool = cappedPool(new EndpointLimits(1, 2), Duration.ofSeconds(30));
    Channel only = connected(onLoop(pool::acquire));
    Future<Channel> waitingFirst = onLoop(pool::acquire);
    Future<Channel> waitingSecond = onLoop(pool::acquire);

    onLoop(() -> {
      pool.release(only);
      return null;
    });

    assertThat(waitingFirst.getNow()).as("first come, first served, on the same connection").isSameAs(only);
    assertThat(waitingSecond.isDone()).isFalse();
    assertThat(onLoop(pool::idleCount)).as("handed over, not kept idle").isZero();
    assertThat(meters.waiting().get()).isEqualTo(1);
  }

  @Test
  void closedConnection_freesItsPlace_forANewConnectionOfAWaitingCall() throws Exception {
    OriginPool pool = cappedPool(new EndpointLimits(1, 1), Duration.ofSeconds(30));
    Channel only = connected(onLoop(pool::acquire));
    Future<Channel> waiting = onLoop(pool::acquire);

    only.close().syncUninterruptibly();

    Channel next = connected(waiting);
    assertThat(next).as("a new connection once the closed one left the cap").isNotNull().isNotSameAs(only);
    assertThat(next.isActive()).isTrue();
  }

  @Test
  void waitLongerThanTheConnectTimeout_failsOverloaded() throws Exception {
    OriginPool pool = cappedPool(new EndpointLimits(1, 1), Duration.ofMillis(200));
    assertThat(connected(onLoop(pool::acquire))).isNotNull();

    Future<Channel> waiting = onLoop(pool::acquire);

    assertThat(waiting.awaitUninterruptibly(5, TimeUnit.SECONDS)).isTrue();
    assertThat(waiting.cause()).isSameAs(UpstreamOverloadedException.WAIT_TIMED_OUT);
    assertThat(onLoop(pool::waitingCount)).isZero();
    assertThat(registry.counter("wait_timed_out").count()).isEqualTo(1.0);
    assertThat(meters.waiting().get()).isZero();
  }

  @Test
  void cancelledWait_leavesTheQueue_soTheNextCallCanWait() throws Exception {
    OriginPool pool = cappedPool(new EndpointLimits(1, 1), Duration.ofSeconds(30));
    Channel only = connected(onLoop(pool::acquire));
    Future<Channel> leaving = onLoop(pool::acquire);

    onLoop(() -> leaving.cancel(false));
    Future<Channel> next = onLoop(pool::acquire);

    assertThat(next.isDone()).as("the place the cancelled call held is free: this one waits").isFalse();
    onLoop(() -> {
      pool.release(only);
      return null;
    });
    assertThat(next.getNow()).isSameAs(only);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> meters.waiting().get() == 0);
  }
}
