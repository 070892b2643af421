package io.tollgate.benchmarks;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.proxy.ProxySteps;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A call's authentication, as the buyer handler runs it on its event loop: the key from the
 * {@code Authorization: Bearer} header, its SHA-256 hex, and the {@link SubscriptionCache} lookup
 * of that hash, among {@code subscriptions} subscriptions whose keys were all looked up once
 * before (the cache as full as it gets). Requests are header sets, as many as the subscriptions
 * (rounded up to a power of two), each with the key of a subscription drawn at random, indexed
 * with {@code i++ & MASK}: every subscription is in use, none more than the others. Parts: {@code
 * sha256Hex} alone, and {@code cacheLookup} alone (hashes computed up front).
 *
 * <p>The cache's loader is a hash map standing in for the catalog database, on a pool of 4
 * threads as in the gateway; the cache's ticker is frozen, so nothing expires or refreshes during
 * a run: the hit path. A lookup that misses waits for its load (the call waits for it too); the
 * {@code hits} and {@code misses} counters say how often that happened. The gateway's cache holds
 * at most 200,000 entries, so with more subscriptions in use most lookups miss.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar KeyLookupBenchmark -prof gc -rf json -rff benchmarks/results/key-lookup.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class KeyLookupBenchmark {

  private static final int PRODUCTS = 16;

  @Param({"100000", "1000000"})
  public int subscriptions;

  private ExecutorService loads;
  private SubscriptionCache cache;
  private int mask;
  private HttpHeaders[] requests;
  private String[] keys;
  private String[] hashes;

  /** How lookups ended, per iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Outcome {
    public long hits;
    public long misses;
    int i;

    @Setup(Level.Iteration)
    public void reset() {
      hits = 0;
      misses = 0;
    }
  }

  @Setup(Level.Trial)
  public void fill() {
    SplittableRandom random = new SplittableRandom(42);
    Map<String, SubscriptionSnapshot> catalog = new HashMap<>(subscriptions * 4 / 3 + 1);
    String[] all = new String[subscriptions];
    List<Sku> skus = new ArrayList<>();
    List<Product> products = new ArrayList<>();
    for (int p = 0; p < PRODUCTS; p++) {
      products.add(BenchCatalog.product(p));
      skus.add(BenchCatalog.packageSku(products.get(p)));
    }
    for (int i = 0; i < subscriptions; i++) {
      all[i] = BenchCatalog.buyerKey(random);
      catalog.put(ApiKeys.sha256Hex(all[i]),
          BenchCatalog.subscription(i, skus.get(i % PRODUCTS), products.get(i % PRODUCTS)));
    }
    loads = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "bench-catalog");
      t.setDaemon(true);
      return t;
    });
    // sized to hold them all, as server.subscriptionCacheSize would be for a fleet of this size
    cache = new SubscriptionCache(hash -> Optional.ofNullable(catalog.get(hash)), loads, Duration.ofSeconds(60),
        () -> 0L, null, subscriptions);
    List<CompletableFuture<?>> batch = new ArrayList<>();
    for (int i = 0; i < subscriptions; i++) {
      batch.add(cache.lookup(ApiKeys.sha256Hex(all[i])));
      if (batch.size() == 10_000 || i == subscriptions - 1) {
        CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new)).join();
        batch.clear();
      }
    }
    int size = Integer.highestOneBit(subscriptions - 1) << 1;
    mask = size - 1;
    requests = new HttpHeaders[size];
    keys = new String[size];
    hashes = new String[size];
    for (int i = 0; i < size; i++) {
      keys[i] = all[random.nextInt(subscriptions)];
      hashes[i] = ApiKeys.sha256Hex(keys[i]);
      requests[i] = openAiSdkHeaders(keys[i]);
    }
    System.out.printf("%n%d subscriptions loaded, %d in the cache%n", subscriptions, cache.size());
  }

  /** About what the OpenAI Python SDK sends with a chat completion. */
  private static HttpHeaders openAiSdkHeaders(String key) {
    return new DefaultHttpHeaders()
        .add(HttpHeaderNames.HOST, "127.0.0.1:8080")
        .add(HttpHeaderNames.ACCEPT_ENCODING, "gzip, deflate")
        .add(HttpHeaderNames.CONNECTION, "keep-alive")
        .add(HttpHeaderNames.ACCEPT, "application/json")
        .add(HttpHeaderNames.CONTENT_TYPE, "application/json")
        .add(HttpHeaderNames.USER_AGENT, "OpenAI/Python 1.99.9")
        .add("x-stainless-lang", "python")
        .add("x-stainless-package-version", "1.99.9")
        .add("x-stainless-runtime", "CPython")
        .add(HttpHeaderNames.AUTHORIZATION, "Bearer " + key)
        .add(HttpHeaderNames.CONTENT_LENGTH, "1034");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loads.shutdownNow();
  }

  /** What the buyer handler does from the request head to the subscription snapshot. */
  @Benchmark
  public Object authenticate(Outcome o) {
    String key = ProxySteps.apiKey(requests[o.i++ & mask]);
    return found(cache.lookup(ApiKeys.sha256Hex(key)), o);
  }

  @Benchmark
  public String sha256Hex(Outcome o) {
    return ApiKeys.sha256Hex(keys[o.i++ & mask]);
  }

  @Benchmark
  public Object cacheLookup(Outcome o) {
    return found(cache.lookup(hashes[o.i++ & mask]), o);
  }

  private static Object found(CompletableFuture<Optional<SubscriptionSnapshot>> lookup, Outcome o) {
    if (lookup.isDone()) {
      o.hits++;
      return lookup.getNow(null);
    }
    o.misses++;
    return lookup.join();
  }
}
