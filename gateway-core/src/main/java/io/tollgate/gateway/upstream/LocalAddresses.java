package io.tollgate.gateway.upstream;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's own interface addresses (up or down), listed again when the last list is older than
 * {@link #MAX_AGE_NANOS}, so an address the host gains (DHCP, a new interface) counts as local
 * within seconds. Listing takes a few ioctls and well under a millisecond; it runs only when a
 * connection goes to one of tollgate's listener ports, which upstreams rarely share.
 */
final class LocalAddresses {

  private static final Logger log = LoggerFactory.getLogger(LocalAddresses.class);
  static final long MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** A 16-byte address as a set key. */
  private record Key(long high, long low) {
    static Key of(byte[] a) {
      ByteBuffer b = ByteBuffer.wrap(a);
      return new Key(b.getLong(), b.getLong());
    }
  }

  private record Snapshot(long takenNanos, Set<Key> addresses) {}

  private volatile Snapshot snapshot;

  /** Whether {@code address} (16-byte form) is one of the host's interface addresses. */
  boolean contains(byte[] address) {
    Snapshot s = snapshot;
    if (s == null || System.nanoTime() - s.takenNanos() > MAX_AGE_NANOS) {
      s = refresh(s);
    }
    return s.addresses().contains(Key.of(address));
  }

  private Snapshot refresh(Snapshot previous) {
    Set<Key> keys = new HashSet<>();
    try {
      for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        for (InetAddress a : Collections.list(ni.getInetAddresses())) {
          keys.add(Key.of(Network.raw(a)));
        }
      }
    } catch (SocketException | RuntimeException e) {
      // Keep what we knew: loopback and the wildcard are refused without this list anyway.
      log.warn("cannot list the host's interface addresses: {}", e.toString());
      if (previous != null) {
        keys.addAll(previous.addresses());
      }
    }
    Snapshot s = new Snapshot(System.nanoTime(), Set.copyOf(keys));
    snapshot = s;
    return s;
  }
}
