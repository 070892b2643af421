package io.tollgate.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.proxy.CallMetering;
import io.tollgate.gateway.proxy.ProxySteps;
import io.tollgate.metering.quota.JdbcQuotaPool;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.quota.RateLimiter;
import io.tollgate.metering.usage.TokenUsage;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.UUID;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A call's admission and, at its end, its settlement, as the buyer handler and the exchange run
 * them on the event loop for a token-package subscription with rpm/tpm limits: the status at the
 * current time, the request body's {@code model} against the SKU's, the quota lease reservation
 * and the rpm/tpm windows ({@link CallMetering}), then the settlement of the reservation with the
 * tokens the call used. {@code meteringOnly} is the quota and rate-limit part alone, {@code scanBody}
 * the body's scan alone.
 *
 * <p>Calls go to {@value #SUBSCRIPTIONS} subscriptions in random order, with ~1 KB chat request
 * bodies in pooled direct buffers (as the codec hands them over); inputs are generated up front and
 * indexed with {@code i++ & MASK}. Leases are refilled from the embedded store's quota pool (H2 in memory)
 * on a pool of 2 threads, 20,000 tokens at a time, as the gateway's defaults do; quota and limits
 * are never reached. A call that found its lease short and waited for a refill is counted in
 * {@code waited}: on the steady path none does.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar AdmissionBenchmark -prof gc -rf json -rff benchmarks/results/admission.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AdmissionBenchmark {

  private static final int SUBSCRIPTIONS = 1024;
  private static final int CALLS = 1 << 16;
  private static final int MASK = CALLS - 1;
  private static final int BODIES = 16;

  private final Clock clock = Clock.systemUTC();
  private HikariDataSource db;
  private ExecutorService refills;
  private QuotaLeases tokenQuota;
  private QuotaLeases callQuota;
  private CallMetering metering;
  private final SubscriptionSnapshot[] snapshots = new SubscriptionSnapshot[SUBSCRIPTIONS];
  private final SubscriptionSnapshot[] calls = new SubscriptionSnapshot[CALLS];
  private final ByteBuf[] bodies = new ByteBuf[BODIES];
  private final TokenUsage[] used = new TokenUsage[BODIES];

  /** Calls that had to wait for a lease refill, per iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Waits {
    public long waited;
    int i;

    @Setup(Level.Iteration)
    public void reset() {
      waited = 0;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl("jdbc:h2:mem:quota-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
    config.setMaximumPoolSize(8);
    db = new HikariDataSource(config);
    JdbcQuotaPool pool = new JdbcQuotaPool(db, "tg_").migrate();
    refills = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "bench-quota-refill");
      t.setDaemon(true);
      return t;
    });
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    tokenQuota = new QuotaLeases(pool, refills, 20_000, Duration.ofSeconds(5), clock, registry);
    callQuota = new QuotaLeases(pool, refills, 20, Duration.ofSeconds(5), clock, registry);
    metering = new CallMetering(tokenQuota, callQuota, new RateLimiter(clock, 1, registry), registry);

    for (int p = 0; p < 16; p++) {
      Product product = BenchCatalog.product(p);
      Sku sku = BenchCatalog.packageSku(product);
      for (int i = p; i < SUBSCRIPTIONS; i += 16) {
        snapshots[i] = BenchCatalog.subscription(i, sku, product);
      }
    }
    SplittableRandom random = new SplittableRandom(42);
    for (int c = 0; c < CALLS; c++) {
      calls[c] = snapshots[random.nextInt(SUBSCRIPTIONS)];
    }
    for (int b = 0; b < BODIES; b++) {
      byte[] json = chatRequest(b).getBytes(StandardCharsets.UTF_8);
      bodies[b] = PooledByteBufAllocator.DEFAULT.directBuffer(json.length).writeBytes(json);
      used[b] = new TokenUsage(json.length / 5, 0, 100 + 10 * b, /* estimated= */ false);
    }
    // First calls: each lease is provisioned and filled, so the measurement starts on the steady path.
    for (SubscriptionSnapshot snap : snapshots) {
      Object d = ProxySteps.await(ProxySteps.admit(metering, snap, bodies[0]));
      ProxySteps.settle(d, /* billable= */ false, TokenUsage.ZERO);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    metering.close();
    tokenQuota.close();
    callQuota.close();
    refills.shutdown();
    db.close();
    for (ByteBuf b : bodies) {
      b.release();
    }
  }

  /** Status, model, quota and rate limits, then the settlement when the call ends. */
  @Benchmark
  public Object admitAndSettle(Waits w) {
    int i = w.i++;
    SubscriptionSnapshot snap = calls[i & MASK];
    ByteBuf body = bodies[i & (BODIES - 1)];
    if (snap.subscription().statusAt(clock.instant()) != SubscriptionStatus.ACTIVE
        || !snap.sku().allowsModel(ProxySteps.model(body))) {
      throw new IllegalStateException("every benchmark call is admissible");
    }
    return meter(snap, body, used[i & (BODIES - 1)], w);
  }

  /** The request body's scan alone ({@code RequestBody.scan}), which gives the model checked above. */
  @Benchmark
  public String scanBody(Waits w) {
    return ProxySteps.model(bodies[w.i++ & (BODIES - 1)]);
  }

  /** The quota lease and rpm/tpm part alone: admission and settlement. */
  @Benchmark
  public Object meteringOnly(Waits w) {
    int i = w.i++;
    return meter(calls[i & MASK], bodies[i & (BODIES - 1)], used[i & (BODIES - 1)], w);
  }

  private Object meter(SubscriptionSnapshot snap, ByteBuf body, TokenUsage tokens, Waits w) {
    Object decision = ProxySteps.admit(metering, snap, body);
    if (!ProxySteps.admitted(decision)) {
      w.waited++;
      decision = ProxySteps.await(decision);
      if (!ProxySteps.admitted(decision)) {
        throw new IllegalStateException("refused: " + decision);
      }
    }
    ProxySteps.settle(decision, /* billable= */ true, tokens);
    return decision;
  }

  /** A chat completion request of about 1 KB, as an SDK sends it. */
  private static String chatRequest(int n) {
    String question = "Summarise the following notes for a status report, in three bullet points. ".repeat(10);
    return "{\"model\":\"" + BenchCatalog.MODEL + "\",\"messages\":[{\"role\":\"system\",\"content\":"
        + "\"You are a helpful assistant.\"},{\"role\":\"user\",\"content\":\"" + question + " #" + n + "\"}],"
        + "\"temperature\":0.2,\"max_tokens\":" + (200 + n) + ",\"stream\":false}";
  }
}
