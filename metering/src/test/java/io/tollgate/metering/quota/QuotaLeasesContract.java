package io.tollgate.metering.quota;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** One contract for every {@link QuotaPool}, driven through {@link QuotaLeases}. */
abstract class QuotaLeasesContract {

  static final long QUOTA = 20_000;
  static final long CHUNK = 500;
  static final int THREADS_PER_HOLDER = 4;
  static final int MAX_ESTIMATE = 60;
  static final int MAX_OVERRUN = 40;

  QuotaPool pool;
  ExecutorService refills;

  abstract QuotaPool createPool() throws Exception;

  abstract void dropPool() throws Exception;

  @BeforeEach
  void setUp() throws Exception {
    pool = createPool();
    refills = Executors.newFixedThreadPool(2);
  }

  @AfterEach
  void tearDown() throws Exception {
    refills.shutdownNow();
    dropPool();
  }

  QuotaLeases leases() {
    return new QuotaLeases(pool, refills, CHUNK, Duration.ofSeconds(5), Clock.systemUTC(),
        new SimpleMeterRegistry());
  }

  @Test
  void restore_isIdempotent_andTakeNeverExceedsRemaining() {
    pool.restore("s1", "2025-03", 1000);
    pool.restore("s1", "2025-03", 1000);
    assertThat(pool.take("s1", "2025-03", 700)).isEqualTo(700);
    pool.restore("s1", "2025-03", 1000);

    assertThat(pool.take("s1", "2025-03", 700)).as("a repeated restore must not refill").isEqualTo(300);
    assertThat(pool.take("s1", "2025-03", 700)).isZero();
    assertThat(pool.take("unknown", "2025-03", 10)).as("unprovisioned means nothing to lease").isZero();
  }

  @Test
  void renewal_restoresQuotaForTheNewPeriod() throws Exception {
    QuotaLeases leases = leases();
    leases.restore("s1", "2025-03", 10);
    assertThat(admit(leases, "s1", "2025-03", 10)).isEqualTo(Admission.ADMITTED);
    assertThat(admit(leases, "s1", "2025-03", 1)).isEqualTo(Admission.EXHAUSTED);

    leases.restore("s1", "2025-04", 10);

    assertThat(admit(leases, "s1", "2025-04", 10)).isEqualTo(Admission.ADMITTED);
  }

  @ParameterizedTest(name = "{0} lease holders")
  @ValueSource(ints = {1, 2})
  void concurrentCallers_neverExceedQuotaPlusBound_andUseUpNearlyAll(int holders) throws Exception {
    pool.restore("s1", "p", QUOTA);
    List<QuotaLeases> instances = new ArrayList<>();
    for (int i = 0; i < holders; i++) {
      instances.add(leases());
    }
    AtomicLong consumed = new AtomicLong();
    int threads = holders * THREADS_PER_HOLDER;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService callers = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        QuotaLeases leases = instances.get(t % holders);
        Random rnd = new Random(t);
        done.add(callers.submit(() -> {
          start.await();
          while (true) {
            long estimate = 1 + rnd.nextInt(MAX_ESTIMATE);
            if (admit(leases, "s1", "p", estimate) != Admission.ADMITTED) {
              return null;
            }
            long actual = estimate + rnd.nextInt(MAX_OVERRUN + 1);
            consumed.addAndGet(actual);
            leases.settle("s1", "p", estimate, actual);
          }
        }));
      }
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      callers.shutdownNow();
    }
    // Overshoot bound (see QuotaLeases): each call in flight when its holder's lease and the pool
    // ran out can overrun its estimate by MAX_OVERRUN; at most THREADS_PER_HOLDER per holder.
    long overshootBound = (long) holders * THREADS_PER_HOLDER * MAX_OVERRUN;
    assertThat(consumed.get()).as("quota + in-flight overrun bound").isLessThanOrEqualTo(QUOTA + overshootBound);
    // Undershoot: a holder is refused only when its lease cannot cover one estimate.
    assertThat(consumed.get()).as("nearly all quota is used").isGreaterThanOrEqualTo(QUOTA - (long) holders * MAX_ESTIMATE);
    assertThat(pool.remaining("s1", "p")).isZero();
  }

  static Admission admit(QuotaLeases leases, String sub, String period, long cost) throws Exception {
    Admission a = leases.tryAdmit(sub, period, cost);
    if (a instanceof Admission.Pending p) {
      return p.decision().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    return a;
  }
}
