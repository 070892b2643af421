package io.tollgate.gateway.proxy;

import io.tollgate.gateway.upstream.AddressPolicy;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * An upstream connection not attempted: the endpoint's host resolved to an address the {@link
 * AddressPolicy} refuses. Its message names the verdict, not the address, in case it travels; the
 * address is for the operator's log.
 */
final class UpstreamRefusedException extends IOException {

  private static final long serialVersionUID = 1L;

  final AddressPolicy.Verdict verdict;
  final transient InetSocketAddress address;

  UpstreamRefusedException(AddressPolicy.Verdict verdict, InetSocketAddress address) {
    super("upstream address refused: " + verdict);
    this.verdict = verdict;
    this.address = address;
  }

  /** Refusals are expected, and frequent under a misconfigured product: no stack trace. */
  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }
}
