package io.tollgate.billing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The export lease's contract, run on every implementation (one subclass each). */
abstract class ExportLeaseContract {

  /** A lease on the test's own lease key or row, held by {@code holder}, for {@link #ttl()}. */
  abstract ExportLease lease(String holder);

  abstract Duration ttl();

  /** Lets {@code d} pass on the clock the lease expires by. */
  abstract void passTime(Duration d) throws InterruptedException;

  @Test
  void oneHolderHasItAtATime() {
    ExportLease a = lease("a");
    ExportLease b = lease("b");

    assertThat(a.tryAcquire()).isTrue();
    assertThat(b.tryAcquire()).as("a holds it").isFalse();
    assertThat(a.tryAcquire()).as("the holder renews").isTrue();
    assertThat(b.tryAcquire()).isFalse();
  }

  @Test
  void holdersReleasedTogether_exactlyOneWins() throws Exception {
    int holders = 6;
    ExecutorService pool = Executors.newFixedThreadPool(holders);
    try {
      for (int round = 0; round < 5; round++) { // the first takes a lease that never existed
        CyclicBarrier start = new CyclicBarrier(holders);
        List<ExportLease> leases = new ArrayList<>();
        List<Future<Boolean>> tries = new ArrayList<>();
        for (int h = 0; h < holders; h++) {
          ExportLease lease = lease("holder-" + h);
          leases.add(lease);
          tries.add(pool.submit(() -> {
            start.await();
            return lease.tryAcquire();
          }));
        }
        List<ExportLease> winners = new ArrayList<>();
        for (int h = 0; h < holders; h++) {
          if (tries.get(h).get(30, TimeUnit.SECONDS)) {
            winners.add(leases.get(h));
          }
        }
        assertThat(winners).as("winners of round " + round).hasSize(1);
        winners.get(0).close();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anExpiredLease_goesToAnother_andTheOldHolderLosesIt() throws InterruptedException {
    ExportLease a = lease("a");
    ExportLease b = lease("b");
    assertThat(a.tryAcquire()).isTrue();

    passTime(ttl().plusMillis(ttl().toMillis() / 5));

    assertThat(b.tryAcquire()).as("a stopped renewing").isTrue();
    assertThat(a.tryAcquire()).as("b holds it now").isFalse();
  }

  @Test
  void renewing_keepsItPastTheFirstTtl() throws InterruptedException {
    ExportLease a = lease("a");
    ExportLease b = lease("b");
    assertThat(a.tryAcquire()).isTrue();
    Duration step = ttl().multipliedBy(3).dividedBy(5);

    passTime(step);
    assertThat(a.tryAcquire()).isTrue();
    passTime(step);

    assertThat(b.tryAcquire()).as("1.2 ttl after a took it, but 0.6 after it renewed").isFalse();
  }

  @Test
  void release_letsAnotherTakeItAtOnce() {
    ExportLease a = lease("a");
    ExportLease b = lease("b");
    assertThat(a.tryAcquire()).isTrue();

    a.close();

    assertThat(b.tryAcquire()).isTrue();
  }

  @Test
  void releaseByANonHolder_changesNothing() {
    ExportLease a = lease("a");
    ExportLease b = lease("b");
    assertThat(a.tryAcquire()).isTrue();

    b.close();

    assertThat(lease("c").tryAcquire()).as("a still holds it").isFalse();
    assertThat(a.tryAcquire()).isTrue();
  }
}
