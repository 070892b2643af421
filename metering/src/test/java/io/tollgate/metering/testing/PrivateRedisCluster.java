package io.tollgate.metering.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Redis Cluster of the test's own: three masters, no replicas, on loopback, in a temp dir,
 * created with {@code redis-cli --cluster create}. Start one per test class; it takes about a
 * second.
 *
 * <p>Every node gets its cluster bus port explicitly ({@code --cluster-port}): the default, port +
 * 10000, overflows 65535 for many ephemeral ports. Nothing is persisted ({@code --save ""}, no
 * AOF); the tests that kill Redis use {@link PrivateRedis}.
 */
public final class PrivateRedisCluster implements AutoCloseable {

  private static final int MASTERS = 3;
  private static final Duration START_TIMEOUT = Duration.ofSeconds(15);

  private final Path dir;
  private final int[] ports = new int[MASTERS];
  private final int[] busPorts = new int[MASTERS];
  private final List<Process> processes = new ArrayList<>();

  public PrivateRedisCluster() throws IOException, InterruptedException {
    this.dir = Files.createTempDirectory("tollgate-redis-cluster");
    try {
      freePorts();
      for (int n = 0; n < MASTERS; n++) {
        startNode(n);
      }
      for (int port : ports) {
        awaitPing(port);
      }
      createCluster();
      for (int port : ports) {
        awaitClusterOk(port);
      }
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** The seed URIs of all masters, for {@link RedisClusterClient#create(Iterable)}. */
  public List<RedisURI> uris() {
    List<RedisURI> uris = new ArrayList<>();
    for (int port : ports) {
      uris.add(uri(port));
    }
    return uris;
  }

  /** A cluster client seeded with every master, 5 s command timeout; the caller shuts it down. */
  public RedisClusterClient client() {
    return RedisClusterClient.create(uris());
  }

  private static RedisURI uri(int port) {
    return RedisURI.builder().withHost("127.0.0.1").withPort(port).withTimeout(Duration.ofSeconds(5)).build();
  }

  /** Holds all sockets open together so that the six ports are distinct. */
  private void freePorts() throws IOException {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int n = 0; n < MASTERS * 2; n++) {
        sockets.add(new ServerSocket(0));
      }
      for (int n = 0; n < MASTERS; n++) {
        ports[n] = sockets.get(2 * n).getLocalPort();
        busPorts[n] = sockets.get(2 * n + 1).getLocalPort();
      }
    } finally {
      for (ServerSocket s : sockets) {
        s.close();
      }
    }
  }

  private void startNode(int n) {
    String port = Integer.toString(ports[n]);
    List<String> cmd =
        List.of("redis-server", "--port", port, "--cluster-port", Integer.toString(busPorts[n]),
            "--bind", "127.0.0.1", "--dir", dir.toString(),
            "--cluster-enabled", "yes",
            "--cluster-config-file", dir.resolve("nodes-" + port + ".conf").toString(),
            "--cluster-node-timeout", "2000",
            "--save", "", "--appendonly", "no", "--daemonize", "no");
    try {
      processes.add(new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis-" + port + ".log").toFile()).start());
    } catch (IOException e) {
      throw new AssertionError(
          "redis-server is needed for this test: apt-get install redis-server", e);
    }
  }

  private void awaitPing(int port) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    RedisClient probe = RedisClient.create(uri(port));
    try {
      while (true) {
        try (StatefulRedisConnection<String, String> c = probe.connect()) {
          c.sync().ping();
          return;
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError(
                "cluster node on port " + port + " did not start: " + log(port), e);
          }
          sleep(50);
        }
      }
    } finally {
      probe.shutdown();
    }
  }

  private void createCluster() throws InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
    for (int port : ports) {
      cmd.add("127.0.0.1:" + port);
    }
    cmd.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
    Path out = dir.resolve("cluster-create.log");
    Process create;
    try {
      create = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    } catch (IOException e) {
      throw new AssertionError("redis-cli is needed for this test: apt-get install redis-tools", e);
    }
    if (!create.waitFor(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      create.destroyForcibly().waitFor();
      throw new AssertionError("redis-cli --cluster create timed out: " + read(out));
    }
    if (create.exitValue() != 0) {
      throw new AssertionError(
          "redis-cli --cluster create exited with " + create.exitValue() + ": " + read(out));
    }
  }

  /**
   * {@code --cluster create} returns once the nodes have met; a node serves keys only when it
   * says {@code cluster_state:ok} and knows all masters, or Lettuce may read a partial topology.
   */
  private void awaitClusterOk(int port) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    RedisClient probe = RedisClient.create(uri(port));
    try (StatefulRedisConnection<String, String> c = probe.connect()) {
      String info = "";
      while (System.nanoTime() < deadline) {
        info = c.sync().clusterInfo();
        if (info.contains("cluster_state:ok")
            && info.contains("cluster_known_nodes:" + MASTERS)
            && info.contains("cluster_slots_ok:16384")) {
          return;
        }
        sleep(50);
      }
      throw new AssertionError("cluster node on port " + port + " never reported"
          + " cluster_state:ok with " + MASTERS + " nodes:\n" + info);
    } finally {
      probe.shutdown();
    }
  }

  private String log(int port) {
    return read(dir.resolve("redis-" + port + ".log"));
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e.getMessage() + ")";
    }
  }

  /** SIGKILL every node and delete the temp dir; nothing in it is worth a clean shutdown. */
  @Override
  public void close() throws IOException {
    for (Process p : processes) {
      p.destroyForcibly();
    }
    try {
      for (Process p : processes) {
        p.waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    processes.clear();
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
