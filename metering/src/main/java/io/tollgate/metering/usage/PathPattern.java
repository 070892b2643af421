package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonPointer;
import java.util.ArrayList;
import java.util.List;

/**
 * A JSON location such as {@code /choices/* /delta/content}: property names, array indexes, and
 * {@code *} for "any array element". Compiled with the others of a shape into a {@link PathTrie}.
 */
record PathPattern(String[] names, int[] indexes) {

  /** In {@link #indexes}: the segment is a property name only. */
  static final int NOT_AN_INDEX = -1;
  /** In {@link #indexes}: the segment matches any array element. */
  static final int ANY_INDEX = -2;

  /** Parses {@code /a/* /b}; {@code *} matches any array element. */
  static PathPattern of(String path) {
    if (path.isEmpty() || path.charAt(0) != '/') {
      throw new IllegalArgumentException("path must start with '/': " + path);
    }
    String[] segments = path.substring(1).split("/", -1);
    int[] indexes = new int[segments.length];
    for (int i = 0; i < segments.length; i++) {
      indexes[i] = segments[i].equals("*") ? ANY_INDEX : NOT_AN_INDEX;
    }
    return new PathPattern(segments, indexes);
  }

  /** A configured JSON pointer (RFC 6901); a numeric segment matches a property or an index. */
  static PathPattern of(JsonPointer pointer) {
    List<String> names = new ArrayList<>();
    List<Integer> indexes = new ArrayList<>();
    for (JsonPointer p = pointer; !p.matches(); p = p.tail()) {
      names.add(p.getMatchingProperty());
      indexes.add(p.getMatchingIndex() >= 0 ? p.getMatchingIndex() : NOT_AN_INDEX);
    }
    if (names.isEmpty()) {
      throw new IllegalArgumentException("a usage pointer must not point at the root");
    }
    return new PathPattern(
        names.toArray(new String[0]), indexes.stream().mapToInt(Integer::intValue).toArray());
  }

  int depth() {
    return names.length;
  }
}
