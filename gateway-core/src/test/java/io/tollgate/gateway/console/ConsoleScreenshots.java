package io.tollgate.gateway.console;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.Select;

/**
 * Makes the screenshots of docs/console/ (desktop 1280 px and phone 360 px wide) from a gateway
 * with a day of made-up usage. Not a test; run it by hand after changing the console:
 *
 * <pre>
 * mvn -B -q -pl gateway-core -am test-compile dependency:build-classpath -Dmdep.includeScope=test \
 *     -Dmdep.outputFile=/tmp/cp-\${project.artifactId}.txt
 * java -cp gateway-core/target/test-classes:gateway-core/target/classes:$(cat /tmp/cp-gateway-core.txt) \
 *     io.tollgate.gateway.console.ConsoleScreenshots docs/console
 * </pre>
 *
 * (the second command from the repository root: the images land in its docs/console/).
 */
public final class ConsoleScreenshots {

  private ConsoleScreenshots() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "docs/console").toAbsolutePath();
    Files.createDirectories(out);
    Path dir = Files.createTempDirectory("tollgate-screenshots-");
    try (ConsoleFixture f = new ConsoleFixture(dir, Duration.ofHours(20));
        ConsoleBrowser b = new ConsoleBrowser(1280, 900)) {
      // A day of usage: a few calls every two hours from both buyers.
      for (int hour = 0; hour < 20; hour += 2) {
        for (int i = 0; i < 1 + (hour * 7) % 5; i++) {
          for (var r : java.util.List.of(f.chat(f.buyerKey, "tell me about hour " + hour + " " + "word ".repeat(i * 5)),
              f.chat(f.paygBuyerKey, "price me " + "token ".repeat(hour + i * 3)))) {
            if (r.statusCode() != 200) {
              throw new IllegalStateException("a buyer call failed: " + r.statusCode() + " " + r.body());
            }
          }
        }
        Thread.sleep(150); // the aggregator flushes these before the clock moves on
        f.clock.advance(Duration.ofHours(2));
      }
      f.clock.advance(Duration.ofMinutes(2));
      f.gateway.exporter().runOnce();
      String yesterday = LocalDate.now(ZoneOffset.UTC).minusDays(1).toString();
      String licence = licenceWithTwoMachines(f);

      for (int width : new int[] {1280, 360}) {
        String suffix = width == 1280 ? "desktop" : "phone";
        b.driver.manage().window().setSize(new Dimension(width, width == 1280 ? 900 : 800));
        b.open(f.consoleUrl());
        b.js("sessionStorage.clear()");
        b.driver.navigate().refresh();
        b.waitFor("input[name=token]");
        shoot(b, out, "signin-" + suffix);

        b.signIn(f.consoleUrl(), f.merchantToken);
        b.waitFor("#products-table");
        shoot(b, out, "merchant-products-" + suffix);
        b.driver.findElement(By.linkText("Usage & revenue")).click();
        new Select(b.waitFor("#usage-product")).selectByVisibleText("Acme Chat (listed)");
        b.js("document.querySelector('input[name=from]').value = arguments[0]", yesterday);
        b.driver.findElement(By.cssSelector(".usage-panel button[type=submit]")).click();
        b.waitFor(".usage-table");
        Thread.sleep(400);
        shoot(b, out, "merchant-usage-" + suffix, ".figure");
        b.driver.findElement(By.linkText("Billing records")).click();
        b.waitFor("#records-table");
        shoot(b, out, "merchant-records-" + suffix);
        b.driver.findElement(By.linkText("Test keys")).click();
        b.wait.until(d -> new Select(d.findElement(By.id("key-sku"))).getOptions().size() > 1);
        b.driver.findElement(By.cssSelector("#create-key-form button[type=submit]")).click();
        io.tollgate.gateway.testing.TestSecrets.register(b.waitFor("#new-key").getDomProperty("value"));
        b.waitFor("#keys-table");
        shoot(b, out, "merchant-keys-" + suffix);
        if (width == 1280) {
          b.driver.findElement(By.cssSelector("#keys-table a.machines-link[data-subscription='" + licence + "']")).click();
          b.waitFor("#machines-table");
          shoot(b, out, "merchant-machines-" + suffix);
        }

        b.signIn(f.consoleUrl(), ConsoleFixture.OPERATOR);
        b.waitFor("#review-queue");
        shoot(b, out, "operator-review-" + suffix);
        b.driver.findElement(By.linkText("Subscriptions")).click();
        b.waitFor("#subscriptions-table");
        shoot(b, out, "operator-subscriptions-" + suffix);
        b.driver.findElement(By.linkText("Fleet")).click();
        b.waitFor("#fleet .usage-table");
        b.js("document.querySelector('input[name=from]').value = arguments[0]", yesterday);
        b.driver.findElement(By.cssSelector(".usage-panel button[type=submit]")).click();
        Thread.sleep(400);
        b.waitFor("#fleet .usage-table");
        shoot(b, out, "operator-fleet-" + suffix, ".figure");

        b.signIn(f.consoleUrl(), f.buyerKey);
        b.waitFor("#remaining");
        b.js("document.querySelector('input[name=from]').value = arguments[0]", yesterday);
        b.driver.findElement(By.cssSelector(".usage-panel button[type=submit]")).click();
        Thread.sleep(400);
        b.waitFor("#buyer-usage .usage-table");
        shoot(b, out, "buyer-" + suffix);
      }
      b.assertNoScriptErrors();
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** A licence product of the merchant with a three-seat test code on two machines; the code's subscription id. */
  private static String licenceWithTwoMachines(ConsoleFixture f) throws Exception {
    JsonObject code = f.licenceTestCode(3);
    for (String[] machine : new String[][] {{"9f86d081884c7d65", "cad-01"}, {"2c26b46b68ffc68f", "cad-workstation-02"}}) {
      var r = f.http.buyer(f.gateway, "POST", "/licence/v1/activate", null, new JsonObject().put("code", code.getString("apiKey"))
          .put("fingerprint", machine[0]).put("hostname", machine[1]).put("nonce", "shot-" + machine[0]).encode());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("an activation failed: " + r.statusCode() + " " + r.body());
      }
    }
    return code.getString("id");
  }

  private static void shoot(ConsoleBrowser b, Path out, String name) throws Exception {
    shoot(b, out, name, null);
  }

  /** A screenshot of the window, scrolled to the top or, on a phone, to {@code phoneScrollTo}. */
  private static void shoot(ConsoleBrowser b, Path out, String name, String phoneScrollTo) throws Exception {
    WebDriver d = b.driver;
    if (phoneScrollTo != null && name.endsWith("-phone")) {
      b.js("document.querySelector(arguments[0]).scrollIntoView()", phoneScrollTo);
    } else {
      b.js("window.scrollTo(0, 0)");
    }
    d.findElements(By.cssSelector("#flash")).forEach(e -> b.js("arguments[0].replaceChildren()", e));
    b.js("document.activeElement && document.activeElement.blur()");
    Files.write(out.resolve(name + ".png"), b.screenshotPng());
    System.out.println("wrote " + out.resolve(name + ".png"));
  }
}
