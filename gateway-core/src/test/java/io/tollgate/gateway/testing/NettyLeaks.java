package io.tollgate.gateway.testing;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Records every Netty buffer leak report of the test JVM, so tests can assert there are none.
 *
 * <p>Installed as a JUnit {@link LauncherSessionListener} (see META-INF/services), which runs
 * before any test class touches Netty: a leak detector is created once per buffer class, at class
 * initialisation, so installing the factory later would miss them. Surefire runs the tests with
 * {@code io.netty.leakDetection.level=paranoid}: every buffer is tracked.
 */
public final class NettyLeaks implements LauncherSessionListener {

  private static final List<String> REPORTS = new CopyOnWriteArrayList<>();

  @Override
  public void launcherSessionOpened(LauncherSession session) {
    install();
  }

  static synchronized void install() {
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
      @Override
      @SuppressWarnings("deprecation")
      public <T> ResourceLeakDetector<T> newResourceLeakDetector(
          Class<T> resource, int samplingInterval, long maxActive) {
        return new ResourceLeakDetector<T>(resource, samplingInterval, maxActive) {
          @Override
          protected void reportTracedLeak(String resourceType, String records) {
            REPORTS.add(resourceType + " leaked:" + records);
            super.reportTracedLeak(resourceType, records);
          }

          @Override
          protected void reportUntracedLeak(String resourceType) {
            REPORTS.add(resourceType + " leaked (untraced)");
            super.reportUntracedLeak(resourceType);
          }
        };
      }
    });
  }

  /**
   * Collects garbage and lets the detectors look, then returns the leaks found so far. Detection
   * runs when a tracked buffer is allocated after its leaked predecessor was collected, so this
   * allocates a few buffers between collections.
   */
  public static List<String> collect() {
    for (int i = 0; i < 5; i++) {
      System.gc();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (int j = 0; j < 64; j++) {
        io.netty.buffer.PooledByteBufAllocator.DEFAULT.buffer(16).release();
        io.netty.buffer.UnpooledByteBufAllocator.DEFAULT.buffer(16).release();
      }
    }
    return List.copyOf(REPORTS);
  }

  /** Drops the reports past the first {@code keep}: used by the test that leaks on purpose. */
  static void forget(int keep) {
    while (REPORTS.size() > keep) {
      REPORTS.remove(REPORTS.size() - 1);
    }
  }
}
