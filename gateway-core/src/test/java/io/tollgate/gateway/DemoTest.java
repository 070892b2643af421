package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command ends in {@code demo}: it must run and exit 0. */
class DemoTest {

  @TempDir Path dir;

  @Test
  void demo_runsEveryStepAndExitsZero() {
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(err, true), "demo", "--config", "../config/tollgate.yaml",
        "--data-dir", dir.resolve("demo").toString());
    assertThat(code).as("demo exit status; stderr: %s", err).isZero();
  }
}
