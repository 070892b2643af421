package io.tollgate.gateway.faults;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code tollgate serve --config FILE} in a JVM of its own, so a test can SIGKILL it and start it
 * again on the same config, data dir and ports. Its output goes to {@code gateway.log} next to
 * the config; {@link #logTail()} is what a failing test prints.
 */
final class GatewayProcess implements AutoCloseable {

  private final Path config;
  private final Path log;
  private final AdminClient admin;
  private Process process;
  private int starts;
  private int descriptorLimit;

  GatewayProcess(Path config, int adminPort) {
    this.config = config;
    this.log = config.resolveSibling("gateway.log");
    this.admin = new AdminClient(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(), adminPort);
  }

  /**
   * Runs the gateway under {@code ulimit -n limit} (soft and hard), as an operator's service
   * manager would; the JVM cannot raise it.
   */
  GatewayProcess withDescriptorLimit(int limit) {
    this.descriptorLimit = limit;
    return this;
  }

  /** Starts the process and waits until {@code /health/ready} answers 200. */
  GatewayProcess start() throws IOException, InterruptedException {
    return launch().awaitReady();
  }

  /** Starts the process without waiting for it ({@link #awaitReady()}), so several start at once. */
  GatewayProcess launch() throws IOException {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> java = List.of(javaBin, "-Xmx384m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        "io.tollgate.gateway.Main", "serve", "--config", config.toString());
    List<String> command = java;
    if (descriptorLimit > 0) {
      // exec: the shell becomes the JVM, so pid() and kill() reach the gateway itself
      command = new java.util.ArrayList<>(List.of("/bin/sh", "-c",
          "ulimit -n " + descriptorLimit + " && exec \"$0\" \"$@\""));
      command.addAll(java);
    }
    ProcessBuilder pb = new ProcessBuilder(command)
        .directory(config.getParent().toFile())
        .redirectErrorStream(true)
        .redirectOutput(Redirect.appendTo(log.toFile()));
    // The child reads its config from the file only; a stray TOLLGATE_* variable would override it.
    pb.environment().keySet().removeIf(k -> k.startsWith("TOLLGATE_"));
    Files.writeString(log, "---- start #" + ++starts + " ----\n", StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    process = pb.start();
    return this;
  }

  /** Waits (at most 40 s) until {@code /health/ready} answers 200; fails if the process exits first. */
  GatewayProcess awaitReady() throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
    int portRetries = 3;
    while (!admin.ready()) {
      if (!process.isAlive()) {
        if (portRetries-- > 0 && process.exitValue() == 2 && logTail().contains("Address already in use")) {
          // The test's free port was taken meanwhile, as a client's ephemeral port, say, by another
          // process on this machine: such a use is short, so the same port is tried again.
          Thread.sleep(500);
          try {
            launch();
          } catch (IOException e) {
            throw new AssertionError("gateway could not be started again", e);
          }
          continue;
        }
        throw new AssertionError("gateway exited with " + process.exitValue() + " before it was ready:\n" + logTail());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("gateway not ready within 40 s:\n" + logTail());
      }
      Thread.sleep(100);
    }
    return this;
  }

  /** SIGKILL ({@link Process#destroyForcibly()} on Linux): no shutdown hook, no flush, no close. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      throw new AssertionError("gateway still alive 10 s after SIGKILL");
    }
  }

  /** SIGTERM ({@link Process#destroy()} on Linux): the gateway stops by itself, draining first. */
  void terminate() {
    process.destroy();
  }

  /** Waits at most {@code timeout} for the process to exit by itself; whether it did. */
  boolean awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Descriptors the running gateway holds open, from {@code /proc/<pid>/fd}. */
  int openDescriptors() throws IOException {
    try (var fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
      return (int) fds.count();
    }
  }

  boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Exit status of the last run; 137 (128 + SIGKILL) after {@link #kill()}. */
  int exitValue() {
    return process.exitValue();
  }

  String logTail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    if (isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
