package io.tollgate.gateway.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Every log event of the test run, as text, in {@code target/test-logs/<pid>.log}: what {@link
 * NoSecretsInLogs} reads after each test class.
 *
 * <p>An appender on the root logger and on {@code tollgate.access} ({@code logback-test.xml}). It
 * writes more than any encoder would: the formatted message, every argument's {@code toString()}
 * (the access log's {@code CallSummary} included), the MDC, key-value pairs, markers and the
 * whole exception. Gateways a test starts as processes of their own run on the test classpath,
 * load the same {@code logback-test.xml} and write their own file beside this JVM's; the
 * directory is found from this class's location, not the working directory, for their sake.
 */
public final class LogCapture extends AppenderBase<ILoggingEvent> {

  private static final Path DIRECTORY = directory();
  private OutputStream out;

  /** {@code target/test-logs}, beside {@code target/test-classes}. */
  static Path directory() {
    try {
      Path classes = Path.of(LogCapture.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return classes.resolveSibling("test-logs");
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void start() {
    try {
      Files.createDirectories(DIRECTORY);
      out = Files.newOutputStream(DIRECTORY.resolve(ProcessHandle.current().pid() + ".log"),
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      addError("cannot open the captured log", e);
      return;
    }
    super.start();
  }

  @Override
  public void stop() {
    super.stop();
    try {
      if (out != null) {
        out.close();
      }
    } catch (IOException e) {
      addError("cannot close the captured log", e);
    }
  }

  /** AppenderBase calls this under its lock: one writer at a time. */
  @Override
  protected void append(ILoggingEvent e) {
    try {
      out.write(render(e).getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  static String render(ILoggingEvent e) {
    StringBuilder sb = new StringBuilder(200);
    sb.append(e.getLevel()).append(' ').append(e.getLoggerName()).append(" [").append(e.getThreadName()).append("] ")
        .append(e.getFormattedMessage());
    Object[] args = e.getArgumentArray();
    if (args != null) {
      for (Object a : args) {
        sb.append(" | arg ").append(a);
      }
    }
    Map<String, String> mdc = e.getMDCPropertyMap();
    if (mdc != null && !mdc.isEmpty()) {
      sb.append(" | mdc ").append(mdc);
    }
    if (e.getKeyValuePairs() != null && !e.getKeyValuePairs().isEmpty()) {
      sb.append(" | kv ").append(e.getKeyValuePairs());
    }
    if (e.getMarkerList() != null && !e.getMarkerList().isEmpty()) {
      sb.append(" | markers ").append(e.getMarkerList());
    }
    IThrowableProxy t = e.getThrowableProxy();
    if (t != null) {
      sb.append('\n').append(ThrowableProxyUtil.asString(t));
    }
    return sb.append('\n').toString();
  }

  /** Before the first test: the files of earlier runs go, so each run is checked on its own lines. */
  public static final class Session implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
      long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
      try (var files = Files.list(DIRECTORY)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          if (Files.getLastModifiedTime(f).toMillis() < jvmStart) {
            Files.deleteIfExists(f);
          }
        }
      } catch (IOException e) {
        // no directory yet: nothing to clear
      }
    }
  }
}
