package io.tollgate.gateway.catalog;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Brand words a product name may not contain ({@code catalog.reservedNames}): a product may not
 * borrow a brand without the marketplace's authorisation.
 *
 * <p>Names and words are compared after {@link #fold}: Unicode NFKC, format characters removed,
 * lower case, NFKC again. NFKC maps compatibility forms to their plain letters, so the full-width
 * {@code ＨＵＡＷＥＩ} and the ligature in {@code ﬁ} read as {@code HUAWEI} and {@code fi};
 * dropping format characters (zero-width space and joiners, soft hyphen) keeps {@code Hua\u200Bwei}
 * from slipping through, as Unicode's NFKC_Casefold does; lower-casing in {@link Locale#ROOT} does
 * not depend on the server's locale. A word matches anywhere in the name, so {@code Huawei-Cloud
 * Chat} is refused too.
 */
public final class ReservedNames {

  /** {@code catalog.reservedNames}'s default. */
  public static final List<String> DEFAULT_WORDS = List.of("huawei", "华为");

  public static final ReservedNames DEFAULT = new ReservedNames(DEFAULT_WORDS);

  /** No reserved words. */
  public static final ReservedNames NONE = new ReservedNames(List.of());

  private final List<String> words;
  private final List<String> folded;

  /** @throws IllegalArgumentException when a word is blank or folds to nothing */
  public ReservedNames(List<String> words) {
    this.words = List.copyOf(words);
    var f = new ArrayList<String>(this.words.size());
    for (String w : this.words) {
      String folded = fold(Objects.requireNonNull(w, "reserved word")).strip();
      if (folded.isEmpty()) {
        throw new IllegalArgumentException("a reserved name must not be blank: '" + w + "'");
      }
      f.add(folded);
    }
    this.folded = List.copyOf(f);
  }

  /** The words as configured. */
  public List<String> words() {
    return words;
  }

  /** The first reserved word (as configured) that {@code name} contains, after folding both. */
  public Optional<String> findIn(String name) {
    String n = fold(name);
    for (int i = 0; i < folded.size(); i++) {
      if (n.contains(folded.get(i))) {
        return Optional.of(words.get(i));
      }
    }
    return Optional.empty();
  }

  /** NFKC, without format characters, lower case (root locale), NFKC again. */
  static String fold(String s) {
    String n = Normalizer.normalize(s, Normalizer.Form.NFKC);
    var sb = new StringBuilder(n.length());
    n.codePoints()
        .filter(cp -> Character.getType(cp) != Character.FORMAT)
        .forEach(sb::appendCodePoint);
    return Normalizer.normalize(sb.toString().toLowerCase(Locale.ROOT), Normalizer.Form.NFKC);
  }

  @Override
  public String toString() {
    return "ReservedNames" + words;
  }
}
