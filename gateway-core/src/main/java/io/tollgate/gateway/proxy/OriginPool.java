package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keep-alive connections to one upstream origin, for one event loop: what {@link BackendPools}
 * hands an {@link Exchange}. Confined to that loop (every method, the close listener and the wait
 * timers run on it), so the deques and counts need no lock.
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
 *
 * <p>Connections open at once (idle, in use or connecting) are capped at {@link
 * EndpointLimits#maxConnections()}. At the cap, a call waits in a FIFO queue of at most {@link
 * EndpointLimits#maxPending()} for a connection to be released or to close, and no longer than
 * the connect timeout; past the queue or the wait its acquire fails with an {@link
 * UpstreamOverloadedException}, which the exchange answers with 503 without touching the
 * endpoint's health (the endpoint did nothing wrong). While calls wait, new ones queue behind
 * them, even if a connection has just come free, so the wait is first come, first served. A
 * waiting call whose buyer leaves cancels its acquire and leaves the queue.
 */
final class OriginPool {

  /** Idle connections kept per origin and event loop; bounds the descriptors a burst leaves behind. */
  static final int MAX_IDLE = 1024;

  /**
   * The cap's meters, shared by every pool of a buyer port: calls refused, by reason, and calls
   * waiting now.
   */
  record CapMeters(Counter queueFull, Counter waitTimedOut, AtomicInteger waiting) {}

  private final Bootstrap bootstrap;
  private final EventLoop loop;
  private final int maxIdle;
  private final int maxConnections;
  private final int maxPending;
  private final long maxWaitNanos;
  private final CapMeters meters;
  private final ArrayDeque<Channel> idle = new ArrayDeque<>();
  private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
  /** Connections counted against the cap: from the connect attempt until the channel has closed. */
  private int open;
  /** Set while {@link #serveWaiters} runs: a release from inside it does not start it again. */
  private boolean serving;
  /** A connection that closes leaves the idle deque (O(idle), at most {@link #MAX_IDLE} compares). */
  private final ChannelFutureListener onClose = f -> {
    idle.remove(f.channel());
    open--;
    serveWaiters();
  };

  /**
   * @param bootstrap connects on {@code loop}
   * @param limits this loop's share of the endpoint's caps
   * @param maxWaitNanos longest a call waits in the queue: the connect timeout
   */
  OriginPool(Bootstrap bootstrap, EventLoop loop, int maxIdle, EndpointLimits limits, long maxWaitNanos,
      CapMeters meters) {
    if (maxIdle < 0) {
      throw new IllegalArgumentException("maxIdle must be >= 0: " + maxIdle);
    }
    this.bootstrap = bootstrap;
    this.loop = loop;
    this.maxIdle = maxIdle;
    this.maxConnections = limits.maxConnections();
    this.maxPending = limits.maxPending();
    this.maxWaitNanos = maxWaitNanos;
    this.meters = meters;
  }

  /**
   * A live idle connection, most recently used first, else a new one while under the cap, else a
   * place in the queue. An idle connection comes as an already succeeded future, so a listener
   * added to it runs at once. Cancelling the future of a waiting call takes it out of the queue.
   */
  Future<Channel> acquire() {
    if (waiting.isEmpty()) {
      Channel ch = pollLiveIdle();
      if (ch != null) {
        return loop.newSucceededFuture(ch);
      }
      if (open < maxConnections) {
        return connect(loop.newPromise());
      }
    }
    if (waiting.size() >= maxPending) {
      meters.queueFull().increment();
      return loop.newFailedFuture(UpstreamOverloadedException.QUEUE_FULL);
    }
    Waiter w = new Waiter(loop.newPromise());
    w.timer = loop.schedule(() -> expire(w), maxWaitNanos, TimeUnit.NANOSECONDS);
    w.promise.addListener(f -> {
      if (f.isCancelled() && waiting.remove(w)) {
        meters.waiting().decrementAndGet();
        w.timer.cancel(false);
      }
    });
    waiting.add(w);
    meters.waiting().incrementAndGet();
    return w.promise;
  }

  /**
   * A live idle connection, most recently used first, when no call waits for one; else null, and
   * the caller {@link #acquire}s. The common case of {@link #acquire} without its future.
   */
  Channel pollIdle() {
    return waiting.isEmpty() ? pollLiveIdle() : null;
  }

  /**
   * Takes back a connection that answered a whole response and may carry the next request; the
   * first waiting call gets it. The caller closes a connection that is not reusable instead of
   * releasing it.
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
    serveWaiters();
  }

  /** Idle connections held now; for tests. */
  int idleCount() {
    return idle.size();
  }

  /** Calls waiting for a connection now; for tests. */
  int waitingCount() {
    return waiting.size();
  }

  private Channel pollLiveIdle() {
    Channel ch;
    while ((ch = idle.pollFirst()) != null) {
      if (ch.isActive()) {
        return ch;
      }
      ch.close();
    }
    return null;
  }

  private Promise<Channel> connect(Promise<Channel> promise) {
    open++;
    ChannelFuture connect = bootstrap.connect();
    connect.channel().closeFuture().addListener(onClose);
    connect.addListener((ChannelFuture f) -> {
      if (f.isSuccess()) {
        if (!promise.trySuccess(f.channel())) {
          release(f.channel());
        }
      } else {
        promise.tryFailure(f.cause());
      }
    });
    return promise;
  }

  /**
   * Hands released connections, or new ones as closed ones free the cap, to waiting calls in
   * order. Runs inline: a waiting call's listener may end its exchange and release the connection
   * again, which lands here while {@code serving} and is picked up by this loop.
   */
  private void serveWaiters() {
    if (serving) {
      return;
    }
    serving = true;
    try {
      Waiter w;
      while ((w = waiting.peekFirst()) != null) {
        Channel ch = pollLiveIdle();
        if (ch == null && open >= maxConnections) {
          return;
        }
        waiting.pollFirst();
        meters.waiting().decrementAndGet();
        w.timer.cancel(false);
        if (ch == null) {
          connect(w.promise);
        } else if (!w.promise.trySuccess(ch)) {
          idle.offerFirst(ch);
        }
      }
    } finally {
      serving = false;
    }
  }

  private void expire(Waiter w) {
    if (waiting.remove(w)) {
      meters.waiting().decrementAndGet();
      meters.waitTimedOut().increment();
      w.promise.tryFailure(UpstreamOverloadedException.WAIT_TIMED_OUT);
    }
  }

  /** A call waiting for a connection, and the timer that ends its wait. */
  private static final class Waiter {
    final Promise<Channel> promise;
    ScheduledFuture<?> timer;

    Waiter(Promise<Channel> promise) {
      this.promise = promise;
    }
  }
}
