package io.tollgate.gateway.console;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

/**
 * The web console in headless Chromium against a real gateway: each role signs in and does its
 * work, and the numbers the console shows are the admin API's. One gateway and one browser for
 * the class; every test ends by asserting the page raised no script error.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleBrowserTest {

  @TempDir static Path dir;
  ConsoleFixture f;
  ConsoleBrowser b;
  final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  void start() throws Exception {
    f = new ConsoleFixture(dir);
    b = new ConsoleBrowser(1280, 900);
  }

  @AfterAll
  void stop() throws Exception {
    try {
      if (b != null) {
        b.close();
      }
    } finally {
      if (f != null) {
        f.close();
      }
    }
  }

  @AfterEach
  void noScriptErrors() {
    b.assertNoScriptErrors();
  }

  HttpResponse<String> get(String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + f.gateway.adminPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void page_isServedWithStrictHeaders_andItsAssetsAreCachedByHash() throws Exception {
    HttpResponse<String> page = get("/console/");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("cache-control")).as("a new build must show at once").hasValue("no-cache");
    String csp = page.headers().firstValue("content-security-policy").orElseThrow();
    assertThat(csp).contains("default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
        "frame-ancestors 'none'").doesNotContain("unsafe-inline").doesNotContain("unsafe-eval");
    assertThat(page.headers().firstValue("x-frame-options")).hasValue("DENY");
    assertThat(page.headers().firstValue("x-content-type-options")).hasValue("nosniff");
    assertThat(page.body()).as("no inline script").doesNotContainPattern("<script(?![^>]*\\bsrc=)[^>]*>")
        .as("no inline style").doesNotContain("style=").doesNotContain("<style");

    Matcher m = Pattern.compile("src=\"(/console/a/[0-9a-f]{16}/app\\.js)\"").matcher(page.body());
    assertThat(m.find()).as("the page names its script under the build's hash: " + page.body()).isTrue();
    HttpResponse<String> app = get(m.group(1));
    assertThat(app.statusCode()).isEqualTo(200);
    assertThat(app.headers().firstValue("content-type")).hasValue("text/javascript; charset=utf-8");
    assertThat(app.headers().firstValue("cache-control")).hasValue("public, max-age=31536000, immutable");
    assertThat(app.headers().firstValue("content-security-policy")).isPresent();
    HttpResponse<String> css = get(m.group(1).replace("app.js", "console.css"));
    assertThat(css.headers().firstValue("content-type")).hasValue("text/css; charset=utf-8");
    HttpResponse<String> uplot = get(Console.vendorPrefix() + "uPlot.iife.min.js");
    assertThat(uplot.statusCode()).as("the chart library is served by tollgate, not a CDN").isEqualTo(200);
    assertThat(uplot.headers().firstValue("cache-control")).hasValue("public, max-age=31536000, immutable");
    assertThat(get("/console/a/0000000000000000/app.js").statusCode()).as("another build's asset").isEqualTo(404);
    HttpResponse<String> bare = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + f.gateway.adminPort() + "/console")).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(bare.statusCode()).isEqualTo(301);
    assertThat(bare.headers().firstValue("location")).hasValue("/console/");
    assertThat(get("/console/../admin/v1/me").statusCode()).isIn(400, 401, 404);
    assertThat(get("/console/a/" + m.group(1).split("/")[3] + "/../../../logback.xml").statusCode()).isIn(400, 404);
    for (String file : Console.FILES) {
      String body = get(m.group(1).replace("app.js", file)).body();
      assertThat(body).as(file + " writes no inline style attribute and evaluates no strings")
          .doesNotContain("setAttribute('style'").doesNotContain("innerHTML").doesNotContain("eval(")
          .doesNotContain("new Function");
    }
  }

  @Test
  void wrongToken_showsAClearError_andKeepsNothing() {
    b.open(f.consoleUrl());
    b.js("sessionStorage.clear()");
    b.open(f.consoleUrl().replaceAll("/$", ""));
    b.waitFor("input[name=token]");
    assertThat(b.driver.getCurrentUrl()).as("/console redirects to /console/").isEqualTo(f.consoleUrl());
    double loaded = ((Number) b.js("return performance.getEntriesByType('navigation')[0].loadEventEnd")).doubleValue();
    assertThat(loaded).as("the first screen loads in under a second on loopback (ms)").isPositive().isLessThan(1000);
    b.signIn(f.consoleUrl(), "tg-this-is-not-a-token");
    b.waitForText("#signin-error", "not accepted");
    assertThat(b.js("return sessionStorage.length")).isEqualTo(0L);
    assertThat(b.all("#signout").get(0).isDisplayed()).isFalse();
    assertThat(b.driver.getCurrentUrl()).doesNotContain("tg-this-is-not-a-token");
    // The browser itself logs the refused request; that, and only that, is expected.
    b.assertNoScriptErrors("401 \\(Unauthorized\\)");
  }

  @Test
  void merchant_createsATestKey_andSeesItsCallInTheChartTable_andInTheRecords() throws Exception {
    b.signIn(f.consoleUrl(), f.merchantToken);
    b.waitFor("#products-table");
    assertThat(b.driver.findElement(By.id("products-table")).getText())
        .contains("Acme Chat", "listed", "Acme Search", "pending review", "Acme Vision",
            "Rejected: The endpoint answered 500 to our test call.");
    assertThat(b.driver.findElement(By.id("who")).getText()).isEqualTo("merchant: Acme AI");
    b.driver.findElement(By.cssSelector("button[aria-label='Submit Acme Vision for review']")).click();
    b.waitForText("#flash", "Acme Vision was submitted for review.");
    b.wait.until(d -> d.findElement(By.id("products-table")).findElements(By.tagName("tr")).stream()
        .anyMatch(r -> r.getText().startsWith("Acme Vision") && r.getText().contains("pending review")));
    assertThat(f.admin("GET", "/admin/v1/products/" + f.rejectedProduct, f.merchantToken, null, 200).getString("status"))
        .isEqualTo("pending_review");

    // A product's SKUs and their price history.
    b.driver.findElement(By.linkText("Acme Chat")).click();
    b.waitForText("#skus", "Pay as you go");
    WebElement history = b.driver.findElement(By.cssSelector("#skus details"));
    history.findElement(By.tagName("summary")).click();
    b.wait.until(d -> history.findElements(By.cssSelector("tbody tr")).size() == 2);
    assertThat(history.getText()).contains("0.6 USD / M output", "0.55 USD / M output");

    // A test key: created, shown once with a copy button.
    b.driver.findElement(By.linkText("Test keys")).click();
    new Select(b.waitFor("#key-product")).selectByVisibleText("Acme Chat (listed)");
    b.wait.until(d -> new Select(d.findElement(By.id("key-sku"))).getOptions().size() == 2);
    new Select(b.driver.findElement(By.id("key-sku"))).selectByVisibleText("Pay as you go (PER_TOKEN)");
    b.driver.findElement(By.cssSelector("#create-key-form button[type=submit]")).click();
    String key = b.waitFor("#new-key").getDomProperty("value");
    io.tollgate.gateway.testing.TestSecrets.register(key);
    assertThat(key).startsWith("tg-");
    assertThat(b.driver.findElement(By.id("copy-key")).isDisplayed()).isTrue();

    HttpResponse<String> call = f.chat(key, "hello from the console test");
    assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
    JsonObject reported = new JsonObject(call.body()).getJsonObject("usage");

    // Its usage in the chart's table, as GET /admin/v1/usage has it.
    b.driver.findElement(By.linkText("Usage & revenue")).click();
    new Select(b.waitFor("#usage-product")).selectByVisibleText("Acme Chat (listed)");
    b.wait.until(d -> new Select(d.findElement(By.id("usage-sku"))).getOptions().size() == 3);
    new Select(b.driver.findElement(By.id("usage-sku"))).selectByVisibleText("Pay as you go (PER_TOKEN)");
    b.wait.withTimeout(Duration.ofSeconds(15)).until(d -> {
      d.findElement(By.cssSelector(".usage-panel button[type=submit]")).click();
      List<WebElement> total = d.findElements(By.cssSelector("[data-total=calls]"));
      return !total.isEmpty() && total.get(0).getText().equals("1");
    });
    List<WebElement> charts = b.all(".usage-panel canvas[role=img]");
    assertThat(charts).as("a chart, labelled, for calls and tokens and one for the amount").hasSize(2);
    assertThat(charts.get(0).getDomAttribute("aria-label")).contains("calls and tokens", "total 1 calls");
    assertThat(charts.get(1).getDomAttribute("aria-label")).contains("amount", "total amount");
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    JsonObject api = f.admin("GET", "/admin/v1/usage?skuId=" + f.paygSku + "&granularity=hour&from="
        + today.minusDays(6) + "T00:00:00Z&to=" + today.plusDays(1) + "T00:00:00Z", f.merchantToken, null, 200);
    JsonObject total = api.getJsonObject("total");
    assertThat(total.getLong("inputTokens")).isEqualTo(reported.getLong("prompt_tokens"));
    assertThat(text("[data-total=calls]")).isEqualTo(String.valueOf(total.getLong("calls")));
    assertThat(text("[data-total=inputTokens]")).isEqualTo(String.valueOf(total.getLong("inputTokens")));
    assertThat(text("[data-total=outputTokens]")).isEqualTo(String.valueOf(total.getLong("outputTokens")));
    assertThat(text("[data-total=amount]")).as("test usage is never billed").isEqualTo(total.getString("amount") + " USD");
    List<WebElement> rows = b.all(".usage-table tbody tr");
    assertThat(rows).hasSize(api.getJsonArray("data").size());
    JsonObject bucket = api.getJsonArray("data").getJsonObject(0);
    assertThat(rows.get(0).findElement(By.cssSelector("[data-field=outputTokens]")).getText().replace(",", ""))
        .isEqualTo(String.valueOf(bucket.getLong("outputTokens")));
    assertThat(rows.get(0).getText()).contains(bucket.getString("start").substring(0, 10));

    // The test key's usage on its page.
    b.driver.findElement(By.linkText("Test keys")).click();
    b.waitFor("#keys-table");
    b.wait.withTimeout(Duration.ofSeconds(10)).until(d -> {
      d.findElement(By.id("refresh-keys")).click();
      return d.findElements(By.id("keys-table")).stream().anyMatch(t -> t.getText().replace(",", "").contains(
          String.valueOf(total.getLong("inputTokens"))));
    });

    // Once its window closes, the call is a billing record.
    f.clock.advance(Duration.ofMinutes(2));
    f.gateway.exporter().runOnce();
    b.driver.findElement(By.linkText("Billing records")).click();
    WebElement records = b.waitFor("#records-table");
    WebElement row = records.findElements(By.cssSelector("tbody tr")).stream()
        .filter(r -> r.getText().contains("Acme Chat") && r.getText().contains("test")).findFirst().orElseThrow(() -> new AssertionError(records.getText()));
    assertThat(row.findElement(By.cssSelector("[data-field=calls]")).getText()).isEqualTo("1");
    assertThat(row.findElement(By.cssSelector("[data-field=inputTokens]")).getText().replace(",", ""))
        .isEqualTo(String.valueOf(total.getLong("inputTokens")));
    assertThat(row.findElement(By.cssSelector("[data-field=outputTokens]")).getText().replace(",", ""))
        .isEqualTo(String.valueOf(total.getLong("outputTokens")));
    // The CSV download holds the same record: read the file the page hands the browser.
    b.js("window.csvText = null; const make = URL.createObjectURL;"
        + " URL.createObjectURL = (blob) => { blob.text().then((t) => { window.csvText = t; }); return make.call(URL, blob); };"
        + " HTMLAnchorElement.prototype.click = function () {};");
    b.driver.findElement(By.id("records-csv")).click();
    String csv = (String) b.wait.until(d -> b.js("return window.csvText"));
    String[] lines = csv.split("\r\n");
    assertThat(lines[0]).startsWith("id,windowStart,windowEnd,productId,skuId,subscriptionId,");
    assertThat(csv).contains(f.chatProduct + "," + f.paygSku + ",");
    assertThat(java.util.Arrays.stream(lines).filter(l -> l.contains(",true,PER_TOKEN,1," + total.getLong("inputTokens") + ",")))
        .as("the test call's record, with its numbers: " + csv).hasSize(1);

    b.driver.findElement(By.id("signout")).click();
    b.waitFor("input[name=token]");
    assertThat(b.js("return sessionStorage.length")).as("signing out forgets the token").isEqualTo(0L);
  }

  @Test
  void merchantAndOperator_seeTheMachinesOfALicence_asTheAdminApiHasThem() throws Exception {
    JsonObject code = f.licenceTestCode(3);
    String sub = code.getString("id");
    HttpResponse<String> activated = f.http.buyer(f.gateway, "POST", "/licence/v1/activate", null, new JsonObject()
        .put("code", code.getString("apiKey")).put("fingerprint", "9f86d081884c7d65").put("hostname", "cad-01")
        .put("nonce", "console-n1").encode());
    assertThat(activated.statusCode()).as(activated.body()).isEqualTo(200);

    // The merchant: from the test code's row in Test keys to its machines.
    b.signIn(f.consoleUrl(), f.merchantToken);
    b.waitFor("#products-table");
    b.driver.findElement(By.linkText("Test keys")).click();
    WebElement link = b.waitFor("#keys-table a.machines-link[data-subscription='" + sub + "']");
    assertThat(link.getText()).isEqualTo("1 of 3 machines");
    link.click();
    WebElement machines = b.waitFor("#machines-table");
    JsonObject api = f.admin("GET", "/admin/v1/subscriptions/" + sub + "/machines", f.merchantToken, null, 200);
    assertThat(api.getJsonArray("data")).hasSize(1);
    JsonObject m = api.getJsonArray("data").getJsonObject(0);
    List<WebElement> rows = machines.findElements(By.cssSelector("tbody tr"));
    assertThat(rows).hasSize(1);
    WebElement row = rows.get(0);
    assertThat(row.findElement(By.cssSelector("[data-field=fingerprint]")).getText()).isEqualTo(m.getString("fingerprint"));
    assertThat(row.findElement(By.cssSelector("[data-field=hostname]")).getText()).isEqualTo(m.getString("hostname"));
    assertThat(row.findElement(By.cssSelector("[data-field=activatedAt]")).getDomAttribute("datetime"))
        .isEqualTo(m.getString("activatedAt"));
    assertThat(row.findElement(By.cssSelector("[data-field=lastHeartbeatAt]")).getDomAttribute("datetime"))
        .isEqualTo(m.getString("lastHeartbeatAt"));
    assertThat(m.getBoolean("alive")).isTrue();
    assertThat(row.findElement(By.cssSelector("[data-field=alive]")).getText()).as("alive in words").isEqualTo("yes");
    assertThat(b.driver.findElement(By.id("machines-seats")).getText()).isEqualTo("1 of 3 active");
    assertThat(b.driver.getCurrentUrl()).endsWith("#/machines/" + sub);
    assertThat(b.driver.findElement(By.id("main")).getText()).as("no empty value shown as text").doesNotContain("null");

    // The lookup by id: an unknown subscription is an error, not an empty list.
    b.assertNoScriptErrors();
    WebElement lookup = b.driver.findElement(By.id("machines-sub"));
    lookup.clear();
    lookup.sendKeys("sub_does_not_exist" + org.openqa.selenium.Keys.ENTER);
    b.waitForText("#machines .error", "Not found");
    assertThat(b.all("#machines-table")).isEmpty();
    // The browser itself logs the refused requests; that, and only that, is expected.
    b.assertNoScriptErrors("404 \\(Not Found\\)");

    // At 360 px the table is cards, with nothing to scroll sideways.
    b.driver.manage().window().setSize(new org.openqa.selenium.Dimension(360, 780));
    try {
      b.driver.navigate().to(f.consoleUrl() + "#/machines/" + sub);
      b.waitFor("#machines-table");
      assertThat(b.scrollsSideways()).as("machines at 360 px").isFalse();
    } finally {
      b.driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
    }

    // The operator: from the licence's row in Subscriptions.
    b.signIn(f.consoleUrl(), ConsoleFixture.OPERATOR);
    b.waitFor("#review-queue, #review .empty");
    b.driver.findElement(By.linkText("Subscriptions")).click();
    b.waitFor("#subscriptions-table a.machines-link[data-subscription='" + sub + "']").click();
    assertThat(b.waitFor("#machines-table [data-field=fingerprint]").getText()).isEqualTo(m.getString("fingerprint"));
    assertThat(b.driver.findElement(By.linkText("← Subscriptions")).isDisplayed()).isTrue();
  }

  @Test
  void operator_approvesAProduct_andSeesMerchantsSubscriptionsAndTheFleet() throws Exception {
    b.signIn(f.consoleUrl(), ConsoleFixture.OPERATOR);
    WebElement item = b.waitFor("#review-queue li[data-product='" + f.pendingProduct + "']");
    assertThat(item.getText()).contains("Acme Search", "Acme AI", "Per call (PER_CALL)");
    item.findElement(By.cssSelector("button.approve")).click();
    b.waitForText("#flash", "Acme Search is listed.");
    assertThat(f.admin("GET", "/admin/v1/products/" + f.pendingProduct, ConsoleFixture.OPERATOR, null, 200)
        .getString("status")).isEqualTo("listed");
    b.wait.until(d -> d.findElements(By.cssSelector("li[data-product='" + f.pendingProduct + "']")).isEmpty());

    // Rejecting needs a reason, which the merchant then reads as the review note.
    String doubtful = f.submittedProduct("Acme Oracle");
    b.driver.navigate().refresh();
    WebElement toReject = b.waitFor("#review-queue li[data-product='" + doubtful + "']");
    toReject.findElement(By.cssSelector("button[aria-label='Reject Acme Oracle']")).click();
    WebElement reason = toReject.findElement(By.tagName("textarea"));
    assertThat(b.driver.switchTo().activeElement()).as("the reason box has the focus").isEqualTo(reason);
    reason.sendKeys("Its name promises more than it does.");
    toReject.findElement(By.cssSelector("form button[type=submit]")).click();
    b.waitForText("#flash", "Acme Oracle was rejected");
    JsonObject rejected = f.admin("GET", "/admin/v1/products/" + doubtful, ConsoleFixture.OPERATOR, null, 200);
    assertThat(rejected.getString("status")).isEqualTo("draft");
    assertThat(rejected.getString("reviewNote")).isEqualTo("Its name promises more than it does.");

    b.driver.findElement(By.linkText("Merchants")).click();
    assertThat(b.waitFor("#merchants-table").getText()).contains("Acme AI", "+1 555 0100", "support@acme.example");
    b.driver.findElement(By.cssSelector("#merchants details summary")).click();
    b.waitForText("#merchants details", "Acme Vision");

    b.driver.findElement(By.linkText("Subscriptions")).click();
    WebElement subs = b.waitFor("#subscriptions-table");
    assertThat(subs.getText()).contains("Bea Buyer", "Cy Customer");
    // Suspending asks first; keeping it changes nothing.
    WebElement cy = subs.findElements(By.cssSelector("tbody tr")).stream().filter(r -> r.getText().contains("Cy Customer"))
        .findFirst().orElseThrow();
    cy.findElement(By.cssSelector("button[data-action=suspend]")).click();
    b.waitFor("#confirm[open]");
    b.driver.findElement(By.cssSelector("#confirm button[value=cancel]")).click();
    assertThat(b.all("#confirm[open]")).isEmpty();
    cy.findElement(By.cssSelector("button[data-action=suspend]")).click();
    b.waitFor("#confirm[open]");
    b.driver.findElement(By.id("confirm-ok")).click();
    b.waitForText("#flash", "is suspended");
    b.wait.until(d -> d.findElement(By.id("subscriptions-table")).findElements(By.cssSelector("button[data-action=resume]"))
        .size() == 1);
    b.driver.findElement(By.cssSelector("#subscriptions-table button[data-action=resume]")).click();
    b.waitForText("#flash", "is active");

    b.driver.findElement(By.linkText("Fleet")).click();
    WebElement canvas = b.waitFor("#fleet canvas[role=img]");
    assertThat(canvas.getDomAttribute("aria-label")).startsWith("Fleet: calls and tokens");
    b.waitFor("#fleet .usage-table");
  }

  @Test
  void buyer_seesTheSubscription_andRemainingQuotaFallAfterACall() throws Exception {
    b.signIn(f.consoleUrl(), f.buyerKey);
    WebElement remaining = b.waitFor("#remaining");
    long before = Long.parseLong(remaining.getDomAttribute("data-value"));
    assertThat(b.driver.findElement(By.id("subscription-facts")).getText()).contains("Acme Chat", "active");
    assertThat(b.driver.findElement(By.id("support")).getText()).contains("Acme AI", "+1 555 0100",
        "support@acme.example");
    assertThat(b.driver.findElement(By.id("expires")).getText()).isNotEqualTo("does not expire");

    assertThat(f.chat(f.buyerKey, "how much is left").statusCode()).isEqualTo(200);
    b.wait.withTimeout(Duration.ofSeconds(15)).until(d -> {
      d.findElement(By.id("refresh")).click();
      List<WebElement> r = d.findElements(By.id("remaining"));
      return !r.isEmpty() && Long.parseLong(r.get(0).getDomAttribute("data-value")) < before;
    });
    long after = Long.parseLong(b.driver.findElement(By.id("remaining")).getDomAttribute("data-value"));
    JsonObject own = new JsonObject(f.http.buyer(f.gateway, "GET", "/v1/subscription", f.buyerKey, null).body());
    assertThat(after).as("what /v1/subscription says").isEqualTo(own.getLong("remaining"));
    assertThat(b.driver.findElement(By.id("remaining")).getText()).isEqualTo(String.format(java.util.Locale.US, "%,d", after));
    b.waitFor("#buyer-usage canvas[role=img]");
  }

  @Test
  void narrowScreen_hasNoSidewaysScroll_andEveryControlIsReachableByKeyboard() throws Exception {
    b.driver.manage().window().setSize(new org.openqa.selenium.Dimension(360, 780));
    try {
      b.signIn(f.consoleUrl(), ConsoleFixture.OPERATOR);
      b.waitFor("#review-queue, #review .empty");
      for (String view : List.of("Subscriptions", "Merchants", "Fleet", "Review queue")) {
        b.driver.findElement(By.linkText(view)).click();
        b.waitFor("main h2");
        b.wait.until(d -> d.findElements(By.cssSelector("main .loading")).isEmpty());
        assertThat(b.scrollsSideways()).as(view + " at 360 px").isFalse();
      }
      b.signIn(f.consoleUrl(), f.merchantToken);
      for (String view : List.of("Products", "Test keys", "Usage & revenue", "Billing records")) {
        b.driver.findElement(By.linkText(view)).click();
        b.waitFor("main h2");
        b.wait.until(d -> d.findElements(By.cssSelector("main .loading")).isEmpty());
        assertThat(b.scrollsSideways()).as(view + " at 360 px").isFalse();
      }
      // Tab moves through links and buttons, each with a visible focus ring.
      b.js("document.activeElement.blur()");
      for (int i = 0; i < 6; i++) {
        new org.openqa.selenium.interactions.Actions(b.driver).sendKeys(org.openqa.selenium.Keys.TAB).perform();
        Object outline = b.js("const e = document.activeElement; return e === document.body ? 'body'"
            + " : getComputedStyle(e).outlineStyle");
        assertThat(outline).as("focus ring on " + b.js("return document.activeElement.outerHTML.slice(0, 80)"))
            .isNotEqualTo("none");
      }
    } finally {
      b.driver.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 900));
    }
  }

  /** The text of the element at {@code css}, without the thousands separators numbers are shown with. */
  private String text(String css) {
    return b.driver.findElement(By.cssSelector(css)).getText().replace(",", "");
  }
}
