package io.tollgate.gateway.faults;

import io.lettuce.core.RedisURI;
import io.tollgate.gateway.config.ConfigLoader;
import io.tollgate.gateway.config.GatewayConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A gateway config file as an operator writes it ({@code config/tollgate.yaml} keys), so these
 * tests depend on the documented keys only, not on the config records' constructors.
 */
final class GatewayYaml {

  private final StringBuilder store = new StringBuilder();
  private final StringBuilder server = new StringBuilder();
  private final Map<String, String> metering = new LinkedHashMap<>(Map.of("flushInterval", "100ms"));
  private final Map<String, String> export = new LinkedHashMap<>();
  private final String dataDir;
  private int buyerPort;
  private int adminPort;

  private GatewayYaml(Path dataDir) {
    this.dataDir = dataDir.toAbsolutePath().toString();
  }

  /** Embedded store in {@code dataDir}, free ports, the test operator token, flushes every 100 ms. */
  static GatewayYaml embedded(Path dataDir) {
    return new GatewayYaml(dataDir);
  }

  GatewayYaml redis(RedisURI uri) {
    store.append("  redisUri: redis://").append(uri.getHost()).append(':').append(uri.getPort()).append('\n');
    return this;
  }

  GatewayYaml jdbc(String url, String user) {
    store.append("  jdbcUrl: \"").append(url).append("\"\n  jdbcUser: ").append(user).append('\n');
    return this;
  }

  /** Another {@code server.*} key. */
  GatewayYaml server(String key, String value) {
    server.append("  ").append(key).append(": ").append(value).append('\n');
    return this;
  }

  /** A {@code metering.*} key (the last value set wins). */
  GatewayYaml metering(String key, String value) {
    metering.put(key, value);
    return this;
  }

  /** An {@code export.*} key (the last value set wins), e.g. {@code window}, {@code grace}. */
  GatewayYaml export(String key, String value) {
    export.put(key, value);
    return this;
  }

  /** Fixed ports, picked now, so that a restarted process listens where buyers already call. */
  GatewayYaml fixedPorts() {
    buyerPort = freePort();
    adminPort = freePort();
    return this;
  }

  int buyerPort() {
    return buyerPort;
  }

  int adminPort() {
    return adminPort;
  }

  String text() {
    return "server:\n  host: 127.0.0.1\n  port: " + buyerPort + "\n  eventLoops: 2\n" + server
        + "admin:\n  host: 127.0.0.1\n  port: " + adminPort + "\n  token: " + AdminClient.OPERATOR + "\n"
        + "store:\n  dataDir: \"" + dataDir + "\"\n" + store
        + section("metering", metering) + section("export", export);
  }

  private static String section(String name, Map<String, String> keys) {
    if (keys.isEmpty()) {
      return "";
    }
    StringBuilder sb = new StringBuilder(name).append(":\n");
    keys.forEach((k, v) -> sb.append("  ").append(k).append(": ").append(v).append('\n'));
    return sb.toString();
  }

  Path writeTo(Path file) {
    try {
      return Files.writeString(file, text());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The config as {@code serve --config} reads it, ignoring this JVM's environment. */
  GatewayConfig load(Path file) {
    return new ConfigLoader().load(writeTo(file), Map.of());
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
