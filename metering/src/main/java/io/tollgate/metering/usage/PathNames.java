package io.tollgate.metering.usage;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The property names a set of {@link PathPattern}s names at each level, as strings and as UTF-8,
 * so that {@link JsonSkimmer} can tell a name the patterns care about from its raw bytes without
 * decoding it. Built once per {@link UsageShape}.
 */
final class PathNames {

  private final String[][] names;
  private final byte[][][] bytes;

  private PathNames(String[][] names) {
    this.names = names;
    this.bytes = new byte[names.length][][];
    for (int level = 0; level < names.length; level++) {
      bytes[level] = Arrays.stream(names[level]).map(n -> n.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    }
  }

  static PathNames of(PathPattern[]... groups) {
    int levels = 0;
    for (PathPattern[] group : groups) {
      for (PathPattern p : group) {
        levels = Math.max(levels, p.depth());
      }
    }
    String[][] names = new String[levels][];
    for (int level = 0; level < levels; level++) {
      Set<String> atLevel = new LinkedHashSet<>();
      for (PathPattern[] group : groups) {
        for (PathPattern p : group) {
          if (p.depth() > level && p.indexes()[level] != PathPattern.ANY_INDEX) {
            atLevel.add(p.names()[level]);
          }
        }
      }
      names[level] = atLevel.toArray(String[]::new);
    }
    return new PathNames(names);
  }

  /** The pattern's spelling of the raw (unescaped) name at {@code level}, or null if none names it. */
  String match(int level, byte[] raw, int length) {
    if (level >= bytes.length) {
      return null;
    }
    byte[][] candidates = bytes[level];
    for (int c = 0; c < candidates.length; c++) {
      if (Arrays.equals(raw, 0, length, candidates[c], 0, candidates[c].length)) {
        return names[level][c];
      }
    }
    return null;
  }

  /** The pattern's spelling of {@code name} at {@code level}, or null if none names it. */
  String match(int level, String name) {
    if (level >= names.length || name == null) {
      return null;
    }
    for (String n : names[level]) {
      if (n.equals(name)) {
        return n;
      }
    }
    return null;
  }
}
