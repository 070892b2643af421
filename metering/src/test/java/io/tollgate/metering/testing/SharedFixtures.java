package io.tollgate.metering.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/** Where the recorded upstream responses of {@code shared/fixtures} are, for every module's tests. */
public final class SharedFixtures {

  private SharedFixtures() {}

  /**
   * The {@code shared.fixtures} system property that the parent pom's surefire config sets, else
   * the first {@code shared/fixtures} found walking up from the working directory (a worktree under
   * {@code /work/wt/<name>} sits two levels below {@code /work/shared}, where the property, the
   * repository's parent dir, does not point).
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
      Path candidate = dir.resolve("shared").resolve("fixtures");
      if (Files.isRegularFile(candidate.resolve("README.md"))) {
        return candidate;
      }
      tried.add(candidate);
    }
    throw new IllegalStateException(
        "fixtures directory not found; set -Dshared.fixtures=<dir>. Tried: " + tried);
  }
}
