package io.tollgate.gateway.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tollgate export --once --ignore-lease --config FILE --now T} in a JVM of its own, as a
 * billing job's cron runs it: started, then awaited (at most 60 s), so that a test can start
 * several at once or make one die at a crash point ({@code -Dtollgate.crashAt}).
 *
 * <p>{@code --ignore-lease}: the gateway these tests run next to holds the export lease for its
 * own exporter, and a crashed run holds it until it expires; the ledger, not the lease, is what
 * these tests put to the proof.
 */
final class ExportRun {

  private static final AtomicInteger RUNS = new AtomicInteger();
  private static final Pattern SUMMARY = Pattern.compile(
      "tollgate export: windows (\\d+), purchases (\\d+), usage records (\\d+), adjustments (\\d+)");

  /** What the run printed as its summary. */
  record Summary(int windows, int purchases, int usageRecords, int adjustments) {}

  /** How the process ended, and what it printed. */
  record Result(int exitCode, String stdout, String stderr) {

    /** The summary line; fails the test if the run did not complete. */
    Summary summary() {
      Matcher m = SUMMARY.matcher(stdout);
      if (exitCode != 0 || !m.find()) {
        throw new AssertionError("export --once exited " + exitCode + " without its summary; stdout:\n" + stdout
            + "\nstderr (tail):\n" + tail(stderr));
      }
      return new Summary(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
          Integer.parseInt(m.group(4)));
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "; stdout: " + stdout.strip() + "; stderr (tail):\n" + tail(stderr);
    }
  }

  private final Process process;
  private final Path out;
  private final Path err;

  private ExportRun(Process process, Path out, Path err) {
    this.process = process;
    this.out = out;
    this.err = err;
  }

  /** Starts a run as if it were {@code now}; {@code crashAt} (or null) names a crash point. */
  static ExportRun start(Path config, Instant now, String crashAt) throws IOException {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(javaBin, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Xshare:auto"));
    if (crashAt != null) {
      cmd.add("-Dtollgate.crashAt=" + crashAt);
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.tollgate.gateway.Main", "export", "--once",
        "--ignore-lease", "--config", config.toString(), "--now", now.toString()));
    int n = RUNS.incrementAndGet();
    Path out = config.resolveSibling("export-" + n + ".out");
    Path err = config.resolveSibling("export-" + n + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(config.getParent().toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("TOLLGATE_"));
    return new ExportRun(pb.start(), out, err);
  }

  /** Starts a run and awaits it. */
  static Result run(Path config, Instant now) throws IOException, InterruptedException {
    return start(config, now, null).await();
  }

  /** Waits for the run to end (at most 60 s, then it is killed and the test fails). */
  Result await() throws IOException, InterruptedException {
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("export --once still running after 60 s; stderr:\n"
          + tail(Files.readString(err, StandardCharsets.UTF_8)));
    }
    return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  /**
   * A {@code --now} at which every window holding usage up to this moment is due, for windows
   * and grace that add up to {@code windowPlusGraceMinutes}; whole milliseconds, as the ledger
   * stamps {@code exportedAt}.
   */
  static Instant dueNow(int windowPlusGraceMinutes) {
    return Instant.now().plus(Duration.ofMinutes(windowPlusGraceMinutes + 1)).truncatedTo(ChronoUnit.MILLIS);
  }

  private static String tail(String s) {
    String[] lines = s.split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
  }
}
