package io.tollgate.gateway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The leak check of the proxy tests can fail: a dropped buffer is reported. */
class NettyLeaksTest {

  @Test
  void droppedBuffer_isReported() {
    int before = NettyLeaks.collect().size();
    leak();
    assertThat(NettyLeaks.collect().size()).as("a buffer dropped without release must be reported")
        .isGreaterThan(before);
    NettyLeaks.forget(before);
  }

  private static void leak() {
    ByteBuf b = PooledByteBufAllocator.DEFAULT.buffer(128);
    b.writeInt(42);
  }
}
