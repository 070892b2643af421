package io.tollgate.gateway.licence;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Last-seen times in Redis, shared by every instance: one hash per licence code, {@code
 * <prefix><subscriptionId>}, field the machine's fingerprint, value {@code
 * "<lastSeenMillis>:<activatedAtMillis>"}. A heartbeat is one script ({@link #TOUCH}) that
 * reads and, only if the machine is alive, moves its last-seen time, so a heartbeat racing a
 * deactivation or the sweep cannot bring a forgotten machine back. Each hash expires {@link #TTL}
 * after its last heartbeat: the machines table keeps what outlives it.
 */
final class RedisSeenTimes implements SeenTimes {

  static final Duration TTL = Duration.ofDays(8);

  /**
   * KEYS[1] hash; ARGV fingerprint, now, aliveSince, ttl ms. Returns {lastSeen, activatedAt, alive}
   * ({-1, 0, alive} without an entry), alive counting the code's machines seen at or after
   * aliveSince once the heartbeat is applied: a seat count in the same round trip.
   */
  static final String TOUCH = """
      local v = redis.call('HGET', KEYS[1], ARGV[1])
      local seen = -1
      local act = '0'
      if v then
        local i = string.find(v, ':', 1, true)
        seen = tonumber(string.sub(v, 1, i - 1))
        act = string.sub(v, i + 1)
        if seen >= tonumber(ARGV[3]) and tonumber(ARGV[2]) > seen then
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. act)
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
        end
      end
      local alive = 0
      local since = tonumber(ARGV[3])
      for _, e in ipairs(redis.call('HVALS', KEYS[1])) do
        local j = string.find(e, ':', 1, true)
        if j and tonumber(string.sub(e, 1, j - 1)) >= since then alive = alive + 1 end
      end
      return {seen, tonumber(act), alive}
      """;

  private final RedisCommands<String, String> redis;
  private final String prefix;
  private final String touchSha;

  RedisSeenTimes(RedisCommands<String, String> redis, String prefix) {
    this.redis = redis;
    this.prefix = prefix;
    this.touchSha = redis.scriptLoad(TOUCH);
  }

  private String key(String subscriptionId) {
    return prefix + subscriptionId;
  }

  private static String value(Seen s) {
    return s.lastSeen() + ":" + s.activatedAt();
  }

  @Override
  public void put(String subscriptionId, String fingerprint, Seen seen) {
    redis.hset(key(subscriptionId), fingerprint, value(seen));
    redis.pexpire(key(subscriptionId), TTL.toMillis());
  }

  @Override
  public void putIfAbsent(String subscriptionId, String fingerprint, Seen seen) {
    redis.hsetnx(key(subscriptionId), fingerprint, value(seen));
    redis.pexpire(key(subscriptionId), TTL.toMillis());
  }

  @Override
  public Touch touchIfAlive(String subscriptionId, String fingerprint, long now, long aliveSince) {
    List<Long> r;
    try {
      r = redis.evalsha(touchSha, ScriptOutputType.MULTI, new String[] {key(subscriptionId)}, fingerprint,
          Long.toString(now), Long.toString(aliveSince), Long.toString(TTL.toMillis()));
    } catch (io.lettuce.core.RedisNoScriptException e) {
      r = redis.eval(TOUCH, ScriptOutputType.MULTI, new String[] {key(subscriptionId)}, fingerprint,
          Long.toString(now), Long.toString(aliveSince), Long.toString(TTL.toMillis()));
    }
    long seen = r.get(0);
    return new Touch(seen < 0 ? null : new Seen(seen, r.get(1)), r.get(2));
  }

  @Override
  public Map<String, Seen> all(String subscriptionId) {
    Map<String, Seen> out = new HashMap<>();
    redis.hgetall(key(subscriptionId)).forEach((fp, v) -> {
      int i = v.indexOf(':');
      try {
        out.put(fp, new Seen(Long.parseLong(v.substring(0, i)), Long.parseLong(v.substring(i + 1))));
      } catch (RuntimeException e) {
        // not ours: ignored (the table still knows the machine)
      }
    });
    return out;
  }

  @Override
  public void forget(String subscriptionId, String fingerprint) {
    redis.hdel(key(subscriptionId), fingerprint);
  }
}
