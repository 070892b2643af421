package io.tollgate.billing;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.Objects;

/**
 * {@link ExportLease} as a Redis key holding the holder's id with a TTL: taken with {@code SET key
 * holder NX PX ttl}; renewed and released by Lua scripts that act only if the key still holds this
 * holder, so an instance whose lease expired and was taken by another never extends or deletes
 * the other's. Expiry is Redis's clock, the same for every instance. Standalone or Cluster (one
 * key, so one slot).
 */
public final class RedisExportLease implements ExportLease {

  static final String RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then"
      + " return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
  static final String RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then"
      + " return redis.call('DEL', KEYS[1]) else return 0 end";

  private final RedisClusterCommands<String, String> redis;
  private final String[] key;
  private final String holder;
  private final long ttlMillis;

  /**
   * @param redis sync commands of a String-codec connection ({@code StatefulRedisConnection.sync()}
   *     or {@code StatefulRedisClusterConnection.sync()}); the caller owns the connection
   * @param holder this instance, unique among those that share Redis
   */
  public RedisExportLease(RedisClusterCommands<String, String> redis, String key, String holder, Duration ttl) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.key = new String[] {Objects.requireNonNull(key, "key")};
    this.holder = Objects.requireNonNull(holder, "holder");
    if (ttl.toMillis() < 1) {
      throw new IllegalArgumentException("ttl must be at least 1 ms: " + ttl);
    }
    this.ttlMillis = ttl.toMillis();
  }

  @Override
  public boolean tryAcquire() {
    Long renewed = redis.eval(RENEW, ScriptOutputType.INTEGER, key, holder, Long.toString(ttlMillis));
    if (renewed != null && renewed == 1L) {
      return true;
    }
    return "OK".equals(redis.set(key[0], holder, SetArgs.Builder.nx().px(ttlMillis)));
  }

  @Override
  public void close() {
    redis.eval(RELEASE, ScriptOutputType.INTEGER, key, holder);
  }
}
