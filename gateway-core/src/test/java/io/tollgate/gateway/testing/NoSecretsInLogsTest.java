package io.tollgate.gateway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.tollgate.gateway.catalog.ApiKeys;
import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The check that no secret is logged finds one that is, in a class it was not told about. */
class NoSecretsInLogsTest {

  private static final Logger log = LoggerFactory.getLogger(NoSecretsInLogsTest.class);

  @Test
  void aLoggedBuyerKey_isFound() throws Exception {
    String key = ApiKeys.newBuyerKey();
    log.info("calling with {}", key);
    assertThat(NoSecretsInLogs.scanNew()).as("the line with the key is reported")
        .anySatisfy(line -> assertThat(line).contains("calling with " + key));
    assertThat(NoSecretsInLogs.scanNew()).as("each line is reported once").isEmpty();
  }

  @Test
  void aRegisteredSecret_inAnExceptionOrArgument_isFound() throws Exception {
    String secret = "upstream-secret-" + Long.toHexString(System.nanoTime());
    TestSecrets.fromJson("{\"auth\":{\"type\":\"aksk\",\"accessKey\":\"ak\",\"secretKey\":\"" + secret + "\"}}");
    log.warn("upstream refused", new IllegalStateException("signed with " + secret));
    log.info("no placeholder for it", (Object) ("token=" + secret));
    assertThat(NoSecretsInLogs.scanNew()).hasSizeGreaterThanOrEqualTo(2)
        .allSatisfy(line -> assertThat(line).contains(secret));
  }

  /** The access log writes to stdout by default, outside Logback: what reaches stdout is checked too. */
  @Test
  void aKeyWrittenToStdout_isFound() throws Exception {
    NoSecretsInLogs.scanNew();
    String key = ApiKeys.newBuyerKey();
    System.out.println("{\"type\":\"access\",\"path\":\"/v1/models?key=" + key + "\"}");
    System.out.flush();
    assertThat(NoSecretsInLogs.scanNew()).singleElement().satisfies(line -> assertThat(line).contains(key));
  }

  @Test
  void linesWithoutSecrets_pass() throws Exception {
    NoSecretsInLogs.scanNew();
    log.info("subscription {} product {} key hash {}", "sub_x", "prod_y", ApiKeys.sha256Hex(ApiKeys.newBuyerKey()));
    assertThat(NoSecretsInLogs.scanNew()).isEmpty();
  }

  /**
   * Run through the JUnit launcher, as surefire runs any class: a test that logs a merchant token
   * fails its class, although it never mentions the check.
   */
  @Test
  void aClassThatLogsAToken_fails() {
    Leaks.enabled = true;
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    try {
      LauncherFactory.create().execute(
          LauncherDiscoveryRequestBuilder.request().selectors(selectClass(Leaks.class)).build(), listener);
    } finally {
      Leaks.enabled = false;
    }
    TestExecutionSummary summary = listener.getSummary();
    assertThat(summary.getTestsSucceededCount()).as("the test itself passes").isEqualTo(1);
    assertThat(summary.getFailures()).as("its class fails after all of its tests")
        .singleElement().satisfies(f -> assertThat(f.getException()).isInstanceOf(AssertionError.class)
            .hasMessageContaining("a key, token or secret was logged").hasMessageContaining(Leaks.token));
  }

  /** Not run by surefire (a nested class); run by {@link #aClassThatLogsAToken_fails}. */
  static class Leaks {
    static volatile boolean enabled;
    static volatile String token;

    @Test
    void logsAMerchantToken() {
      if (enabled) {
        token = ApiKeys.newMerchantToken();
        LoggerFactory.getLogger(Leaks.class).debug("not logged at DEBUG {}", token);
        LoggerFactory.getLogger(Leaks.class).info("merchant created, token {}", token);
      }
    }
  }
}
