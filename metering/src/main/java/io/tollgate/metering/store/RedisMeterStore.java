package io.tollgate.metering.store;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * {@link MeterStore} on Redis through Lettuce, standalone or Cluster.
 *
 * <p>Layout: every counter lives in a per-day hash {@code <prefix>:{<tag>}:d:<epochDay>} with
 * fields {@code <minuteOfDay>:<c|i|k|o|e>} (calls, input, cached input, output, estimated).
 * Each cell is written under four hash tags — {@code sub:<id>}, {@code sku:<id>},
 * {@code prod:<id>}, {@code mer:<id>} — so a query by any selector reads the hashes of one slot,
 * one per day. A batch spans many tags and therefore many Cluster slots, and a Lua script may
 * only touch one slot, so a batch is split into one sub-batch per tag, each applied by one script
 * call that first does {@code SET <prefix>:{<tag>}:applied:<batchId> NX EX <ttl>} and, only if
 * that set the key, runs its HINCRBYs. The marker and the increments live in one slot and one
 * script, so each sub-batch applies atomically and at most once; a retried batch applies exactly
 * the sub-batches that were missing. All scripts of one {@link #apply} are pipelined (EVALSHA,
 * falling back to EVAL on NOSCRIPT after a restart or failover) and awaited together.
 *
 * <p>Applied markers expire after {@code appliedIdTtl} (default 7 days): a journal segment must
 * be replayed within that time of its first apply. Counter hashes expire after {@code retention}
 * (default 400 days); the exporter's records are the long-term truth.
 *
 * <p>Durability: counters are exact across a Redis restart only if Redis persists every write
 * before answering ({@code appendonly yes}, {@code appendfsync always}); with {@code everysec} a
 * Redis crash can lose up to a second of acknowledged batches, whose journal segments were
 * already trimmed. The tests run Redis that way and kill it with SIGKILL.
 */
public final class RedisMeterStore implements MeterStore {

  static final String APPLY_SCRIPT =
      "if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end\n"
          + "local i = 3\n"
          + "while i <= #ARGV do\n"
          + "  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])\n"
          + "  i = i + 3\n"
          + "end\n"
          + "for k = 2, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[2]) end\n"
          + "return 1\n";
  private static final String APPLY_SHA = sha1(APPLY_SCRIPT);
  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9_.:-]{1,40}");
  private static final String[] FIELDS = {"c", "i", "k", "o", "e"};

  /**
   * @param keyPrefix letters, digits and {@code _.:-}; no braces, they would change the hash tag.
   *     Defaults to {@code tg}.
   * @param commandTimeout how long one apply or query may take. Defaults to 2 s.
   * @param appliedIdTtl how long applied batch ids are remembered. Defaults to 7 days.
   * @param retention how long per-minute counters are kept. Defaults to 400 days.
   */
  public record Config(
      String keyPrefix, Duration commandTimeout, Duration appliedIdTtl, Duration retention) {

    public Config {
      if (!PREFIX.matcher(keyPrefix).matches()) {
        throw new IllegalArgumentException("keyPrefix must match " + PREFIX + ": " + keyPrefix);
      }
      if (commandTimeout.isNegative() || commandTimeout.isZero()) {
        throw new IllegalArgumentException("commandTimeout must be positive: " + commandTimeout);
      }
      if (appliedIdTtl.toSeconds() < 60 || retention.toSeconds() < 60) {
        throw new IllegalArgumentException("appliedIdTtl and retention must be at least 1 minute");
      }
    }

    public static Config defaults() {
      return new Config("tg", Duration.ofSeconds(2), Duration.ofDays(7), Duration.ofDays(400));
    }

    public Config withKeyPrefix(String prefix) {
      return new Config(prefix, commandTimeout, appliedIdTtl, retention);
    }

    public Config withCommandTimeout(Duration timeout) {
      return new Config(keyPrefix, timeout, appliedIdTtl, retention);
    }
  }

  private final RedisClusterAsyncCommands<String, String> redis;
  private final Config config;

  /**
   * @param redis commands of a String-codec connection, {@code StatefulRedisConnection.async()} or
   *     {@code StatefulRedisClusterConnection.async()}; the caller owns the connection
   */
  public RedisMeterStore(RedisClusterAsyncCommands<String, String> redis, Config config) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.config = Objects.requireNonNull(config, "config");
  }

  @Override
  public void apply(List<UsageBatch> batches) {
    List<CompletableFuture<Object>> calls = new ArrayList<>();
    for (UsageBatch batch : batches) {
      for (SubBatch sub : split(batch).values()) {
        calls.add(evalApply(sub));
      }
    }
    await(CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)), "apply");
  }

  /** Groups a batch's increments by hash tag, keeping each tag's day hashes in order. */
  private Map<String, SubBatch> split(UsageBatch batch) {
    Map<String, SubBatch> byTag = new LinkedHashMap<>();
    for (UsageCell cell : batch.cells()) {
      add(byTag, batch.id(), "sub:" + cell.subscriptionId(), cell);
      add(byTag, batch.id(), "sku:" + cell.skuId(), cell);
      if (cell.productId() != null) {
        add(byTag, batch.id(), "prod:" + cell.productId(), cell);
      }
      if (cell.merchantId() != null) {
        add(byTag, batch.id(), "mer:" + cell.merchantId(), cell);
      }
    }
    return byTag;
  }

  private void add(Map<String, SubBatch> byTag, String batchId, String tag, UsageCell cell) {
    SubBatch sub =
        byTag.computeIfAbsent(tag, t -> new SubBatch(key(t, "applied:" + batchId)));
    String dayKey = key(tag, "d:" + Math.floorDiv(cell.minuteStart(), 86_400_000L));
    int keyIndex = sub.keyIndex(dayKey);
    long minuteOfDay = Math.floorMod(cell.minuteStart(), 86_400_000L) / 60_000L;
    UsageCounts n = cell.counts();
    long[] values = {
      n.calls(), n.inputTokens(), n.cachedInputTokens(), n.outputTokens(), n.estimatedTokens()
    };
    for (int f = 0; f < FIELDS.length; f++) {
      if (values[f] != 0) {
        sub.args.add(Integer.toString(keyIndex));
        sub.args.add(minuteOfDay + ":" + FIELDS[f]);
        sub.args.add(Long.toString(values[f]));
      }
    }
  }

  private final class SubBatch {
    final List<String> keys = new ArrayList<>();
    final Map<String, Integer> keyIndexes = new HashMap<>();
    final List<String> args = new ArrayList<>();

    SubBatch(String appliedKey) {
      keys.add(appliedKey);
      args.add(Long.toString(config.appliedIdTtl().toSeconds()));
      args.add(Long.toString(config.retention().toSeconds()));
    }

    int keyIndex(String key) {
      return keyIndexes.computeIfAbsent(
          key,
          k -> {
            keys.add(k);
            return keys.size(); // Lua KEYS are 1-based
          });
    }
  }

  private CompletableFuture<Object> evalApply(SubBatch sub) {
    String[] keys = sub.keys.toArray(String[]::new);
    String[] args = sub.args.toArray(String[]::new);
    RedisFuture<Object> first = redis.evalsha(APPLY_SHA, ScriptOutputType.INTEGER, keys, args);
    return first
        .toCompletableFuture()
        .handle(
            (result, error) -> {
              if (error == null) {
                return CompletableFuture.completedFuture(result);
              }
              if (unwrap(error) instanceof RedisNoScriptException) {
                return redis
                    .eval(APPLY_SCRIPT, ScriptOutputType.INTEGER, keys, args)
                    .toCompletableFuture();
              }
              return CompletableFuture.failedFuture(error);
            })
        .thenCompose(f -> f);
  }

  @Override
  public List<UsageBucket> usage(
      UsageSelector selector, Instant from, Instant to, Granularity granularity) {
    String tag =
        switch (selector.dimension()) {
          case SUBSCRIPTION -> "sub:";
          case SKU -> "sku:";
          case PRODUCT -> "prod:";
          case MERCHANT -> "mer:";
        } + selector.id();
    long fromMs = from.toEpochMilli();
    long toMs = to.toEpochMilli();
    if (toMs <= fromMs) {
      return List.of();
    }
    long firstDay = Math.floorDiv(fromMs, 86_400_000L);
    long lastDay = Math.floorDiv(toMs - 1, 86_400_000L);
    if (lastDay - firstDay > 3660) {
      throw new IllegalArgumentException("usage queries span at most 10 years");
    }
    List<RedisFuture<Map<String, String>>> days = new ArrayList<>();
    for (long day = firstDay; day <= lastDay; day++) {
      days.add(redis.hgetall(key(tag, "d:" + day)));
    }
    await(CompletableFuture.allOf(days.stream().map(RedisFuture::toCompletableFuture)
        .toArray(CompletableFuture[]::new)), "usage query");
    Map<Long, long[]> perMinute = new HashMap<>();
    for (int d = 0; d < days.size(); d++) {
      long dayStart = (firstDay + d) * 86_400_000L;
      Map<String, String> fields = days.get(d).toCompletableFuture().join();
      fields.forEach(
          (field, value) -> {
            int colon = field.indexOf(':');
            long minute = dayStart + Long.parseLong(field, 0, colon, 10) * 60_000L;
            if (minute >= fromMs && minute < toMs) {
              int f = List.of(FIELDS).indexOf(field.substring(colon + 1));
              perMinute.computeIfAbsent(minute, m -> new long[FIELDS.length])[f] +=
                  Long.parseLong(value);
            }
          });
    }
    Map<Long, UsageCounts> counts = new HashMap<>();
    perMinute.forEach((m, v) -> counts.put(m, new UsageCounts(v[0], v[1], v[2], v[3], v[4])));
    return MeterStore.buckets(counts, granularity);
  }

  private String key(String tag, String suffix) {
    return config.keyPrefix() + ":{" + tag + "}:" + suffix;
  }

  private void await(CompletableFuture<?> all, String what) {
    try {
      all.get(config.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new MeterStoreException("redis " + what + " timed out after " + config.commandTimeout(), e);
    } catch (ExecutionException e) {
      throw new MeterStoreException("redis " + what + " failed: " + unwrap(e).getMessage(), unwrap(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MeterStoreException("interrupted during redis " + what, e);
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof ExecutionException || t instanceof java.util.concurrent.CompletionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static String sha1(String script) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-1").digest(script.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
