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

  @Test
  void aBusySubscriptionsLeaseGrows_soRefillsStayFew_andShrinksBackWhenCallsSlowDown() throws Exception {
    long quota = 10_000_000;
    pool.restore("s1", "p", quota);
    CountingPool counted = new CountingPool(pool);
    TestClock clock = new TestClock();
    QuotaLeases leases = new QuotaLeases(counted, refills, CHUNK, Duration.ofSeconds(5), clock,
        new SimpleMeterRegistry());

    // 100 chunks' worth of calls within one second: a fixed chunk would take the pool 100 times
    long calls = 100 * CHUNK;
    for (long i = 0; i < calls; i++) {
      assertThat(admit(leases, "s1", "p", quota, 1)).isEqualTo(Admission.ADMITTED);
      leases.settle("s1", "p", 1, 1);
    }
    awaitRefills();
    assertThat(counted.takes.get()).as("pool round trips for %d calls", calls).isLessThanOrEqualTo(12);
    assertThat(counted.largestTake.get()).as("a lease never grows past %d chunks", QuotaLeases.MAX_GROWTH)
        .isEqualTo(QuotaLeases.MAX_GROWTH * CHUNK);
    long heldAtPeak = leases.localBalance("s1", "p");
    assertThat(pool.remaining("s1", "p") + heldAtPeak + calls).as("nothing lost").isEqualTo(quota);

    // the same subscription, now one refill a minute: back down to the chunk
    for (int round = 0; round < 8; round++) {
      clock.advance(Duration.ofSeconds(60));
      long takesBefore = counted.takes.get();
      while (counted.takes.get() == takesBefore) {
        assertThat(admit(leases, "s1", "p", quota, 1)).isEqualTo(Admission.ADMITTED);
        leases.settle("s1", "p", 1, 1);
      }
      awaitRefills();
    }
    assertThat(counted.lastTake.get()).as("an idle subscription leases one chunk again").isEqualTo(CHUNK);
  }

  @Test
  void aSmallPackageIsNeverLeasedMoreThanASixteenthAtOnce() throws Exception {
    long quota = 16 * CHUNK * 2; // a sixteenth is two chunks
    pool.restore("s2", "p", quota);
    CountingPool counted = new CountingPool(pool);
    QuotaLeases leases = new QuotaLeases(counted, refills, CHUNK, Duration.ofSeconds(5), new TestClock(),
        new SimpleMeterRegistry());
    long served = 0;
    while (admit(leases, "s2", "p", quota, 1) == Admission.ADMITTED) {
      served++;
    }
    assertThat(served).as("every call of the package is served").isEqualTo(quota);
    assertThat(counted.largestTake.get()).isEqualTo(2 * CHUNK);
  }

  /** Waits until no refill runs or waits to run. */
  private void awaitRefills() {
    java.util.concurrent.ThreadPoolExecutor executor = (java.util.concurrent.ThreadPoolExecutor) refills;
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5))
        .until(() -> executor.getActiveCount() == 0 && executor.getQueue().isEmpty());
  }

  /** The pool under test, counting its takes and the largest amount a take asked for. */
  static final class CountingPool implements QuotaPool {
    final QuotaPool pool;
    final AtomicLong takes = new AtomicLong();
    final AtomicLong largestTake = new AtomicLong();
    final AtomicLong lastTake = new AtomicLong();

    CountingPool(QuotaPool pool) {
      this.pool = pool;
    }

    @Override
    public void restore(String s, String p, long q) {
      pool.restore(s, p, q);
    }

    @Override
    public long take(String s, String p, long max) {
      takes.incrementAndGet();
      largestTake.accumulateAndGet(max, Math::max);
      lastTake.set(max);
      return pool.take(s, p, max);
    }

    @Override
    public void giveBack(String s, String p, long amount) {
      pool.giveBack(s, p, amount);
    }

    @Override
    public long remaining(String s, String p) {
      return pool.remaining(s, p);
    }
  }

  @Test
  void remaining_isWhatAdmissionCanStillGrant_leasedOrNot() throws Exception {
    QuotaLeases leases = leases();
    assertThat(leases.remaining("s7", "2025-03", 100)).as("never drawn on: the whole quota").isEqualTo(100);
    for (int i = 0; i < 30; i++) {
      assertThat(admit(leases, "s7", "2025-03", 100, 1)).isEqualTo(Admission.ADMITTED);
    }
    assertThat(leases.remaining("s7", "2025-03", 100)).as("the pool's rest plus the unspent lease").isEqualTo(70);
    leases.settle("s7", "2025-03", 1, 5);
    assertThat(leases.remaining("s7", "2025-03", 100)).as("a call that cost more than reserved").isEqualTo(66);
    int admitted = 0;
    while (admit(leases, "s7", "2025-03", 100, 1) == Admission.ADMITTED) {
      admitted++;
    }
    assertThat(admitted).as("remaining said exactly what admission still granted").isEqualTo(66);
    assertThat(leases.remaining("s7", "2025-03", 100)).isZero();
  }

  @Test
  void estimatedRemaining_withoutAStoreCall_followsWhatIsLeft() throws Exception {
    QuotaLeases leases = leases();
    assertThat(leases.estimatedRemaining("s8", "2025-03", 2_000)).as("no refill yet: unknown").isEqualTo(-1);
    long used = 0;
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 300; i++) {
        assertThat(admit(leases, "s8", "2025-03", 2_000, 1)).isEqualTo(Admission.ADMITTED);
        used++;
      }
      awaitRefills();
      assertThat(leases.estimatedRemaining("s8", "2025-03", 2_000)).as("round %d", round)
          .isEqualTo(2_000 - used)
          .isEqualTo(leases.remaining("s8", "2025-03", 2_000));
    }
    while (admit(leases, "s8", "2025-03", 2_000, 1) == Admission.ADMITTED) {
      used++;
    }
    assertThat(used).isEqualTo(2_000);
    assertThat(leases.estimatedRemaining("s8", "2025-03", 2_000)).isZero();
  }

  static Admission admit(QuotaLeases leases, String sub, String period, long quota, long cost) throws Exception {
    Admission a = leases.tryAdmit(sub, period, quota, cost);
    if (a instanceof Admission.Pending p) {
      return p.decision().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    return a;
  }

  static Admission admit(QuotaLeases leases, String sub, String period, long cost) throws Exception {
    Admission a = leases.tryAdmit(sub, period, cost);
    if (a instanceof Admission.Pending p) {
      return p.decision().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    return a;
  }
}
