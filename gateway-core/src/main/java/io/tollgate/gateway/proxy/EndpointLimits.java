package io.tollgate.gateway.proxy;

/**
 * Caps on the connections to one upstream endpoint ({@code upstream.maxConnectionsPerEndpoint},
 * {@code upstream.maxPendingPerEndpoint}).
 *
 * <p>Given for the whole buyer port, as nginx's {@code max_conns} and Envoy's circuit breakers
 * are; enforced per event loop, since each loop keeps its own pool (the backend connection shares
 * the buyer connection's thread, see {@link BackendPools}). Each loop gets {@link #perLoop an
 * equal share}, rounded up, so the port as a whole may exceed a cap by at most one less than the
 * number of loops. Buyer connections are spread over the loops in turn, so the shares fill
 * evenly; a loop cannot borrow another's share (its connections could not serve the other loop
 * without crossing threads).
 *
 * @param maxConnections connections open at once to one endpoint (idle, in use or connecting), at
 *     least 1
 * @param maxPending calls waiting at once for a connection to one endpoint once the cap is
 *     reached, at least 0; beyond it a call is answered 503 at once
 */
public record EndpointLimits(int maxConnections, int maxPending) {

  /** No cap (tests, and the embedding code that sets none). */
  public static final EndpointLimits UNLIMITED = new EndpointLimits(Integer.MAX_VALUE, Integer.MAX_VALUE);

  public EndpointLimits {
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections must be at least 1: " + maxConnections);
    }
    if (maxPending < 0) {
      throw new IllegalArgumentException("maxPending must be at least 0: " + maxPending);
    }
  }

  /** One event loop's share of these caps, out of {@code loops}: each divided, rounded up. */
  EndpointLimits perLoop(int loops) {
    return new EndpointLimits(share(maxConnections, loops), share(maxPending, loops));
  }

  private static int share(int total, int loops) {
    return total == Integer.MAX_VALUE ? total : (int) ((total + (long) loops - 1) / loops);
  }
}
