package io.tollgate.gateway.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Every log event of the test run, as text, in {@code target/test-logs/<pid>.log}: what {@link
 * NoSecretsInLogs} reads after each test class.
 *
 * <p>An appender on the root logger ({@code logback-test.xml}). It writes more than any encoder
 * would: the formatted message, every argument's {@code toString()}, the MDC, key-value pairs,
 * markers and the whole exception. It also copies everything written to {@code System.out} into
 * the same file, so the access log's lines (stdout by default; the access log is not Logback's)
 * are checked too; the test console appender writes to stderr, so no line is there twice. Gateways a test starts as processes of their own run on the test classpath,
 * load the same {@code logback-test.xml} and write their own file beside this JVM's; the
 * directory is found from this class's location, not the working directory, for their sake.
 */
public final class LogCapture extends AppenderBase<ILoggingEvent> {

  private static final Path DIRECTORY = directory();
  private static final AtomicBoolean STDOUT_COPIED = new AtomicBoolean();
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
      Path file = DIRECTORY.resolve(ProcessHandle.current().pid() + ".log");
      out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      if (STDOUT_COPIED.compareAndSet(false, true)) {
        copyStdout(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
      }
    } catch (IOException e) {
      addError("cannot open the captured log", e);
      return;
    }
    super.start();
  }

  /** From now on, what is written to stdout also goes to {@code copy} (one write each). */
  private static void copyStdout(OutputStream copy) {
    PrintStream original = System.out;
    OutputStream both = new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        original.write(b);
        copy.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        original.write(b, off, len);
        copy.write(b, off, len);
      }

      @Override
      public void flush() throws IOException {
        original.flush();
        copy.flush();
      }
    };
    System.setOut(new PrintStream(both, true, StandardCharsets.UTF_8));
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
