package io.tollgate.metering.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL server of the test's own: a cluster made by {@code initdb} in a temp dir, a
 * postmaster on a free loopback port with its socket in that dir, trust auth for user {@value
 * #USER}, {@code fsync=on} so that what it acknowledged survives {@link #kill()}. Tests that kill
 * or stop PostgreSQL use this and never touch the machine's shared instance.
 *
 * <p>{@code initdb} and {@code postgres} refuse to run as root; tests here run as root, so both
 * run as the {@code postgres} OS user ({@code setpriv}, which execs, so the process this class
 * holds is the postmaster itself), in a dir chowned to it. Run by anyone else, they run directly.
 * The binaries are the newest under {@code /usr/lib/postgresql/<version>/bin}.
 *
 * <p>{@link #kill()} is a crash: SIGKILL of the postmaster and of every child it had (a backend
 * left attached to the shared memory would stop the next start). The restart runs crash recovery
 * from the WAL. A JVM that dies without {@link #close()} still kills the server (shutdown hook).
 */
public final class PrivatePostgres implements AutoCloseable {

  /** The superuser, trusted without a password. */
  public static final String USER = "postgres";

  private static final Path INSTALLS = Path.of("/usr/lib/postgresql");
  private static final Duration INITDB_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

  private final Path bin;
  private final Path dir;
  private final Path data;
  private final int port;
  private final List<String> asPostgres;
  private final Thread reaper = new Thread(this::killQuietly, "private-postgres-reaper");
  private volatile Process process;

  /** Creates the cluster and starts the server; fails (never skips) if PostgreSQL is missing. */
  public PrivatePostgres() throws IOException, InterruptedException {
    this.bin = binaries();
    this.dir = Files.createTempDirectory("tollgate-pg");
    this.data = dir.resolve("data");
    try (ServerSocket s = new ServerSocket(0)) {
      this.port = s.getLocalPort();
    }
    Runtime.getRuntime().addShutdownHook(reaper);
    try {
      this.asPostgres = runningAsRoot() ? asPostgresUser(dir) : List.of();
      initdb();
      start();
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      try {
        close();
      } catch (IOException | RuntimeException | Error suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The JDBC URL of database {@code postgres}; connect as {@link #USER}, no password. */
  public String jdbcUrl() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
  }

  public int port() {
    return port;
  }

  /** Starts the postmaster on the same port and data dir and waits until it accepts queries. */
  public void start() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (true) {
      process = launch();
      SQLException lastProbe = awaitReady(deadline);
      if (lastProbe == null) {
        return;
      }
      // Died early: after a kill(), a child can outlive the snapshot of the postmaster's children
      // by a few ms and still hold the old shared memory ("still in use"). It exits by itself.
      if (process.isAlive() || System.nanoTime() > deadline) {
        killQuietly();
        throw new AssertionError("private PostgreSQL did not accept connections within " + START_TIMEOUT
            + " (" + lastProbe.getMessage() + "); log:\n" + logTail(), lastProbe);
      }
      Thread.sleep(100);
    }
  }

  /** SIGKILL of the postmaster and its children: a crash; only what the WAL holds survives. */
  public void kill() throws InterruptedException {
    Process p = process;
    if (p == null) {
      return;
    }
    List<ProcessHandle> children = p.descendants().toList();
    p.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      throw new AssertionError("the private postmaster survived SIGKILL for 10 s");
    }
    // Not ProcessHandle.onExit(): for a grandchild it polls in steps of 300 ms and more, and
    // counts a zombie as alive until whoever adopted it reaps it.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    for (ProcessHandle child : children) {
      while (running(child)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("a child of the private postmaster survived SIGKILL: " + child.pid());
        }
        Thread.sleep(5);
      }
    }
  }

  /** Alive and not a zombie (a zombie holds no memory, so no shared memory either). */
  private static boolean running(ProcessHandle p) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state != 'Z' && state != 'X';
    } catch (IOException | RuntimeException e) {
      return false; // gone
    }
  }

  /** True while a probe connection gets an answer. */
  public boolean accepting() {
    try (Connection c = DriverManager.getConnection(jdbcUrl() + "?connectTimeout=2&socketTimeout=5", USER, "")) {
      return c.isValid(2);
    } catch (SQLException e) {
      return false;
    }
  }

  /** Kills the server and deletes its dir. */
  @Override
  public void close() throws IOException {
    try {
      kill();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(reaper);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook runs anyway
      }
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private void initdb() throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(asPostgres);
    cmd.addAll(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER,
        // Synced (no --no-sync): else the crash recovery after kill() fsyncs the whole new
        // cluster first, and a restart meant to take 0.5 s took 4 on a busy disk.
        "--auth=trust", "--encoding=UTF8", "--locale=C"));
    Path log = dir.resolve("initdb.log");
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    if (!p.waitFor(INITDB_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("initdb did not finish within " + INITDB_TIMEOUT);
    }
    if (p.exitValue() != 0) {
      throw new AssertionError("initdb failed (" + p.exitValue() + "):\n" + Files.readString(log));
    }
  }

  private Process launch() throws IOException {
    List<String> cmd = new ArrayList<>(asPostgres);
    cmd.addAll(List.of(bin.resolve("postgres").toString(), "-D", data.toString(),
        "-p", Integer.toString(port), "-k", dir.toString(),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on",
        "-c", "shared_buffers=16MB", "-c", "max_connections=50"));
    return new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("postgres.log").toFile())).start();
  }

  /** Null once a query is answered; the last probe's failure if the postmaster died or time ran out. */
  private SQLException awaitReady(long deadline) throws InterruptedException {
    SQLException last = new SQLException("no probe yet");
    while (process.isAlive() && System.nanoTime() < deadline) {
      try (Connection c = DriverManager.getConnection(jdbcUrl() + "?connectTimeout=2&socketTimeout=5", USER, "")) {
        c.createStatement().execute("SELECT 1");
        return null;
      } catch (SQLException e) {
        last = e; // refused, or "the database system is starting up" (crash recovery)
      }
      Thread.sleep(50);
    }
    return last;
  }

  private void killQuietly() {
    try {
      kill();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      // best effort: the shutdown hook or a failed start
    }
  }

  private String logTail() {
    try {
      List<String> lines = Files.readAllLines(dir.resolve("postgres.log"), StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private static Path binaries() throws IOException {
    Optional<Path> newest = Optional.empty();
    if (Files.isDirectory(INSTALLS)) {
      try (Stream<Path> versions = Files.list(INSTALLS)) {
        newest = versions.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)?"))
            .filter(v -> Files.isExecutable(v.resolve("bin/initdb")) && Files.isExecutable(v.resolve("bin/postgres")))
            .max(Comparator.comparingDouble(v -> Double.parseDouble(v.getFileName().toString())));
      }
    }
    return newest.map(v -> v.resolve("bin")).orElseThrow(() -> new AssertionError(
        "PostgreSQL server binaries (initdb, postgres under " + INSTALLS + "/<version>/bin) are needed for"
            + " this test: apt-get install postgresql"));
  }

  private static boolean runningAsRoot() throws IOException {
    return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid", LinkOption.NOFOLLOW_LINKS)) == 0;
  }

  /** Hands {@code dir} to the {@code postgres} OS user; returns the prefix that runs a command as it. */
  private static List<String> asPostgresUser(Path dir) throws IOException {
    UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
    UserPrincipal user;
    GroupPrincipal group;
    try {
      user = users.lookupPrincipalByName(USER);
      group = users.lookupPrincipalByGroupName(USER);
    } catch (UserPrincipalNotFoundException e) {
      throw new AssertionError("initdb and postgres refuse to run as root, and there is no OS user "
          + USER + " to run them as: apt-get install postgresql (it creates the user)", e);
    }
    PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
    view.setOwner(user);
    view.setGroup(group);
    return List.of("setpriv", "--reuid=" + USER, "--regid=" + USER, "--init-groups", "--");
  }
}
