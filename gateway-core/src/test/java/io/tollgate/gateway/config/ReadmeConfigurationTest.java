package io.tollgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's configuration table documents every key {@link ConfigLoader} reads, each with the
 * environment variable that sets it, and no key that does not exist: a key added to {@link
 * GatewayConfig} without a row (or a row left behind by a removed key) fails here.
 */
class ReadmeConfigurationTest {

  static final Path README = Path.of("..", "README.md");
  private static final Pattern FIRST_CELL_KEY = Pattern.compile("^\\| `([a-zA-Z.]+)` \\|");

  /** The rows of the table under {@code ## Configuration}. */
  static List<String> tableRows() throws Exception {
    String readme = Files.readString(README, StandardCharsets.UTF_8);
    int start = readme.indexOf("\n## Configuration\n");
    assertThat(start).as("the README has a ## Configuration section").isNotNegative();
    int end = readme.indexOf("\n## ", start + 1);
    List<String> rows = new ArrayList<>();
    for (String line : readme.substring(start, end < 0 ? readme.length() : end).split("\n")) {
      if (line.startsWith("| `")) {
        rows.add(line);
      }
    }
    return rows;
  }

  @Test
  void everyConfigKey_hasARowWithItsEnvironmentVariable() throws Exception {
    List<String> rows = tableRows();
    for (Map.Entry<String, String[]> key : ConfigLoader.envKeys().entrySet()) {
      String dotted = String.join(".", key.getValue());
      String env = key.getKey();
      assertThat(rows).as("README ## Configuration: a row for `%s` naming `%s`", dotted, env)
          .anySatisfy(row -> assertThat(row).startsWith("| `" + dotted + "` |").contains("`" + env + "`"));
    }
  }

  @Test
  void everyRow_isAConfigKey() throws Exception {
    List<String> known = ConfigLoader.envKeys().values().stream().map(p -> String.join(".", p)).toList();
    for (String row : tableRows()) {
      Matcher m = FIRST_CELL_KEY.matcher(row);
      assertThat(m.find()).as("a row starts with one key: %s", row).isTrue();
      assertThat(known).as("the README documents a key ConfigLoader reads").contains(m.group(1));
    }
  }
}
