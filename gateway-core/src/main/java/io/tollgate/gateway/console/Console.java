package io.tollgate.gateway.console;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The web console at {@code /console/} on the admin port: static files from the jar that talk to
 * the admin API with the caller's own token (docs/console.md).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Every file is read from the classpath once, at start-up, and served from memory: no disk
 *       or blocking read on the event loop, no path taken from the request reaches the classpath
 *       (a request names an entry of a fixed map, else 404).
 *   <li>The page ({@code /console/}) is {@code no-cache}; it names the scripts and styles under
 *       {@code /console/a/<hash>/}, where the hash covers every file of the console, so those are
 *       {@code immutable} for a year and a new build is never mixed with a cached old one. The
 *       chart library sits under its version ({@code /console/vendor/uplot-<version>/}) and is
 *       immutable too.
 *   <li>Every answer carries a strict {@code Content-Security-Policy} (scripts, styles and
 *       requests to this origin only; no inline script or style attribute, no frames), {@code
 *       X-Frame-Options: DENY}, {@code X-Content-Type-Options: nosniff} and {@code Referrer-Policy:
 *       no-referrer}.
 * </ul>
 */
public final class Console {

  /** The chart library's version, as in the parent pom's {@code uplot.version}. */
  static final String UPLOT_VERSION = "1.6.30";

  static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
      + " connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self';"
      + " frame-ancestors 'none'";

  /** The console's own files, under {@code src/main/resources/console/}. */
  static final List<String> FILES = List.of("console.css", "app.js", "api.js", "ui.js", "charts.js",
      "merchant.js", "operator.js", "buyer.js", "machines.js", "favicon.svg");

  private static final String IMMUTABLE = "public, max-age=31536000, immutable";

  private record Asset(Buffer body, String contentType, String cacheControl) {}

  private final Map<String, Asset> assets = new LinkedHashMap<>();
  private final String hash;
  private final Asset page;

  private Console() {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    Map<String, byte[]> own = new LinkedHashMap<>();
    for (String f : FILES) {
      byte[] b = read("console/" + f);
      own.put(f, b);
      sha.update(f.getBytes(StandardCharsets.UTF_8));
      sha.update(b);
    }
    hash = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    for (var e : own.entrySet()) {
      assets.put(prefix() + e.getKey(), new Asset(Buffer.buffer(e.getValue()), contentType(e.getKey()), IMMUTABLE));
    }
    String vendor = "META-INF/resources/webjars/uplot/" + UPLOT_VERSION + "/";
    assets.put(vendorPrefix() + "uPlot.iife.min.js",
        new Asset(Buffer.buffer(read(vendor + "dist/uPlot.iife.min.js")), contentType(".js"), IMMUTABLE));
    assets.put(vendorPrefix() + "uPlot.min.css",
        new Asset(Buffer.buffer(read(vendor + "dist/uPlot.min.css")), contentType(".css"), IMMUTABLE));
    assets.put(vendorPrefix() + "LICENSE",
        new Asset(Buffer.buffer(read(vendor + "LICENSE")), "text/plain; charset=utf-8", IMMUTABLE));
    String html = new String(read("console/index.html"), StandardCharsets.UTF_8)
        .replace("{{assets}}", prefix()).replace("{{vendor}}", vendorPrefix());
    page = new Asset(Buffer.buffer(html), contentType(".html"), "no-cache");
  }

  /** Serves the console on {@code router}: {@code GET /console/} and its assets. */
  public static void mount(Router router) {
    Console console = new Console();
    // Vert.x matches "/console" with or without the slash: only the bare one is redirected.
    router.route("/console").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> {
      if (ctx.request().path().equals("/console")) {
        console.headers(ctx.response()).setStatusCode(301).putHeader("location", "/console/").end();
      } else {
        ctx.next();
      }
    });
    router.route("/console/*").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(console::serve);
  }

  /** {@code /console/a/<hash>/}: where the page finds this build's scripts and styles. */
  String prefix() {
    return "/console/a/" + hash + "/";
  }

  static String vendorPrefix() {
    return "/console/vendor/uplot-" + UPLOT_VERSION + "/";
  }

  private void serve(RoutingContext ctx) {
    String path = ctx.request().path();
    Asset a = path.equals("/console/") || path.equals("/console/index.html") ? page : assets.get(path);
    HttpServerResponse r = headers(ctx.response());
    if (a == null) {
      r.setStatusCode(404).putHeader("content-type", "text/plain; charset=utf-8")
          .putHeader("cache-control", "no-store").end("not found\n");
      return;
    }
    r.putHeader("content-type", a.contentType()).putHeader("cache-control", a.cacheControl());
    if (ctx.request().method() == HttpMethod.HEAD) {
      r.putHeader("content-length", String.valueOf(a.body().length())).end();
    } else {
      r.end(a.body());
    }
  }

  private HttpServerResponse headers(HttpServerResponse r) {
    return r.putHeader("content-security-policy", CSP).putHeader("x-frame-options", "DENY")
        .putHeader("x-content-type-options", "nosniff").putHeader("referrer-policy", "no-referrer")
        .putHeader("cross-origin-opener-policy", "same-origin");
  }

  static String contentType(String name) {
    if (name.endsWith(".js")) {
      return "text/javascript; charset=utf-8";
    } else if (name.endsWith(".css")) {
      return "text/css; charset=utf-8";
    } else if (name.endsWith(".html")) {
      return "text/html; charset=utf-8";
    } else if (name.endsWith(".svg")) {
      return "image/svg+xml";
    }
    throw new IllegalArgumentException("no content type for " + name);
  }

  private static byte[] read(String resource) {
    try (InputStream in = Console.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("the console resource " + resource + " is missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
