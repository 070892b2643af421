package io.tollgate.gateway.upstream;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Which resolved addresses tollgate may call as a merchant's upstream. Refused, whatever a URL
 * spells:
 *
 * <ul>
 *   <li>tollgate's own listeners (the buyer and admin ports, {@link #addListener}) on any local
 *       address: loopback (127.0.0.0/8, ::1), the wildcard (0.0.0.0, ::), the host's interface
 *       addresses and the listener's bound address. Else a merchant could let buyers read {@code
 *       /metrics} through the buyer port, or make a request loop through tollgate until its
 *       descriptors run out;
 *   <li>link-local and cloud metadata addresses, always (169.254.0.0/16, fe80::/10,
 *       fd00:ec2::254, 100.100.100.200): they hand out the host's cloud credentials;
 *   <li>the operator's {@code upstream.deniedNetworks}.
 * </ul>
 *
 * <p>Only resolved {@link InetAddress}es are judged, never host strings: {@code localhost} or
 * {@code 2130706433} are whatever the resolver makes of them (and registration refuses numeric
 * hosts that resolvers disagree on, {@link #isAmbiguousNumericHost}).
 * An IPv4 address embedded in an IPv6 one (mapped {@code ::ffff:a.b.c.d}, compatible {@code
 * ::a.b.c.d}, NAT64 {@code 64:ff9b::a.b.c.d}) is judged as the IPv4 address it carries. Any
 * other local port stays callable, so the demo's mock and test upstreams on loopback work
 * unless a denied network says otherwise.
 *
 * <p>Thread-safe. {@link #check} runs once per new upstream connection on an event loop: it does
 * no network I/O and no lookup; the host's interface addresses are listed at most every few
 * seconds, and only for a connection to a listener's port.
 */
public final class AddressPolicy {

  /** What {@link #check} decided. */
  public enum Verdict {
    ALLOWED,
    /** One of tollgate's own listeners. */
    OWN_LISTENER,
    /** A link-local or cloud metadata address. */
    LINK_LOCAL_OR_METADATA,
    /** In one of {@code upstream.deniedNetworks}. */
    DENIED_NETWORK;

    public boolean allowed() {
      return this == ALLOWED;
    }
  }

  /** Refuses nothing: the default of components tested without a gateway around them. */
  public static final AddressPolicy ALLOW_ALL = new AddressPolicy(false, List.of());

  private static final List<Network> ALWAYS_REFUSED = List.of(
      Network.parse("169.254.0.0/16"),
      Network.parse("fe80::/10"),
      Network.parse("fd00:ec2::254/128"), // AWS instance metadata over IPv6
      Network.parse("100.100.100.200/32")); // Alibaba Cloud instance metadata
  private static final List<Network> LOCAL = List.of(
      Network.parse("127.0.0.0/8"),
      Network.parse("::1/128"),
      Network.parse("0.0.0.0/8"), // Linux connects 0.0.0.0 to the local host
      Network.parse("::/128"));

  private final boolean enforcing;
  private final List<Network> denied;
  private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
  private final LocalAddresses local = new LocalAddresses();

  private AddressPolicy(boolean enforcing, List<Network> denied) {
    this.enforcing = enforcing;
    this.denied = denied;
  }

  /**
   * A policy refusing the listeners added later, link-local and metadata addresses, and {@code
   * deniedNetworks}.
   *
   * @param deniedNetworks CIDRs such as {@code 10.0.0.0/8} or {@code fc00::/7}
   * @throws IllegalArgumentException naming the first CIDR that is not one
   */
  public static AddressPolicy create(List<String> deniedNetworks) {
    List<Network> parsed = new ArrayList<>();
    for (String cidr : deniedNetworks) {
      parsed.add(Network.parse(cidr));
    }
    return new AddressPolicy(true, List.copyOf(parsed));
  }

  /**
   * Validates a CIDR of {@code upstream.deniedNetworks} without any lookup.
   *
   * @throws IllegalArgumentException saying what is wrong with it
   */
  public static void checkNetwork(String cidr) {
    Network.parse(cidr);
  }

  /**
   * Adds a listener as it is bound: its port is refused on every local address, and on {@code
   * bound}'s address. Registering the configured port before binding and the bound one after is
   * fine; duplicates are harmless.
   */
  public void addListener(InetSocketAddress bound) {
    if (!enforcing || bound.getPort() == 0) {
      return; // ALLOW_ALL is shared and refuses nothing; port 0 is not bound yet
    }
    InetAddress a = bound.getAddress();
    listeners.addIfAbsent(new Listener(bound.getPort(), a == null ? null : Network.raw(a)));
  }

  /**
   * Whether {@code host} (a URL's host, IPv6 in brackets) is a number that resolvers read as an
   * IPv4 address in different ways but is not written as one: {@code 127.1}, {@code 0x7f000001},
   * {@code 2130706433}, {@code 017.0.0.1} (octal to glibc and curl, decimal to the JDK). As in a
   * browser's URL parser, a host whose last label is a number is an IPv4 address, and only four
   * decimal numbers without leading zeros are accepted.
   */
  public static boolean isAmbiguousNumericHost(String host) {
    if (host.startsWith("[")) {
      return false;
    }
    boolean trailingDot = host.endsWith(".");
    String h = trailingDot ? host.substring(0, host.length() - 1) : host;
    String last = h.substring(h.lastIndexOf('.') + 1);
    boolean number = !last.isEmpty() && (last.chars().allMatch(c -> c >= '0' && c <= '9')
        || (last.length() >= 2 && last.charAt(0) == '0' && (last.charAt(1) == 'x' || last.charAt(1) == 'X')
            && last.substring(2).chars().allMatch(c -> Character.digit(c, 16) >= 0)));
    return number && (trailingDot || Network.parseIpv4(h) == null);
  }

  /** Whether this policy refuses nothing (its callers may then skip resolving names). */
  public boolean refusesNothing() {
    return !enforcing;
  }

  /**
   * Judges a resolved upstream address.
   *
   * @throws IllegalArgumentException if {@code address} is unresolved
   */
  public Verdict check(InetSocketAddress address) {
    if (!enforcing) {
      return Verdict.ALLOWED;
    }
    InetAddress ip = address.getAddress();
    if (ip == null) {
      throw new IllegalArgumentException("not resolved: " + address.getHostString());
    }
    byte[] a = Network.raw(ip);
    byte[] v4 = Network.embeddedIpv4(a);
    if (inAny(ALWAYS_REFUSED, a, v4)) {
      return Verdict.LINK_LOCAL_OR_METADATA;
    }
    if (isOwnListener(a, v4, address.getPort())) {
      return Verdict.OWN_LISTENER;
    }
    if (inAny(denied, a, v4)) {
      return Verdict.DENIED_NETWORK;
    }
    return Verdict.ALLOWED;
  }

  /** An address and the IPv4 address it embeds (null if none) are judged alike. */
  private static boolean inAny(List<Network> networks, byte[] a, byte[] v4) {
    return Network.anyContains(networks, a) || (v4 != null && Network.anyContains(networks, v4));
  }

  private boolean isOwnListener(byte[] a, byte[] v4, int port) {
    boolean portMatches = false;
    for (Listener l : listeners) {
      if (l.port() == port) {
        portMatches = true;
        if (l.address() != null && (Arrays.equals(l.address(), a) || Arrays.equals(l.address(), v4))) {
          return true;
        }
      }
    }
    return portMatches && (inAny(LOCAL, a, v4) || local.contains(a) || (v4 != null && local.contains(v4)));
  }

  @Override
  public String toString() {
    return enforcing ? "AddressPolicy[denied=" + denied + ", listeners=" + listeners + "]" : "AddressPolicy[allow all]";
  }

  /** A listener's port and bound address (16-byte form, null if unknown). */
  private record Listener(int port, byte[] address) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Listener l && l.port == port && Arrays.equals(l.address, address);
    }

    @Override
    public int hashCode() {
      return 31 * port + Arrays.hashCode(address);
    }

    @Override
    public String toString() {
      return (address == null ? "*" : Network.format(address)) + ":" + port;
    }
  }
}
