package io.tollgate.gateway.licence;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Last-seen times in this process: the embedded setup, one instance. Bounded by the machines
 * activated (each a seat someone bought); dead machines are forgotten by the sweep.
 */
final class LocalSeenTimes implements SeenTimes {

  private final ConcurrentHashMap<String, ConcurrentHashMap<String, Seen>> bySubscription = new ConcurrentHashMap<>();

  @Override
  public void put(String subscriptionId, String fingerprint, Seen seen) {
    bySubscription.computeIfAbsent(subscriptionId, k -> new ConcurrentHashMap<>()).put(fingerprint, seen);
  }

  @Override
  public void putIfAbsent(String subscriptionId, String fingerprint, Seen seen) {
    bySubscription.computeIfAbsent(subscriptionId, k -> new ConcurrentHashMap<>()).putIfAbsent(fingerprint, seen);
  }

  @Override
  public Touch touchIfAlive(String subscriptionId, String fingerprint, long now, long aliveSince) {
    Map<String, Seen> machines = bySubscription.get(subscriptionId);
    if (machines == null) {
      return new Touch(null, 0);
    }
    Seen[] before = new Seen[1];
    machines.computeIfPresent(fingerprint, (fp, s) -> {
      before[0] = s;
      return s.lastSeen() >= aliveSince && now > s.lastSeen() ? new Seen(now, s.activatedAt()) : s;
    });
    long alive = 0;
    for (Seen s : machines.values()) {
      alive += s.lastSeen() >= aliveSince ? 1 : 0;
    }
    return new Touch(before[0], alive);
  }

  @Override
  public Map<String, Seen> all(String subscriptionId) {
    Map<String, Seen> machines = bySubscription.get(subscriptionId);
    return machines == null ? Map.of() : Map.copyOf(machines);
  }

  @Override
  public void forget(String subscriptionId, String fingerprint) {
    bySubscription.computeIfPresent(subscriptionId, (k, machines) -> {
      machines.remove(fingerprint);
      return machines.isEmpty() ? null : machines;
    });
  }
}
