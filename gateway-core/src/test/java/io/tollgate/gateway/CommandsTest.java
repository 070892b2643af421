package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.metering.testing.Services;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The command line: every command answers {@code --help}; {@code check} says whether {@code serve}
 * would start with a config, with the same one line and exit status 2 when it would not.
 */
class CommandsTest {

  @TempDir Path dir;

  /** Exit status, standard output, standard error of one command run in this JVM. */
  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString().strip());
  }

  Path config(String yaml) throws Exception {
    return Files.writeString(dir.resolve("tollgate-" + System.nanoTime() + ".yaml"), yaml);
  }

  String minimal(String store) {
    return "server:\n  host: 127.0.0.1\n  port: 0\nadmin:\n  port: 0\n  token: test-operator-token\n"
        + "store:\n  dataDir: " + dir.resolve("data") + "\n" + store;
  }

  @Test
  void everyCommand_answersHelp() {
    Set<String> commands = new CommandLine(new Main()).getSubcommands().keySet();
    assertThat(commands).as("the commands the README documents")
        .containsExactlyInAnyOrder("serve", "check", "export", "demo", "mock-upstream", "help");
    for (String command : commands) {
      Run r = run(command, "--help");
      assertThat(r.code()).as("%s --help: %s", command, r.err()).isZero();
      assertThat(r.out()).as("%s --help", command).contains("Usage: tollgate " + command).contains("--help");
      assertThat(r.err()).as("%s --help", command).isEmpty();
    }
    Run top = run("--help");
    assertThat(top.code()).isZero();
    assertThat(top.out()).startsWith("Usage: tollgate").contains("serve", "check", "export", "demo", "mock-upstream");
  }

  @Test
  void check_embeddedConfig_exits0_withoutBindingItsPorts() throws Exception {
    // A running instance holds the ports; check runs beside it.
    try (ServerSocket buyer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket admin = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Run r = run("check", "--config", config("server:\n  host: 127.0.0.1\n  port: " + buyer.getLocalPort()
          + "\nadmin:\n  port: " + admin.getLocalPort() + "\n  token: test-operator-token\n"
          + "store:\n  dataDir: " + dir.resolve("data") + "\n").toString());
      assertThat(r.code()).as(r.err()).isZero();
      assertThat(r.out()).contains("store.dataDir: ").contains("server.transport: ").endsWith("tollgate check: OK\n");
      assertThat(r.err()).isEmpty();
    }
  }

  @Test
  void check_reachesPostgresAndRedis() throws Exception {
    TestDatabases.Db db = TestDatabases.postgres(); // fails with install advice when PostgreSQL is not running
    Services.sharedRedis().shutdown(); // likewise for Redis
    try {
      Run r = run("check", "--config", config(minimal("  jdbcUrl: \"" + db.url() + "\"\n  jdbcUser: " + db.user()
          + "\n  redisUri: " + Services.REDIS_URI + "\n")).toString());
      assertThat(r.code()).as(r.err()).isZero();
      assertThat(r.out()).contains("store.jdbcUrl: connected")
          .contains("store.redisUri: PING answered").endsWith("tollgate check: OK\n");
    } finally {
      db.drop();
    }
  }

  @Test
  void check_unreachableDatabase_exits2NamingStoreJdbcUrl() throws Exception {
    Run r = run("check", "--config",
        config(minimal("  jdbcUrl: \"jdbc:postgresql://127.0.0.1:1/test\"\n  jdbcUser: nobody\n")).toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).as("one line").doesNotContain("\n")
        .startsWith("tollgate: store.jdbcUrl: catalog database unreachable at jdbc:postgresql://127.0.0.1:1/test");
  }

  /** Where the config is bad or names a store that does not answer, check says what serve would. */
  @Test
  void check_failsWithTheLineServeStopsWith() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    String[] badConfigs = {
        "server:\n  port: 0\nstoer:\n  dataDir: x\n",
        minimal("").replace("port: 0\nadmin", "port: 0\n  drainTimeout: -PT5S\nadmin"),
        minimal("").replace("store:\n  dataDir: " + dir.resolve("data"),
            "store:\n  dataDir: " + Files.writeString(dir.resolve("a-file"), "x")),
        minimal("  redisUri: redis://127.0.0.1:" + closedPort + "\n"),
        minimal("  redisUri: redis://:s3cret-redis-password@127.0.0.1:" + closedPort + "\n"),
    };
    String[] expected = {
        "tollgate: stoer: unknown key",
        "tollgate: server.drainTimeout: must not be negative, got PT-5S",
        "tollgate: store.dataDir: ",
        "tollgate: store.redisUri: cannot connect to Redis at redis://127.0.0.1:" + closedPort + ": ",
        "tollgate: store.redisUri: cannot connect to Redis at redis://***@127.0.0.1:" + closedPort + ": ",
    };
    for (int i = 0; i < badConfigs.length; i++) {
      String file = config(badConfigs[i]).toString();
      Run check = run("check", "--config", file);
      Run serve = run("serve", "--config", file);
      assertThat(check.code()).as("check: %s", check.err()).isEqualTo(2);
      assertThat(serve.code()).as("serve: %s", serve.err()).isEqualTo(2);
      assertThat(check.err()).as("one line").doesNotContain("\n").startsWith(expected[i]);
      assertThat(check.err()).as("the line serve stops with").isEqualTo(serve.err())
          .doesNotContain("s3cret-redis-password");
    }
  }
}
