package io.tollgate.metering.usage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The usage and completion-text paths of a {@link UsageShape} compiled into one deterministic
 * automaton over JSON locations: a node per set of patterns a location may still lead to, with a
 * transition per property name and per array element. {@link JsonSkimmer} keeps the node of each
 * open container, so a location is matched in one step per name or element, and a subtree no
 * pattern reaches ({@link #DEAD}) costs no name comparison at all: in an OpenAI chunk only the
 * root, {@code choices} and {@code delta} are live.
 *
 * <p>Semantics are {@link PathPattern}'s: a name segment matches that property, {@code *} any
 * array element, and a pointer's numeric segment both the property of that name and the element at
 * that index. The root's {@code usage} and {@code choices} properties carry {@link #TOP_USAGE} and
 * {@link #TOP_CHOICES} whatever the patterns, for the injected-usage-chunk test.
 *
 * <p>Immutable; built once per shape.
 */
final class PathTrie {

  /** A location no pattern reaches. */
  static final int DEAD = -1;
  static final int ROOT = 0;

  /** An object here is a usage object. */
  static final int USAGE = 1;
  /** A string here is completion text. */
  static final int TEXT = 2;
  /** The root object's {@code usage} property. */
  static final int TOP_USAGE = 4;
  /** The root object's {@code choices} property. */
  static final int TOP_CHOICES = 8;

  private static final byte[][] NO_NAMES = {};
  private static final int[] NONE = {};

  private final int[] flags;
  /** Per node: bit n set if a property name of length n (under 64) is live: most names are not. */
  private final long[] nameLengths;
  private final byte[][][] names;
  private final int[][] nameTargets;
  private final int[] anyElement;
  private final int[][] indexes;
  private final int[][] indexTargets;
  private final int longestName;

  private PathTrie(Builder b) {
    int n = b.flags.size();
    flags = new int[n];
    nameLengths = new long[n];
    names = new byte[n][][];
    nameTargets = new int[n][];
    anyElement = new int[n];
    indexes = new int[n][];
    indexTargets = new int[n][];
    int longest = 0;
    for (int i = 0; i < n; i++) {
      flags[i] = b.flags.get(i);
      names[i] = b.names.get(i);
      nameTargets[i] = b.nameTargets.get(i);
      anyElement[i] = b.anyElement.get(i);
      indexes[i] = b.indexes.get(i);
      indexTargets[i] = b.indexTargets.get(i);
      for (byte[] name : names[i]) {
        longest = Math.max(longest, name.length);
        nameLengths[i] |= name.length < 64 ? 1L << name.length : 0;
      }
    }
    longestName = longest;
  }

  /** Compiles the usage patterns (flag {@link #USAGE}) and text patterns (flag {@link #TEXT}). */
  static PathTrie of(PathPattern[] usage, PathPattern[] text) {
    PathPattern[] all = new PathPattern[usage.length + text.length];
    System.arraycopy(usage, 0, all, 0, usage.length);
    System.arraycopy(text, 0, all, usage.length, text.length);
    Builder builder = new Builder(all, usage.length);
    int[] everyPattern = new int[all.length];
    Arrays.setAll(everyPattern, i -> i);
    builder.node(everyPattern, 0, 0);
    return new PathTrie(builder);
  }

  int flags(int node) {
    return flags[node];
  }

  /** Whether any property of an object at {@code node} is live: else its names need no reading. */
  boolean hasNames(int node) {
    return names[node].length > 0;
  }

  /** Longer names match nothing: a reader need not keep more of one. */
  int longestName() {
    return longestName;
  }

  /** The node of property {@code [from, from + length)} (raw UTF-8) of an object at {@code node}. */
  int property(int node, byte[] name, int from, int length) {
    if (length < 64 && (nameLengths[node] & 1L << length) == 0) {
      return DEAD; // the common case: no live name is that long
    }
    byte[][] candidates = names[node];
    for (int c = 0; c < candidates.length; c++) {
      byte[] candidate = candidates[c];
      if (candidate.length == length && (length == 0 || candidate[0] == name[from])
          && Arrays.equals(candidate, 0, length, name, from, from + length)) {
        return nameTargets[node][c];
      }
    }
    return DEAD;
  }

  /** The node of element {@code index} of an array at {@code node}. */
  int element(int node, int index) {
    int[] explicit = indexes[node];
    for (int k = 0; k < explicit.length; k++) {
      if (explicit[k] == index) {
        return indexTargets[node][k];
      }
    }
    return anyElement[node];
  }

  /** Builds nodes depth first; a node is the set of patterns still possible at a location. */
  private static final class Builder {
    private final PathPattern[] patterns;
    private final int usageCount;
    final List<Integer> flags = new ArrayList<>();
    final List<byte[][]> names = new ArrayList<>();
    final List<int[]> nameTargets = new ArrayList<>();
    final List<Integer> anyElement = new ArrayList<>();
    final List<int[]> indexes = new ArrayList<>();
    final List<int[]> indexTargets = new ArrayList<>();

    Builder(PathPattern[] patterns, int usageCount) {
      this.patterns = patterns;
      this.usageCount = usageCount;
    }

    /**
     * The node for the patterns {@code live} at {@code level} (they matched every segment before
     * it), or {@link #DEAD} if none and no flag. {@code extraFlags} are the TOP_ ones.
     */
    int node(int[] live, int level, int extraFlags) {
      if (live.length == 0 && extraFlags == 0) {
        return DEAD;
      }
      int id = flags.size();
      int f = extraFlags;
      for (int p : live) {
        if (patterns[p].depth() == level) {
          f |= p < usageCount ? USAGE : TEXT;
        }
      }
      flags.add(f);
      names.add(NO_NAMES);
      nameTargets.add(NONE);
      anyElement.add(DEAD);
      indexes.add(NONE);
      indexTargets.add(NONE);

      // Property transitions: patterns whose segment here is that name (a pointer's "0" too).
      Map<String, List<Integer>> byName = new LinkedHashMap<>();
      List<Integer> anyIndex = new ArrayList<>();
      TreeSet<Integer> explicitIndexes = new TreeSet<>();
      for (int p : live) {
        PathPattern pattern = patterns[p];
        if (pattern.depth() == level) {
          continue;
        }
        int index = pattern.indexes()[level];
        if (index == PathPattern.ANY_INDEX) {
          anyIndex.add(p);
        } else {
          byName.computeIfAbsent(pattern.names()[level], k -> new ArrayList<>()).add(p);
          if (index >= 0) {
            explicitIndexes.add(index);
          }
        }
      }
      if (level == 0) {
        byName.computeIfAbsent("usage", k -> new ArrayList<>());
        byName.computeIfAbsent("choices", k -> new ArrayList<>());
      }
      List<byte[]> childNames = new ArrayList<>();
      List<Integer> childTargets = new ArrayList<>();
      for (Map.Entry<String, List<Integer>> e : byName.entrySet()) {
        int top = level != 0 ? 0 : e.getKey().equals("usage") ? TOP_USAGE : e.getKey().equals("choices") ? TOP_CHOICES : 0;
        int child = node(ints(e.getValue()), level + 1, top);
        if (child != DEAD) {
          childNames.add(e.getKey().getBytes(StandardCharsets.UTF_8));
          childTargets.add(child);
        }
      }
      names.set(id, childNames.toArray(byte[][]::new));
      nameTargets.set(id, ints(childTargets));

      // Element transitions: "*" patterns, plus those naming that index.
      anyElement.set(id, node(ints(anyIndex), level + 1, 0));
      List<Integer> indexList = new ArrayList<>();
      List<Integer> indexChildren = new ArrayList<>();
      for (int index : explicitIndexes) {
        List<Integer> at = new ArrayList<>(anyIndex);
        for (int p : live) {
          PathPattern pattern = patterns[p];
          if (pattern.depth() > level && pattern.indexes()[level] == index) {
            at.add(p);
          }
        }
        indexList.add(index);
        indexChildren.add(node(ints(at), level + 1, 0));
      }
      indexes.set(id, ints(indexList));
      indexTargets.set(id, ints(indexChildren));
      return id;
    }

    private static int[] ints(List<Integer> list) {
      return list.stream().mapToInt(Integer::intValue).toArray();
    }
  }
}
