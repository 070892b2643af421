package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pool's own rules, on in-memory channels: no connection is made (the bootstrap is unused). */
class OriginPoolTest {

  @Test
  void release_beyondMaxIdle_closesTheExcess_andAcquireTakesTheMostRecent() {
    OriginPool pool = new OriginPool(new Bootstrap(), /* maxIdle= */ 2);
    EmbeddedChannel a = new EmbeddedChannel();
    EmbeddedChannel b = new EmbeddedChannel();
    EmbeddedChannel c = new EmbeddedChannel();

    pool.release(a);
    pool.release(b);
    pool.release(c);

    assertThat(c.isOpen()).as("a connection released over the cap is closed").isFalse();
    assertThat(pool.idleCount()).isEqualTo(2);
    assertThat(pool.acquire().channel()).as("most recently used first").isSameAs(b);
    assertThat(pool.acquire().channel()).isSameAs(a);
  }

  @Test
  void acquire_walksPastAnyNumberOfDeadIdleConnections() {
    // Netty's SimpleChannelPool recursed once per dead connection here; 20,000 would overflow.
    OriginPool pool = new OriginPool(new Bootstrap(), /* maxIdle= */ 30_000);
    EmbeddedChannel survivor = new EmbeddedChannel();
    pool.release(survivor);
    List<Channel> dead = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      EmbeddedChannel ch = new EmbeddedChannel();
      pool.release(ch);
      dead.add(ch);
    }
    dead.forEach(Channel::close);

    assertThat(pool.acquire().channel()).as("the one live connection under the dead ones").isSameAs(survivor);
    assertThat(pool.idleCount()).isZero();
  }

  @Test
  void release_ofAClosedConnection_keepsNothing() {
    OriginPool pool = new OriginPool(new Bootstrap(), /* maxIdle= */ 4);
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.close();

    pool.release(ch);

    assertThat(pool.idleCount()).isZero();
  }
}
