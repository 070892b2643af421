package io.tollgate.gateway.proxy;

import io.tollgate.metering.testing.SharedFixtures;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * An upstream that answers {@code /fx/<file>/...} with the bytes of a recorded response from
 * {@code fixtures/}, written in random-sized pieces (chunked), so a test can compare what
 * the buyer receives with exactly what the upstream sent.
 */
final class FixtureUpstream implements AutoCloseable {

  final HttpServer server;
  final Path dir;

  FixtureUpstream(Vertx vertx) {
    this.dir = SharedFixtures.dir();
    this.server = vertx.createHttpServer().requestHandler(req -> req.body().onComplete(b -> {
      String[] parts = req.path().split("/");
      HttpServerResponse res = req.response();
      if (parts.length < 3 || !"fx".equals(parts[1])) {
        res.setStatusCode(404).end();
        return;
      }
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(dir.resolve(parts[2]));
      } catch (Exception e) {
        res.setStatusCode(404).end();
        return;
      }
      res.putHeader("content-type", parts[2].endsWith(".sse") ? "text/event-stream" : "application/json");
      res.setChunked(true);
      Random random = new Random(bytes.length);
      int i = 0;
      while (i < bytes.length) {
        int n = Math.min(bytes.length - i, 1 + random.nextInt(700));
        res.write(Buffer.buffer().appendBytes(bytes, i, n));
        i += n;
      }
      res.end();
    })).listen(0, "127.0.0.1").await();
  }

  String baseUrl(String fixture) {
    return "http://127.0.0.1:" + server.actualPort() + "/fx/" + fixture;
  }

  @Override
  public void close() {
    server.close().await();
  }
}
