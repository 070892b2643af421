package io.tollgate.gateway.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * No key, token or secret in any log line of the test run: after each test class, the lines
 * logged since the last check (by this JVM and by the gateways tests ran as processes of their
 * own, all in {@code target/test-logs}, see {@link LogCapture}) are searched for
 *
 * <ul>
 *   <li>every secret in {@link TestSecrets}, and the test class's own constants whose names say
 *       they hold one ({@code OPERATOR}, {@code *TOKEN*}, {@code *SECRET*}, {@code *KEY*},
 *       {@code *PASSWORD*});
 *   <li>anything shaped like a key or token tollgate issues ({@code tg-} or {@code tgm-} and 43
 *       base64url characters, {@code ApiKeys}), registered or not.
 * </ul>
 *
 * <p>A line that holds one fails the class, naming the line. Registered for every test class by
 * JUnit's extension auto-detection ({@code junit-platform.properties}, META-INF/services); it runs
 * after the class's own {@code @AfterAll}, so what closing a gateway logs is checked too. Lines
 * logged after the last class has ended are not seen.
 */
public final class NoSecretsInLogs implements AfterAllCallback {

  /** A buyer key ({@code tg-}) or merchant token ({@code tgm-}): 32 random bytes, base64url. */
  static final Pattern ISSUED = Pattern.compile("(?<![A-Za-z0-9_-])tgm?-[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])");
  private static final Pattern SECRET_NAME = Pattern.compile(".*(OPERATOR|TOKEN|SECRET|KEY|PASSWORD).*");
  private static final Map<Path, Long> READ = new HashMap<>();

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    context.getTestClass().ifPresent(NoSecretsInLogs::registerConstants);
    List<String> found = scanNew();
    if (!found.isEmpty()) {
      throw new AssertionError("a key, token or secret was logged (" + found.size() + " line(s)); first:\n"
          + found.get(0));
    }
  }

  /**
   * Registers the static String constants named like a secret of {@code type}'s top-level class
   * and every class nested in it; a constant holding JSON or several lines is not one.
   */
  static void registerConstants(Class<?> type) {
    Class<?> top = type;
    while (top.getEnclosingClass() != null) {
      top = top.getEnclosingClass();
    }
    registerTree(top);
  }

  private static void registerTree(Class<?> c) {
    for (Field f : c.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class
          && SECRET_NAME.matcher(f.getName().toUpperCase(Locale.ROOT)).matches()) {
        try {
          f.setAccessible(true);
          String value = (String) f.get(null);
          if (value != null && value.indexOf('{') < 0 && value.indexOf('"') < 0 && value.indexOf('\n') < 0) {
            TestSecrets.register(value);
          }
        } catch (ReflectiveOperationException | RuntimeException e) {
          // not readable: not registered
        }
      }
    }
    for (Class<?> nested : c.getDeclaredClasses()) {
      registerTree(nested);
    }
  }

  /**
   * The lines logged since the last scan that hold a secret; each line is scanned once. Package
   * visible for the test of this check.
   */
  static synchronized List<String> scanNew() throws IOException {
    Set<String> secrets = TestSecrets.all();
    List<String> found = new ArrayList<>();
    Path dir = LogCapture.directory();
    if (!Files.isDirectory(dir)) {
      return found;
    }
    long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    try (var files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (Files.getLastModifiedTime(f).toMillis() < jvmStart) {
          continue; // an earlier run's
        }
        String text = readNew(f);
        for (String line : text.split("\n")) {
          if (offends(line, secrets)) {
            found.add(f.getFileName() + ": " + line);
          }
        }
      }
    }
    return found;
  }

  static boolean offends(String line, Set<String> secrets) {
    if (ISSUED.matcher(line).find()) {
      return true;
    }
    for (String s : secrets) {
      if (line.contains(s)) {
        return true;
      }
    }
    return false;
  }

  /** What {@code f} holds past what was read of it, up to its last whole line. */
  private static String readNew(Path f) throws IOException {
    long from = READ.getOrDefault(f, 0L);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
      long length = raf.length();
      if (length <= from) {
        return "";
      }
      byte[] b = new byte[(int) Math.min(length - from, Integer.MAX_VALUE - 8)];
      raf.seek(from);
      raf.readFully(b);
      int end = b.length;
      while (end > 0 && b[end - 1] != '\n') {
        end--; // a line being written: read it next time
      }
      READ.put(f, from + end);
      return new String(b, 0, end, StandardCharsets.UTF_8);
    }
  }
}
