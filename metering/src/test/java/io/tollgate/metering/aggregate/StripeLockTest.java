package io.tollgate.metering.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StripeLockTest {

  private long counter; // guarded by the lock under test, deliberately not atomic

  @Test
  void threadsTakingItTogether_neverOverlap() throws Exception {
    StripeLock lock = new StripeLock();
    int threads = 4;
    int rounds = 200_000;
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> started = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread th = new Thread(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < rounds; i++) {
          lock.lock();
          try {
            long seen = counter;
            if ((i & 1023) == 0) {
              Thread.yield(); // a holder that loses its core: the others must wait for it
            }
            counter = seen + 1;
          } finally {
            lock.unlock();
          }
        }
      });
      th.start();
      started.add(th);
    }
    start.countDown();
    for (Thread th : started) {
      th.join(TimeUnit.SECONDS.toMillis(60));
      assertThat(th.isAlive()).as("a thread still waiting for the lock").isFalse();
    }
    lock.lock(); // and it is free once all are done
    lock.unlock();
    assertThat(counter).as("increments under the lock: none lost to an overlap")
        .isEqualTo((long) threads * rounds);
  }
}
