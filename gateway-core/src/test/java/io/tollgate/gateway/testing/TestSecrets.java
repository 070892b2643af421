package io.tollgate.gateway.testing;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The keys, tokens and secrets the tests created or configured, which must never show in a log
 * line ({@link NoSecretsInLogs}).
 *
 * <p>The admin helpers tests share ({@code AdminApi}, {@code AdminClient}, the end-to-end tests'
 * own) pass every request and answer body to {@link #fromJson}, which takes the values of the
 * fields that hold secrets; {@link NoSecretsInLogs} adds each test class's constants named like a
 * secret. Keys and tokens tollgate issues are caught by their shape as well, registered or not.
 */
public final class TestSecrets {

  /** Shorter values are too likely to occur in a log line by chance. */
  static final int MIN_LENGTH = 8;
  private static final Pattern SECRET_FIELD = Pattern.compile(
      "\"(token|apiKey|secretKey|password|jdbcPassword|operatorToken)\"\\s*:\\s*\"([^\"\\\\]+)\"");
  private static final Set<String> SECRETS = ConcurrentHashMap.newKeySet();

  private TestSecrets() {}

  /** Registers {@code secret} (ignored when null, masked or shorter than {@value #MIN_LENGTH}). */
  public static void register(String secret) {
    if (secret != null && secret.length() >= MIN_LENGTH && !secret.chars().allMatch(c -> c == '*')) {
      SECRETS.add(secret);
    }
  }

  /** Registers the values of the secret-holding fields in a JSON text (a request or an answer). */
  public static void fromJson(String json) {
    if (json == null) {
      return;
    }
    Matcher m = SECRET_FIELD.matcher(json);
    while (m.find()) {
      register(m.group(2));
    }
  }

  /** Everything registered so far. */
  public static Set<String> all() {
    return Set.copyOf(SECRETS);
  }
}
