package io.tollgate.metering.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the recorded upstream responses are, for every module's tests: the repository's own copy
 * in {@code fixtures/} (taken from the project's shared fixtures, with the README that gives the
 * usage each must yield), so a clone tests without anything beside it.
 */
public final class SharedFixtures {

  private SharedFixtures() {}

  /**
   * The {@code shared.fixtures} system property that the parent pom's surefire config sets (the
   * repository's {@code fixtures/}), else the first {@code fixtures} directory with a README found
   * walking up from the working directory (a test run from an IDE in a module's directory).
   */
  public static Path dir() {
    List<Path> tried = new ArrayList<>();
    String property = System.getProperty("shared.fixtures");
    if (property != null) {
      Path path = Paths.get(property).normalize();
      if (Files.isRegularFile(path.resolve("README.md"))) {
        return path;
      }
      tried.add(path);
    }
    for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("fixtures");
      if (Files.isRegularFile(candidate.resolve("README.md"))) {
        return candidate;
      }
      tried.add(candidate);
    }
    throw new IllegalStateException(
        "fixtures directory not found; set -Dshared.fixtures=<dir>. Tried: " + tried);
  }
}
