package io.tollgate.metering.quota;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * {@link QuotaPool} in Redis: one string key per subscription and period,
 * {@code <prefix>:{quota:<subscriptionId>}:<periodKey>}, taken from with an atomic Lua script.
 * EVAL is used directly (the script is tiny and leases are rare: one call per chunk).
 */
public final class RedisQuotaPool implements QuotaPool {

  private static final String TAKE =
      "local r = tonumber(redis.call('GET', KEYS[1]))\n"
          + "if not r or r <= 0 then return 0 end\n"
          + "local t = math.min(r, tonumber(ARGV[1]))\n"
          + "redis.call('DECRBY', KEYS[1], t)\n"
          + "return t\n";

  private final RedisClusterAsyncCommands<String, String> redis;
  private final String prefix;
  private final Duration timeout;

  public RedisQuotaPool(RedisClusterAsyncCommands<String, String> redis, String keyPrefix,
      Duration timeout) {
    this.redis = Objects.requireNonNull(redis, "redis");
    if (keyPrefix.contains("{") || keyPrefix.contains("}")) {
      throw new IllegalArgumentException("keyPrefix must not contain braces: " + keyPrefix);
    }
    this.prefix = keyPrefix;
    this.timeout = timeout;
  }

  private String key(String subscriptionId, String periodKey) {
    return prefix + ":{quota:" + subscriptionId + "}:" + periodKey;
  }

  @Override
  public void restore(String subscriptionId, String periodKey, long quota) {
    if (quota < 0) {
      throw new IllegalArgumentException("quota must not be negative: " + quota);
    }
    await(redis.setnx(key(subscriptionId, periodKey), Long.toString(quota)));
  }

  @Override
  public long take(String subscriptionId, String periodKey, long max) {
    Long taken = await(redis.<Long>eval(TAKE, ScriptOutputType.INTEGER,
        new String[] {key(subscriptionId, periodKey)}, Long.toString(max)));
    return taken == null ? 0 : taken;
  }

  @Override
  public void giveBack(String subscriptionId, String periodKey, long amount) {
    if (amount > 0) {
      await(redis.incrby(key(subscriptionId, periodKey), amount));
    }
  }

  @Override
  public long remaining(String subscriptionId, String periodKey) {
    String v = await(redis.get(key(subscriptionId, periodKey)));
    return v == null ? -1 : Long.parseLong(v);
  }

  private <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted talking to the quota pool", e);
    } catch (Exception e) {
      throw new IllegalStateException("quota pool call failed: " + e, e);
    }
  }
}
