package io.tollgate.gateway.proxy;

import java.io.IOException;

/**
 * A call not forwarded because its endpoint's connection cap was reached and the call could not
 * wait for a connection: the queue was full, or its wait passed the connect timeout (see {@link
 * OriginPool}). Answered with 503 {@code upstream_overloaded}; the endpoint's health is untouched.
 */
final class UpstreamOverloadedException extends IOException {

  private static final long serialVersionUID = 1L;

  static final UpstreamOverloadedException QUEUE_FULL =
      new UpstreamOverloadedException("endpoint connection cap reached and its queue full");
  static final UpstreamOverloadedException WAIT_TIMED_OUT =
      new UpstreamOverloadedException("endpoint connection cap reached; no connection came free within the connect timeout");

  private UpstreamOverloadedException(String message) {
    super(message);
  }

  /** Shared instances, thrown often under overload: no stack trace. */
  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }
}
