package io.tollgate.gateway.proxy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInstance.Lifecycle;

/**
 * A buyer port with one event loop on a named transport, started once for a test class's
 * contract and closed after it: the base of the contracts run once per transport ({@code @Nested}
 * OnIoUring / OnEpoll).
 */
@TestInstance(Lifecycle.PER_CLASS)
abstract class OneLoopPort {

  /** The buyer port's transport: {@link Transport#IO_URING} or {@link Transport#EPOLL}. */
  final String transport;
  ProxyHarness gw;

  OneLoopPort(String transport) {
    this.transport = transport;
  }

  @BeforeAll
  void start() throws Exception {
    gw = new ProxyHarness(transport, /* eventLoops= */ 1, 64 * 1024, ProxyHarness.HEAD_TIMEOUT,
        ProxyHarness.IDLE_TIMEOUT, EndpointLimits.UNLIMITED);
  }

  @AfterAll
  void stop() {
    gw.close();
  }
}
