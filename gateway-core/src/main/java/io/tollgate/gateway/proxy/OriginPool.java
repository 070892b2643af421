package io.tollgate.gateway.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import java.util.ArrayDeque;

/**
 * Idle keep-alive connections to one upstream origin, for one event loop: what {@link
 * BackendPools} hands an {@link Exchange}. Confined to that loop (every method, and the close
 * listener, run on it), so the deque needs no lock.
 *
 * <p>Why not Netty's {@code SimpleChannelPool}: its acquire health-checks a pooled channel with a
 * future that is already complete, and on a dead one closes it and acquires again from inside the
 * check's callback, three frames per dead channel. After a burst of 4,000 streams and an upstream
 * restart every pooled channel was dead, and the next acquire overflowed the event loop's stack
 * (measured: 1,500 dead channels passed, 2,000 overflowed a 1 MB stack); buyers got 502s saying
 * {@code StackOverflowError}. Here acquire is a loop, and a connection that closes while idle
 * leaves the deque at once.
 *
 * <p>Most recently used first, so a quiet period lets the upstream close the connections at the
 * bottom. At most {@link #MAX_IDLE} idle connections are kept; a connection released beyond that
 * is closed.
 */
final class OriginPool {

  /** Idle connections kept per origin and event loop; bounds the descriptors a burst leaves behind. */
  static final int MAX_IDLE = 1024;

  private final Bootstrap bootstrap;
  private final int maxIdle;
  private final ArrayDeque<Channel> idle = new ArrayDeque<>();
  /** A connection closed while idle leaves the deque (O(idle), at most {@link #MAX_IDLE} compares). */
  private final ChannelFutureListener dropWhenClosed = f -> idle.remove(f.channel());

  OriginPool(Bootstrap bootstrap, int maxIdle) {
    if (maxIdle < 0) {
      throw new IllegalArgumentException("maxIdle must be >= 0: " + maxIdle);
    }
    this.bootstrap = bootstrap;
    this.maxIdle = maxIdle;
  }

  /**
   * A live idle connection, most recently used first, else a new one. An idle connection comes as
   * an already succeeded future, so a listener added to it runs at once.
   */
  ChannelFuture acquire() {
    Channel ch;
    while ((ch = idle.pollFirst()) != null) {
      if (ch.isActive()) {
        return ch.newSucceededFuture();
      }
      ch.close();
    }
    ChannelFuture connect = bootstrap.connect();
    connect.channel().closeFuture().addListener(dropWhenClosed);
    return connect;
  }

  /**
   * Takes back a connection that answered a whole response and may carry the next request. The
   * caller closes a connection that is not reusable instead of releasing it.
   */
  void release(Channel ch) {
    if (!ch.isActive()) {
      return;
    }
    if (idle.size() >= maxIdle) {
      ch.close();
      return;
    }
    idle.offerFirst(ch);
  }

  /** Idle connections held now; for tests. */
  int idleCount() {
    return idle.size();
  }
}
