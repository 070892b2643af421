package io.tollgate.metering.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A redis-server of the test's own, on a free port, in a temp dir, persisting every write
 * ({@code appendfsync always}) so that a SIGKILL loses nothing it acknowledged. Tests that kill
 * or pause Redis use this and never touch the shared instance.
 */
public final class PrivateRedis implements AutoCloseable {

  private final Path dir;
  private final int port;
  private Process process;

  public PrivateRedis() throws IOException {
    this.dir = Files.createTempDirectory("tollgate-redis");
    try (ServerSocket s = new ServerSocket(0)) {
      this.port = s.getLocalPort();
    }
    start();
  }

  public RedisURI uri() {
    return RedisURI.builder().withHost("127.0.0.1").withPort(port).build();
  }

  public void start() throws IOException {
    List<String> cmd =
        List.of("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
            "--dir", dir.toString(), "--appendonly", "yes", "--appendfsync", "always",
            "--save", "", "--daemonize", "no");
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis.log").toFile()).start();
    } catch (IOException e) {
      throw new AssertionError("redis-server is needed for this test: apt-get install redis-server", e);
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    RedisClient probe = RedisClient.create(uri());
    try {
      while (true) {
        try (StatefulRedisConnection<String, String> c = probe.connect()) {
          c.sync().ping();
          return;
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError("private redis-server did not start; see " + dir, e);
          }
          sleep(50);
        }
      }
    } finally {
      probe.shutdown();
    }
  }

  /** SIGKILL: no shutdown save; only what the AOF already holds survives. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  @Override
  public void close() throws IOException {
    if (process != null && process.isAlive()) {
      try {
        kill();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
