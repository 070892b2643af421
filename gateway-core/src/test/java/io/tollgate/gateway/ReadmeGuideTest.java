package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's admin guide is a script, and it runs as written: against a gateway on the
 * embedded store and a mock merchant endpoint, with bash, curl and jq, every request must succeed.
 */
class ReadmeGuideTest {

  static final String OPERATOR = "readme-guide-operator-token-0123";
  static final Path README = Path.of("..", "README.md");

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults()).await();
  }

  @AfterEach
  void stopMock() {
    mock.close().await();
    vertx.close().await();
  }

  /** The shell block between the guide's markers in the README. */
  static String guide() throws IOException {
    String readme = Files.readString(README, StandardCharsets.UTF_8);
    int start = readme.indexOf("<!-- guide:start -->");
    int end = readme.indexOf("<!-- guide:end -->");
    assertThat(start).as("the README's admin guide is marked <!-- guide:start --> ... <!-- guide:end -->")
        .isPositive();
    String block = readme.substring(start, end);
    int open = block.indexOf("```sh\n");
    int close = block.lastIndexOf("```");
    assertThat(open).as("the guide is one ```sh block").isPositive();
    return block.substring(open + "```sh\n".length(), close);
  }

  static void requireTool(String tool, String debianPackage) throws Exception {
    Process p = new ProcessBuilder("sh", "-c", "command -v " + tool).start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0)
        .as("the README's guide needs %s: install the Debian package `%s`", tool, debianPackage).isTrue();
  }

  @Test
  void theAdminGuide_runsAsWritten() throws Exception {
    requireTool("curl", "curl");
    requireTool("jq", "jq");
    Path script = dir.resolve("guide.sh");
    Files.writeString(script, guide());
    var config = new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 2, null, null, Duration.ofMillis(200)),
        new GatewayConfig.Admin("127.0.0.1", 0, OPERATOR),
        new GatewayConfig.Store(dir.resolve("data").toString(), null, null, null, null), null, null);
    try (Gateway g = Gateway.start(config)) {
      ProcessBuilder pb = new ProcessBuilder("bash", "-euo", "pipefail", script.toString())
          .redirectErrorStream(true);
      pb.environment().put("A", "http://127.0.0.1:" + g.adminPort());
      pb.environment().put("B", "http://127.0.0.1:" + g.buyerPort());
      pb.environment().put("OP", OPERATOR);
      pb.environment().put("UPSTREAM", mock.baseUrl());
      Process p = pb.start();
      boolean done = p.waitFor(90, TimeUnit.SECONDS);
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!done) {
        p.destroyForcibly();
      }
      assertThat(done).as("the guide finished within 90 s; output so far:%n%s", output).isTrue();
      assertThat(p.exitValue()).as("the guide's exit status; its output:%n%s", output).isZero();
      assertThat(output).as("what the guide's comments promise")
          .contains("pending_review", "listed", "buyer", "suspended", "operator POST /admin/v1/subscriptions");
      assertThat(mock.requestCount()).as("the test key's call and the buyer's reached the endpoint").isEqualTo(2);
    }
  }
}
