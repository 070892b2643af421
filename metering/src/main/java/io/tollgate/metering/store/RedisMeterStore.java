package io.tollgate.metering.store;

import io.lettuce.core.Range;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScoredValue;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.CommandOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import java.util.stream.Stream;

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
 * <p>Export marks ({@link ExportSource}): after every apply script of an {@link #apply} succeeded,
 * each (export window, subscription, SKU) its cells touch is marked in the sorted set {@code
 * <prefix>:{tw:<windowStartMillis>}:touched}; the member encodes the mark's dimensions (see {@link
 * #member}) and its score is the mark's version. Marking is one script per window per apply, not
 * per cell: {@code INCR <prefix>:{tw:<w>}:version}, then {@code ZADD} of every member with that
 * value. Versions come from a counter, not from {@code ZINCRBY 1}, because a member's count
 * restarts at 1 after a clear: two exporters whose lease overlapped could both read version 1,
 * one clears, a new apply marks again (1), and the other's stale clear would remove a mark whose
 * usage it never read. The counter never repeats while its marks exist (both keys share one
 * expiry, set in the same script). Marks are written after the cells, so a mark is never readable
 * before its usage; if marking fails, {@link #apply} throws and the aggregator retries the batch,
 * whose scripts then add nothing and whose marks are written again. The marks expire {@code
 * appliedIdTtl + exportWindow} after their last apply: a batch can still be applied (for the first
 * time) that long after it was cut, later than that the exporter no longer looks at the window.
 * {@link #clearTouched} is a script that removes a member only while its score equals the version
 * read.
 *
 * <p>Durability: counters are exact across a Redis restart only if Redis persists every write
 * before answering ({@code appendonly yes}, {@code appendfsync always}); with {@code everysec} a
 * Redis crash can lose up to a second of acknowledged batches, whose journal segments were
 * already trimmed. The tests run Redis that way and kill it with SIGKILL.
 */
public final class RedisMeterStore implements MeterStore, ExportSource {

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
  /** KEYS: touched set, version counter. ARGV: ttl seconds, members. Returns the version. */
  static final String MARK_SCRIPT =
      "local v = redis.call('INCR', KEYS[2])\n"
          // Defensive: a counter lost on its own (deleted by hand) must not go back below a live mark.
          + "local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
          + "if top[2] and v <= tonumber(top[2]) then\n"
          + "  v = tonumber(top[2]) + 1\n"
          + "  redis.call('SET', KEYS[2], v)\n"
          + "end\n"
          + "for i = 2, #ARGV do redis.call('ZADD', KEYS[1], v, ARGV[i]) end\n"
          + "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
          + "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
          + "return v\n";
  private static final String MARK_SHA = sha1(MARK_SCRIPT);
  /** KEYS: touched set. ARGV: member, version, member, version... Returns how many it removed. */
  static final String CLEAR_SCRIPT =
      "local n = 0\n"
          + "for i = 1, #ARGV, 2 do\n"
          + "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
          + "  if s and tonumber(s) == tonumber(ARGV[i + 1]) then\n"
          + "    n = n + redis.call('ZREM', KEYS[1], ARGV[i])\n"
          + "  end\n"
          + "end\n"
          + "return n\n";
  private static final String CLEAR_SHA = sha1(CLEAR_SCRIPT);
  /** Members per mark or clear script call: bounds how long one script holds Redis. */
  private static final int SCRIPT_CHUNK = 1000;
  /** Subscriptions whose minutes are read per pipelined round. */
  private static final int READ_CHUNK = 250;
  private static final long DAY = 86_400_000L;
  /** 8 days of 1-minute windows: the exporter asks for at most 7 days. */
  private static final long MAX_LISTED_WINDOWS = 8 * 1440;
  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9_.:-]{1,40}");
  private static final String[] FIELDS = {"c", "i", "k", "o", "e"};

  /**
   * @param keyPrefix letters, digits and {@code _.:-}; no braces, they would change the hash tag.
   *     Defaults to {@code tg}.
   * @param commandTimeout how long one apply or query may take. Defaults to 2 s.
   * @param appliedIdTtl how long applied batch ids are remembered. Defaults to 7 days.
   * @param retention how long per-minute counters are kept. Defaults to 400 days.
   * @param exportWindow length of the export windows marks are kept for, whole minutes from 1
   *     minute to 7 days, aligned to the epoch; every instance on the same keys must use the same.
   *     Defaults to 1 hour.
   */
  public record Config(
      String keyPrefix,
      Duration commandTimeout,
      Duration appliedIdTtl,
      Duration retention,
      Duration exportWindow) {

    public Config {
      ExportWindows.check(exportWindow);
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
      return new Config("tg", Duration.ofSeconds(2), Duration.ofDays(7), Duration.ofDays(400),
          ExportWindows.DEFAULT);
    }

    public Config withKeyPrefix(String prefix) {
      return new Config(prefix, commandTimeout, appliedIdTtl, retention, exportWindow);
    }

    public Config withCommandTimeout(Duration timeout) {
      return new Config(keyPrefix, timeout, appliedIdTtl, retention, exportWindow);
    }

    public Config withExportWindow(Duration window) {
      return new Config(keyPrefix, commandTimeout, appliedIdTtl, retention, window);
    }
  }

  private final RedisClusterAsyncCommands<String, String> redis;
  private final Config config;
  private final long windowMillis;

  /**
   * @param redis commands of a String-codec connection, {@code StatefulRedisConnection.async()} or
   *     {@code StatefulRedisClusterConnection.async()}; the caller owns the connection
   */
  public RedisMeterStore(RedisClusterAsyncCommands<String, String> redis, Config config) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.config = Objects.requireNonNull(config, "config");
    this.windowMillis = config.exportWindow().toMillis();
  }

  @Override
  public void apply(List<UsageBatch> batches) {
    List<CompletableFuture<Object>> calls = new ArrayList<>();
    for (UsageBatch batch : batches) {
      for (SubBatch sub : split(batch).values()) {
        calls.add(eval(APPLY_SCRIPT, APPLY_SHA, sub.keys, sub.args));
      }
    }
    await(CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)), "apply");
    markTouched(batches);
  }

  /** Marks every (window, subscription, SKU) the batches touch; see the class comment. */
  private void markTouched(List<UsageBatch> batches) {
    Map<Long, Set<String>> byWindow = new HashMap<>();
    for (UsageBatch batch : batches) {
      for (UsageCell cell : batch.cells()) {
        byWindow
            .computeIfAbsent(ExportWindows.start(cell.minuteStart(), windowMillis), w -> new LinkedHashSet<>())
            .add(member(cell.subscriptionId(), cell.skuId(), cell.productId(), cell.merchantId(),
                cell.buyerId(), cell.test()));
      }
    }
    if (byWindow.isEmpty()) {
      return;
    }
    String ttl = Long.toString(config.appliedIdTtl().plus(config.exportWindow()).toSeconds());
    List<CompletableFuture<Object>> calls = new ArrayList<>();
    byWindow.forEach(
        (window, members) -> {
          List<String> keys = List.of(touchedKey(window), key("tw:" + window, "version"));
          List<String> args = new ArrayList<>(Math.min(members.size(), SCRIPT_CHUNK) + 1);
          args.add(ttl);
          for (String member : members) {
            args.add(member);
            if (args.size() > SCRIPT_CHUNK) {
              calls.add(eval(MARK_SCRIPT, MARK_SHA, keys, args));
              args = new ArrayList<>(SCRIPT_CHUNK + 1);
              args.add(ttl);
            }
          }
          if (args.size() > 1) {
            calls.add(eval(MARK_SCRIPT, MARK_SHA, keys, args));
          }
        });
    await(CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)), "export marking");
    // Indexed only once marked (see touchedWindows for why the order matters).
    List<RedisFuture<Long>> indexed = new ArrayList<>(byWindow.size());
    for (long window : byWindow.keySet()) {
      indexed.add(redis.zadd(windowIndexKey(), (double) window, Long.toString(window)));
    }
    await(allOf(indexed), "export window index");
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

  /** EVALSHA, falling back to EVAL when Redis lost the script (restart, failover, flush). */
  private CompletableFuture<Object> eval(
      String script, String sha, List<String> keyList, List<String> argList) {
    String[] keys = keyList.toArray(String[]::new);
    String[] args = argList.toArray(String[]::new);
    RedisFuture<Object> first = redis.evalsha(sha, ScriptOutputType.INTEGER, keys, args);
    return first
        .toCompletableFuture()
        .handle(
            (result, error) -> {
              if (error == null) {
                return CompletableFuture.completedFuture(result);
              }
              if (unwrap(error) instanceof RedisNoScriptException) {
                return redis
                    .eval(script, ScriptOutputType.INTEGER, keys, args)
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

  @Override
  public Duration exportWindow() {
    return config.exportWindow();
  }

  /**
   * The windows of the index ({@code <prefix>:{tw-index}:windows}, scored by window start) in the
   * range whose marks are not all cleared: one ZRANGEBYSCORE, then one ZCARD per indexed window,
   * pipelined. So a run costs what the windows with pending marks cost, however short the windows
   * (7 days of 1-minute windows are 10,080 possible windows; without the index each would be
   * asked).
   *
   * <p>An indexed window whose marks are all cleared leaves the index: ZREM, then ZCARD of its
   * marks again, and ZADD back if one appeared. An apply indexes a window only after its marks are
   * written (M, then I). If its M came before this ZCARD, the ZCARD sees the mark and puts the
   * window back; if after, its I comes after the ZREM. Either way a marked window stays indexed,
   * without a script spanning two Cluster slots. Index entries far older than any window the
   * exporter still reads (twice the marks' lifetime before {@code from}) are trimmed.
   */
  @Override
  public List<Instant> touchedWindows(Instant from, Instant to) {
    long first = ExportWindows.firstStartFrom(ExportWindows.ceilMillis(from), windowMillis);
    long end = ExportWindows.ceilMillis(to);
    if (end <= first) {
      return List.of();
    }
    long count = (end - first + windowMillis - 1) / windowMillis;
    if (count > MAX_LISTED_WINDOWS) {
      throw new IllegalArgumentException(
          "touched windows ranges span at most " + MAX_LISTED_WINDOWS + " windows: " + from + ".." + to);
    }
    long marksLifetime = config.appliedIdTtl().plus(config.exportWindow()).toMillis();
    RedisFuture<Long> trimmed = redis.zremrangebyscore(windowIndexKey(),
        Range.create(Double.NEGATIVE_INFINITY, (double) (first - 2 * marksLifetime - 1)));
    RedisFuture<List<String>> indexed = redis.zrangebyscore(windowIndexKey(),
        Range.create((double) first, (double) (end - 1)));
    await(allOf(List.of(trimmed, indexed)), "touched windows query");
    List<Long> candidates = new ArrayList<>();
    for (String w : indexed.toCompletableFuture().join()) {
      long start = Long.parseLong(w);
      if (start >= first && start < end && Math.floorMod(start, windowMillis) == 0) {
        candidates.add(start);
      }
    }
    List<RedisFuture<Long>> sizes = new ArrayList<>(candidates.size());
    for (long w : candidates) {
      sizes.add(redis.zcard(touchedKey(w)));
    }
    await(allOf(sizes), "touched windows query");
    List<Instant> windows = new ArrayList<>();
    List<Long> empty = new ArrayList<>();
    for (int i = 0; i < sizes.size(); i++) {
      if (sizes.get(i).toCompletableFuture().join() > 0) {
        windows.add(Instant.ofEpochMilli(candidates.get(i)));
      } else {
        empty.add(candidates.get(i));
      }
    }
    if (!empty.isEmpty()) {
      unindexEmpty(empty, windows);
    }
    return windows;
  }

  /** Removes windows without marks from the index; one marked meanwhile goes back, and is listed. */
  private void unindexEmpty(List<Long> empty, List<Instant> windows) {
    List<RedisFuture<Long>> removed = new ArrayList<>(empty.size());
    for (long w : empty) {
      removed.add(redis.zrem(windowIndexKey(), Long.toString(w)));
    }
    await(allOf(removed), "export window index");
    List<RedisFuture<Long>> again = new ArrayList<>(empty.size());
    for (long w : empty) {
      again.add(redis.zcard(touchedKey(w)));
    }
    await(allOf(again), "export window index");
    List<RedisFuture<Long>> readded = new ArrayList<>();
    for (int i = 0; i < empty.size(); i++) {
      if (again.get(i).toCompletableFuture().join() > 0) {
        long w = empty.get(i);
        readded.add(redis.zadd(windowIndexKey(), (double) w, Long.toString(w)));
        windows.add(Instant.ofEpochMilli(w));
      }
    }
    await(allOf(readded), "export window index");
    windows.sort(null);
  }

  @Override
  public List<TouchedKey> touched(Instant windowStart) {
    long start = ExportWindows.checkStart(windowStart, windowMillis);
    RedisFuture<List<ScoredValue<String>>> range = redis.zrangeWithScores(touchedKey(start), 0, -1);
    await(range.toCompletableFuture(), "touched query");
    List<TouchedKey> keys = new ArrayList<>();
    for (ScoredValue<String> v : range.toCompletableFuture().join()) {
      keys.add(parseMember(v.getValue(), (long) v.getScore()));
    }
    return keys;
  }

  @Override
  public void clearTouched(Instant windowStart, List<TouchedKey> seen) {
    long start = ExportWindows.checkStart(windowStart, windowMillis);
    List<String> keys = List.of(touchedKey(start));
    List<CompletableFuture<Object>> calls = new ArrayList<>();
    List<String> args = new ArrayList<>();
    for (TouchedKey k : seen) {
      args.add(member(k.subscriptionId(), k.skuId(), k.productId(), k.merchantId(), k.buyerId(), k.test()));
      args.add(Long.toString(k.version()));
      if (args.size() >= 2 * SCRIPT_CHUNK) {
        calls.add(eval(CLEAR_SCRIPT, CLEAR_SHA, keys, args));
        args = new ArrayList<>();
      }
    }
    if (!args.isEmpty()) {
      calls.add(eval(CLEAR_SCRIPT, CLEAR_SHA, keys, args));
    }
    await(CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)), "clear marks");
  }

  /**
   * Reads the {@code sub:} day hashes, each with whichever of HMGET (the range's fields) and
   * HGETALL costs Redis less (see {@link #readWhole}), after a pipelined HLEN and OBJECT ENCODING;
   * pipelined over rounds of up to {@value #READ_CHUNK} subscriptions, the next round's sizes
   * asked before the last round is parsed. Ranges span at most 31 days (an export window at most
   * 7).
   */
  @Override
  public Map<String, List<MinuteUsage>> minutes(
      Collection<String> subscriptionIds, Instant from, Instant to) {
    Map<String, List<MinuteUsage>> out = new HashMap<>();
    long firstMinute = Math.floorDiv(ExportWindows.ceilMillis(from) + 59_999, 60_000L) * 60_000L;
    long endMinute = Math.floorDiv(ExportWindows.ceilMillis(to) + 59_999, 60_000L) * 60_000L;
    if (endMinute <= firstMinute || subscriptionIds.isEmpty()) {
      return out;
    }
    long firstDay = Math.floorDiv(firstMinute, DAY);
    long lastDay = Math.floorDiv(endMinute - 1, DAY);
    if (lastDay - firstDay > 31) {
      throw new IllegalArgumentException("minutes queries span at most 31 days: " + from + ".." + to);
    }
    List<DayRange> days = new ArrayList<>();
    for (long day = firstDay; day <= lastDay; day++) {
      days.add(new DayRange(day, Math.max(firstMinute, day * DAY), Math.min(endMinute, (day + 1) * DAY)));
    }
    // A round holds at most ~1M counters (8 MB): 250 subscriptions of an hour, fewer of a week.
    long countersPerSubscription = (endMinute - firstMinute) / 60_000L * FIELDS.length;
    int round = (int) Math.max(1, Math.min(READ_CHUNK, 1_000_000L / countersPerSubscription));
    List<String> ids = new ArrayList<>(new LinkedHashSet<>(subscriptionIds));
    List<DayRead> sized = size(ids.subList(0, Math.min(ids.size(), round)), days);
    List<DayRead> pending = List.of();
    for (int i = 0; i < ids.size(); i += round) {
      List<DayRead> reading = read(sized);
      int next = i + round;
      sized = next < ids.size() ? size(ids.subList(next, Math.min(ids.size(), next + round)), days) : List.of();
      collect(pending, out);
      pending = reading;
    }
    collect(pending, out);
    return out;
  }

  /** Asks the length and encoding of each (subscription, day)'s hash. */
  private List<DayRead> size(List<String> ids, List<DayRange> days) {
    List<DayRead> reads = new ArrayList<>(ids.size() * days.size());
    for (String id : ids) {
      for (DayRange day : days) {
        String key = key("sub:" + id, "d:" + day.day);
        reads.add(new DayRead(id, day, key, redis.hlen(key), redis.objectEncoding(key)));
      }
    }
    return reads;
  }

  /** Waits for the HLENs and sends the reads of the days that have a hash. */
  private List<DayRead> read(List<DayRead> sized) {
    if (sized.isEmpty()) {
      return sized;
    }
    await(allOf(sized.stream().flatMap(r -> Stream.of(r.length, r.encoding)).toList()),
        "minutes query");
    List<DayRead> reads = new ArrayList<>(sized.size());
    for (DayRead r : sized) {
      long length = r.length.toCompletableFuture().join();
      if (length == 0) {
        continue;
      }
      boolean compact = !"hashtable".equals(r.encoding.toCompletableFuture().join());
      CommandArgs<String, String> args = new CommandArgs<>(StringCodec.UTF8).addKey(r.key);
      if (readWhole(length, compact, r.day.fields.length)) {
        r.counters = redis.dispatch(CommandType.HGETALL, new DayCounters(r.day, true), args);
      } else {
        for (byte[] field : r.day.fields) {
          args.add(field);
        }
        r.counters = redis.dispatch(CommandType.HMGET, new DayCounters(r.day, false), args);
      }
      reads.add(r);
    }
    return reads;
  }

  /**
   * Whether HGETALL of a hash of {@code length} fields costs Redis less than HMGET of {@code
   * fields} of them. HGETALL answers 2 x length elements. HMGET answers {@code fields} elements,
   * but a compact hash (a listpack, up to {@code hash-max-listpack-entries} fields, 128 by
   * default, 512 in Debian's config) is scanned for every field asked: an hour's HMGET of 300
   * fields cost 64 us from a 20-field listpack and 360 us from a 240-field one, HGETALL of 20
   * fields 2.3 us. For 100,000 subscriptions that is seconds to minutes of a shared Redis. Fitted
   * to those figures, one element costs about 25 listpack steps.
   */
  static boolean readWhole(long length, boolean compact, int fields) {
    return compact ? 2 * length * 25 < fields * (25 + length) : 2 * length < fields;
  }

  /** The minutes of one day inside a range and the fields that hold them. */
  private static final class DayRange {
    final long day;
    final long from;
    final long firstMinuteOfDay;
    final byte[][] fields;

    DayRange(long day, long from, long to) {
      this.day = day;
      this.from = from;
      this.firstMinuteOfDay = (from - day * DAY) / 60_000L;
      int minutes = (int) ((to - from) / 60_000L);
      fields = new byte[minutes * FIELDS.length][];
      for (int m = 0; m < minutes; m++) {
        for (int f = 0; f < FIELDS.length; f++) {
          fields[m * FIELDS.length + f] =
              ((firstMinuteOfDay + m) + ":" + FIELDS[f]).getBytes(StandardCharsets.US_ASCII);
        }
      }
    }
  }

  /** One (subscription, day) read: its hash's length and encoding, then its counters. */
  private static final class DayRead {
    final String subscriptionId;
    final DayRange day;
    final String key;
    final RedisFuture<Long> length;
    final RedisFuture<String> encoding;
    RedisFuture<long[]> counters;

    DayRead(String subscriptionId, DayRange day, String key, RedisFuture<Long> length,
        RedisFuture<String> encoding) {
      this.subscriptionId = subscriptionId;
      this.day = day;
      this.key = key;
      this.length = length;
      this.encoding = encoding;
    }
  }

  /**
   * A day's counters in range, parsed straight from the reply into one slot per (minute, field)
   * of the range: from HMGET's values in field order (missing fields are 0), or from HGETALL's
   * field/value pairs, dropping the fields out of range. Lettuce's own {@code hmget} would pair
   * every value with its field in a {@code KeyValue}; this is over twice as fast, and the fields
   * are encoded once per query, not per subscription.
   */
  private static final class DayCounters extends CommandOutput<String, String, long[]> {
    private final long firstMinuteOfDay;
    private final boolean pairs;
    private int element;
    private int slot;

    DayCounters(DayRange day, boolean pairs) {
      super(StringCodec.UTF8, new long[day.fields.length]);
      this.firstMinuteOfDay = day.firstMinuteOfDay;
      this.pairs = pairs;
    }

    @Override
    public void set(ByteBuffer bytes) {
      int i = element++;
      if (!pairs) {
        if (bytes != null && i < output.length) {
          output[i] = counter(bytes);
        }
      } else if (i % 2 == 0) {
        slot = slot(bytes);
      } else if (slot >= 0) {
        output[slot] += counter(bytes);
      }
    }

    /** The slot of a field {@code <minuteOfDay>:<c|i|k|o|e>}, or -1 when it is out of range. */
    private int slot(ByteBuffer field) {
      long minute = 0;
      int digits = 0;
      while (field.hasRemaining()) {
        byte b = field.get();
        if (b == ':') {
          break;
        }
        minute = minute * 10 + (b - '0');
        digits++;
      }
      int f = field.remaining() == 1 ? "cikoe".indexOf(field.get()) : -1;
      if (digits == 0 || f < 0) {
        setError("not a counter field in a day hash");
        return -1;
      }
      long s = (minute - firstMinuteOfDay) * FIELDS.length + f;
      return s >= 0 && s < output.length ? (int) s : -1;
    }

    private long counter(ByteBuffer bytes) {
      boolean negative = bytes.hasRemaining() && bytes.get(bytes.position()) == '-';
      if (negative) {
        bytes.get();
      }
      long v = 0;
      while (bytes.hasRemaining()) {
        int digit = bytes.get() - '0';
        if (digit < 0 || digit > 9) {
          setError("not a counter in a day hash");
          return 0;
        }
        v = v * 10 + digit;
      }
      return negative ? -v : v;
    }
  }

  /** Waits for a round of reads and appends their minutes in order (reads are in day order). */
  private void collect(List<DayRead> reads, Map<String, List<MinuteUsage>> out) {
    if (reads.isEmpty()) {
      return;
    }
    await(allOf(reads.stream().map(r -> r.counters).toList()), "minutes query");
    for (DayRead read : reads) {
      List<MinuteUsage> list = out.get(read.subscriptionId);
      long[] values = read.counters.toCompletableFuture().join();
      for (int at = 0; at < values.length; at += FIELDS.length) {
        if (values[at] != 0 || values[at + 1] != 0 || values[at + 2] != 0 || values[at + 3] != 0
            || values[at + 4] != 0) {
          if (list == null) {
            list = new ArrayList<>();
            out.put(read.subscriptionId, list);
          }
          list.add(new MinuteUsage(read.day.from + at / FIELDS.length * 60_000L,
              new UsageCounts(values[at], values[at + 1], values[at + 2], values[at + 3], values[at + 4])));
        }
      }
    }
  }

  /**
   * A mark's member: each id as {@code <length>:<id>} (length in UTF-16 chars), or {@code -}
   * where it is null, for subscription, SKU, product, merchant and buyer; then {@code 1} or
   * {@code 0} for test. Ids may hold any character: a reader takes exactly {@code length} chars,
   * and the encoding is canonical, so a clear re-encodes a read mark to the same member.
   */
  static String member(
      String subscriptionId, String skuId, String productId, String merchantId, String buyerId,
      boolean test) {
    StringBuilder b = new StringBuilder(64);
    for (String id : new String[] {subscriptionId, skuId, productId, merchantId, buyerId}) {
      if (id == null) {
        b.append('-');
      } else {
        b.append(id.length()).append(':').append(id);
      }
    }
    return b.append(test ? '1' : '0').toString();
  }

  /** The mark a {@link #member} encodes; fails on anything {@link #member} does not write. */
  static TouchedKey parseMember(String member, long version) {
    String[] ids = new String[5];
    int p = 0;
    try {
      for (int i = 0; i < ids.length; i++) {
        if (member.charAt(p) == '-') {
          p++;
          continue;
        }
        int colon = member.indexOf(':', p);
        int length = Integer.parseInt(member, p, colon, 10);
        if (length < 0 || member.charAt(p) == '+' || colon + 1 + length > member.length()) {
          throw new IllegalArgumentException("bad length");
        }
        ids[i] = member.substring(colon + 1, colon + 1 + length);
        p = colon + 1 + length;
      }
      if (p != member.length() - 1 || "01".indexOf(member.charAt(p)) < 0 || ids[0] == null
          || ids[1] == null) {
        throw new IllegalArgumentException("bad tail");
      }
    } catch (RuntimeException e) {
      throw new MeterStoreException("malformed export mark " + member, e);
    }
    return new TouchedKey(ids[0], ids[1], ids[2], ids[3], ids[4], member.charAt(p) == '1', version);
  }

  private String windowIndexKey() {
    return key("tw-index", "windows");
  }

  private String touchedKey(long windowStart) {
    return key("tw:" + windowStart, "touched");
  }

  private static CompletableFuture<Void> allOf(List<? extends RedisFuture<?>> futures) {
    return CompletableFuture.allOf(
        futures.stream().map(RedisFuture::toCompletableFuture).toArray(CompletableFuture[]::new));
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
