package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad start-up stops with one clear line naming the key, and exit status 2. */
class StartupTest {

  @TempDir Path dir;

  private String[] serve(String yaml) throws Exception {
    Path f = dir.resolve("tollgate.yaml");
    Files.writeString(f, yaml);
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(err, true), "serve", "--config", f.toString());
    return new String[] {Integer.toString(code), err.toString().strip()};
  }

  @Test
  void buyerPortInUse_stopsNamingServerPort() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String[] r = serve("server:\n  host: 127.0.0.1\n  port: " + taken.getLocalPort()
          + "\nadmin:\n  port: 0\n  token: test-operator-token\nstore:\n  dataDir: " + dir.resolve("data") + "\n");
      assertThat(r[0]).isEqualTo("2");
      assertThat(r[1]).as("one line").doesNotContain("\n").startsWith("tollgate: server.port: cannot listen on 127.0.0.1:"
          + taken.getLocalPort());
    }
  }

  @Test
  void adminPortInUse_stopsNamingAdminPort() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String[] r = serve("server:\n  port: 0\nadmin:\n  port: " + taken.getLocalPort()
          + "\n  token: test-operator-token\nstore:\n  dataDir: " + dir.resolve("data") + "\n");
      assertThat(r[0]).isEqualTo("2");
      assertThat(r[1]).doesNotContain("\n").startsWith("tollgate: admin.port: cannot listen");
    }
  }

  @Test
  void unwritableDataDir_stopsNamingIt() throws Exception {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    String[] r = serve("server:\n  port: 0\nadmin:\n  port: 0\nstore:\n  dataDir: " + file + "\n");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[1]).doesNotContain("\n").startsWith("tollgate: store.dataDir: ");
  }

  @Test
  void unknownKey_stopsNamingIt() throws Exception {
    String[] r = serve("server:\n  port: 0\nstoer:\n  dataDir: x\n");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[1]).isEqualTo("tollgate: stoer: unknown key");
  }

  /**
   * In a JVM where native transports are off ({@code -Dio.netty.transport.noNative=true}, as where
   * the native library cannot load): io_uring asked for by name stops start-up naming the key,
   * where {@code auto} would fall back.
   */
  @Test
  void ioUringChosen_whereItIsUnavailable_stopsNamingServerTransport() throws Exception {
    Path f = dir.resolve("tollgate.yaml");
    Files.writeString(f, "server:\n  host: 127.0.0.1\n  port: 0\n  transport: io_uring\nadmin:\n  port: 0\n"
        + "  token: test-operator-token\nstore:\n  dataDir: " + dir.resolve("data") + "\n");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dio.netty.transport.noNative=true", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "serve", "--config", f.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(err).isEqualTo(2);
      assertThat(err.strip().lines().filter(l -> l.startsWith("tollgate: ")))
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .startsWith("tollgate: server.transport: io_uring is not available here (")
          .contains("noNative");
    } finally {
      p.destroyForcibly();
    }
  }
}
