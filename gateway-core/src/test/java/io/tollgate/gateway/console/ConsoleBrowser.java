package io.tollgate.gateway.console;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Headless Chromium from Debian's {@code chromium} package, driven through {@code chromium-driver}
 * (no download, no Selenium Manager): one browser per test class. Collects what the page logs, so
 * a test can assert the page raised no script error.
 */
final class ConsoleBrowser implements AutoCloseable {

  static final String CHROMIUM = System.getProperty("tollgate.chromium", "/usr/bin/chromium");
  static final String CHROMEDRIVER = System.getProperty("tollgate.chromedriver", "/usr/bin/chromedriver");

  final ChromeDriver driver;
  final WebDriverWait wait;
  private final Path profile;
  private final List<LogEntry> logs = new ArrayList<>();

  ConsoleBrowser(int width, int height) throws Exception {
    if (!Files.isExecutable(Path.of(CHROMIUM)) || !Files.isExecutable(Path.of(CHROMEDRIVER))) {
      throw new AssertionError("the console's browser tests need headless Chromium: " + CHROMIUM + " or "
          + CHROMEDRIVER + " is missing. Install Debian's packages: apt-get install -y chromium chromium-driver"
          + " (.ci/run does this when they are missing)");
    }
    profile = Files.createTempDirectory("tollgate-chromium-");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM);
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
        "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "--lang=en-US");
    LoggingPreferences prefs = new LoggingPreferences();
    prefs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", prefs);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(CHROMEDRIVER)).usingAnyFreePort().build();
    driver = new ChromeDriver(service, options);
    driver.manage().window().setSize(new Dimension(width, height));
    wait = new WebDriverWait(driver, Duration.ofSeconds(10), Duration.ofMillis(50));
  }

  void open(String url) {
    driver.get(url);
  }

  /** Signs out if signed in, then signs in with {@code token} by typing it and pressing Enter. */
  void signIn(String consoleUrl, String token) {
    driver.get(consoleUrl);
    driver.executeScript("sessionStorage.clear()");
    driver.navigate().refresh();
    WebElement input = wait.until(ExpectedConditions.elementToBeClickable(By.cssSelector("input[name=token]")));
    input.sendKeys(token, Keys.ENTER);
  }

  WebElement waitFor(String css) {
    return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(css)));
  }

  void waitForText(String css, String text) {
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(css), text));
  }

  List<WebElement> all(String css) {
    return driver.findElements(By.cssSelector(css));
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  /** Whether the page is wider than the window (it scrolls sideways). */
  boolean scrollsSideways() {
    return (Boolean) js("return document.documentElement.scrollWidth > document.documentElement.clientWidth");
  }

  /** Every browser log entry since the last call (console messages, uncaught exceptions, CSP reports). */
  List<LogEntry> drainLogs() {
    for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) {
      logs.add(e);
    }
    List<LogEntry> out = List.copyOf(logs);
    logs.clear();
    return out;
  }

  /** Asserts the page logged no error other than those matching {@code allowed} (regexes). */
  void assertNoScriptErrors(String... allowed) {
    List<String> errors = new ArrayList<>();
    for (LogEntry e : drainLogs()) {
      if (e.getLevel().intValue() < Level.SEVERE.intValue()) {
        continue;
      }
      String m = e.getMessage();
      boolean ok = false;
      for (String a : allowed) {
        ok |= m.matches("(?s).*" + a + ".*");
      }
      if (!ok) {
        errors.add(m);
      }
    }
    assertThat(errors).as("the console raised script errors (uncaught exceptions, console.error, CSP violations)")
        .isEmpty();
  }

  byte[] screenshotPng() {
    return driver.getScreenshotAs(org.openqa.selenium.OutputType.BYTES);
  }

  Map<String, Object> capabilities() {
    return driver.getCapabilities().asMap();
  }

  @Override
  public void close() throws java.io.IOException {
    try {
      driver.quit();
    } finally {
      try (var files = Files.walk(profile)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
