package io.tollgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

  @TempDir Path dir;

  private final ConfigLoader loader = new ConfigLoader();

  private Path yaml(String text) throws Exception {
    Path f = dir.resolve("tollgate.yaml");
    Files.writeString(f, text);
    return f;
  }

  @Test
  void shippedConfig_isTheEmbeddedDefault() {
    Path shipped = Path.of("../config/tollgate.yaml");
    GatewayConfig c = loader.load(shipped, Map.of());
    assertThat(c.server().port()).isEqualTo(8080);
    assertThat(c.admin().port()).isEqualTo(9090);
    assertThat(c.store().dataDir()).isEqualTo("./data");
    assertThat(c.store().jdbcUrl()).as("embedded: no external database").isNull();
    assertThat(c.store().redisUri()).isNull();
    assertThat(c.metering().flushInterval()).isEqualTo(Duration.ofMillis(200));
    assertThat(c.export().window()).isEqualTo(Duration.ofHours(1));
    assertThat(c.export().grace()).isEqualTo(Duration.ofMinutes(2));
  }

  @Test
  void environment_overridesEveryKeyByItsUpperSnakePath() throws Exception {
    GatewayConfig c = loader.load(yaml("server:\n  port: 8080\n"), Map.of(
        "TOLLGATE_SERVER_PORT", "18081",
        "TOLLGATE_ADMIN_TOKEN", "a-very-long-operator-token",
        "TOLLGATE_STORE_DATA_DIR", "/var/lib/tollgate",
        "TOLLGATE_STORE_REDIS_URI", "redis://127.0.0.1:6379",
        "TOLLGATE_METERING_FLUSH_INTERVAL", "500ms",
        "PATH", "/usr/bin"));
    assertThat(c.server().port()).isEqualTo(18081);
    assertThat(c.admin().token()).isEqualTo("a-very-long-operator-token");
    assertThat(c.store().dataDir()).isEqualTo("/var/lib/tollgate");
    assertThat(c.store().redisUri()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.metering().flushInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(ConfigLoader.envName("store", "jdbcUrl")).isEqualTo("TOLLGATE_STORE_JDBC_URL");
  }

  @Test
  void unknownKey_isNamed() throws Exception {
    assertThatThrownBy(() -> loader.load(yaml("server:\n  prot: 8080\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("server.prot: unknown key");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_SERVER_PROT", "1")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("TOLLGATE_SERVER_PROT: unknown key");
  }

  @Test
  void badValue_isNamedWithWhatWasExpected() throws Exception {
    assertThatThrownBy(() -> loader.load(yaml("server:\n  port: abc\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("server.port: expected an integer");
    assertThatThrownBy(() -> loader.load(yaml("admin:\n  port: 70000\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("admin.port: must be a port");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_EXPORT_WINDOW", "soon")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("export.window: expected a duration");
    assertThatThrownBy(() -> loader.load(yaml("store:\n  jdbcUrl: postgres://x\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("store.jdbcUrl: must start with jdbc:");
    assertThatThrownBy(() -> loader.load(yaml("server: [1, 2]\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("server: expected a mapping");
  }

  @Test
  void logging_defaultsToJsonAndStdout_andTakesTextOffOrAFile() throws Exception {
    GatewayConfig d = loader.load(null, Map.of());
    assertThat(d.logging().format()).isEqualTo("json");
    assertThat(d.logging().access()).isEqualTo("stdout");
    assertThat(d.logging().accessFile()).as("stdout: no file").isNull();
    assertThat(d.logging().accessOff()).isFalse();

    GatewayConfig c = loader.load(yaml("logging:\n  format: text\n  access: off\n"), Map.of());
    assertThat(c.logging().json()).isFalse();
    assertThat(c.logging().accessOff()).isTrue();

    GatewayConfig f = loader.load(null, Map.of("TOLLGATE_LOGGING_FORMAT", "json",
        "TOLLGATE_LOGGING_ACCESS", "file /var/log/tollgate/access.log"));
    assertThat(f.logging().accessFile()).isEqualTo(Path.of("/var/log/tollgate/access.log"));
  }

  @Test
  void logging_badValues_areNamed() throws Exception {
    assertThatThrownBy(() -> loader.load(yaml("logging:\n  format: xml\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("logging.format: must be json or text, got xml");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_LOGGING_FORMAT", "JSON")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("logging.format: must be json or text");
    for (String bad : new String[] {"syslog", "file", "file   ", "stderr", "/var/log/access.log"}) {
      assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_LOGGING_ACCESS", bad))).as(bad)
          .isInstanceOf(ConfigException.class).hasMessageStartingWith("logging.access: must be stdout, off or file PATH");
    }
    assertThatThrownBy(() -> loader.load(yaml("logging:\n  acces: off\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("logging.acces: unknown key");
  }

  @Test
  void secrets_neverPrinted() {
    GatewayConfig c = loader.load(null, Map.of("TOLLGATE_ADMIN_TOKEN", "operator-token-12345",
        "TOLLGATE_STORE_JDBC_PASSWORD", "db-password-6789"));
    assertThat(c.toString()).doesNotContain("operator-token-12345").doesNotContain("db-password-6789");
  }

  @Test
  void exampleOperatorToken_isRefused_whenTheAdminPortIsNotLoopback() throws Exception {
    assertThatThrownBy(() -> loader.load(yaml(
        "admin:\n  host: 0.0.0.0\n  token: change-me-operator-token\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("admin.token: the example token");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_ADMIN_HOST", "10.1.2.3",
        "TOLLGATE_ADMIN_TOKEN", "change-me-operator-token")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("admin.token:");
    assertThatThrownBy(() -> loader.load(yaml("admin:\n  host: 0.0.0.0\n  token: short\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("admin.token: must be at least 16 characters");
    for (String loopback : new String[] {"127.0.0.1", "::1", "localhost", "127.0.0.2"}) {
      assertThat(loader.load(yaml("admin:\n  host: \"" + loopback + "\"\n  token: change-me-operator-token\n"),
          Map.of()).admin().host()).as("loopback %s may keep the example token", loopback).isEqualTo(loopback);
    }
    assertThat(loader.load(yaml("admin:\n  host: 0.0.0.0\n  token: a-strong-operator-token-1\n"), Map.of())
        .admin().host()).isEqualTo("0.0.0.0");
  }

  @Test
  void newServerAndUpstreamKeys_haveDefaults_andAreValidated() throws Exception {
    GatewayConfig d = loader.load(null, Map.of());
    assertThat(d.server().maxConnections()).as("0 = derived from RLIMIT_NOFILE").isZero();
    assertThat(d.server().requestHeaderTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(d.upstream().deniedNetworks()).isEmpty();
    GatewayConfig c = loader.load(yaml("upstream:\n  deniedNetworks: [10.0.0.0/8, \"fd00::/8\"]\n"),
        Map.of("TOLLGATE_SERVER_MAX_CONNECTIONS", "500", "TOLLGATE_SERVER_REQUEST_HEADER_TIMEOUT", "3s"));
    assertThat(c.upstream().deniedNetworks()).containsExactly("10.0.0.0/8", "fd00::/8");
    assertThat(c.server().maxConnections()).isEqualTo(500);
    assertThat(c.server().requestHeaderTimeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(loader.load(null, Map.of("TOLLGATE_UPSTREAM_DENIED_NETWORKS", "10.0.0.0/8, 192.168.0.0/16"))
        .upstream().deniedNetworks()).containsExactly("10.0.0.0/8", "192.168.0.0/16");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_UPSTREAM_DENIED_NETWORKS", "intranet")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("upstream.deniedNetworks[0]: must be a CIDR");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_SERVER_MAX_CONNECTIONS", "-1")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("server.maxConnections:");
  }

  @Test
  void transportAndEndpointCaps_haveDefaults_areSetFromFileOrEnvironment_andValidated() throws Exception {
    GatewayConfig d = loader.load(Path.of("../config/tollgate.yaml"), Map.of());
    assertThat(d.server().transport()).isEqualTo("auto");
    assertThat(d.upstream().maxConnectionsPerEndpoint()).isEqualTo(4096);
    assertThat(d.upstream().maxPendingPerEndpoint()).isEqualTo(1024);
    assertThat(GatewayConfig.defaults().upstream()).isEqualTo(d.upstream());

    GatewayConfig c = loader.load(yaml("server:\n  transport: io_uring\nupstream:\n  maxConnectionsPerEndpoint: 64\n"),
        Map.of("TOLLGATE_UPSTREAM_MAX_PENDING_PER_ENDPOINT", "0", "TOLLGATE_SERVER_TRANSPORT", "epoll"));
    assertThat(c.server().transport()).as("the environment wins").isEqualTo("epoll");
    assertThat(c.upstream().maxConnectionsPerEndpoint()).isEqualTo(64);
    assertThat(c.upstream().maxPendingPerEndpoint()).as("0: no waiting").isZero();

    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_SERVER_TRANSPORT", "kqueue")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("server.transport: must be one of auto, io_uring, epoll, nio, got kqueue");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_UPSTREAM_MAX_CONNECTIONS_PER_ENDPOINT", "0")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("upstream.maxConnectionsPerEndpoint: must be at least 1");
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_UPSTREAM_MAX_PENDING_PER_ENDPOINT", "-1")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("upstream.maxPendingPerEndpoint:");
  }

  @Test
  void subscriptionCacheSize_defaultsTo200000_isSetFromTheEnvironment_andMustBePositive() throws Exception {
    assertThat(loader.load(null, Map.of()).server().subscriptionCacheSize()).isEqualTo(200_000L);
    assertThat(loader.load(null, Map.of("TOLLGATE_SERVER_SUBSCRIPTION_CACHE_SIZE", "1000000")).server()
        .subscriptionCacheSize()).isEqualTo(1_000_000L);
    assertThatThrownBy(() -> loader.load(yaml("server:\n  subscriptionCacheSize: 0\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("server.subscriptionCacheSize: must be positive, got 0");
  }

  @Test
  void catalogSection_defaultsToHuaweiAnd3Failures_isSetFromFileOrEnvironment_andValidated() throws Exception {
    GatewayConfig d = loader.load(null, Map.of());
    assertThat(d.catalog().reservedNames()).containsExactly("huawei", "华为");
    assertThat(d.catalog().supportFailuresToDelist()).isEqualTo(3);
    assertThat(loader.load(Path.of("../config/tollgate.yaml"), Map.of()).catalog()).isEqualTo(d.catalog());
    GatewayConfig c = loader.load(yaml("catalog:\n  reservedNames: [acme, \"ＢＲＡＮＤ\"]\n  supportFailuresToDelist: 5\n"),
        Map.of());
    assertThat(c.catalog().reservedNames()).containsExactly("acme", "ＢＲＡＮＤ");
    assertThat(c.catalog().listingPolicy().reservedNames().findIn("Brand Chat")).contains("ＢＲＡＮＤ");
    assertThat(c.catalog().listingPolicy().supportFailuresToDelist()).isEqualTo(5);
    GatewayConfig env = loader.load(null, Map.of("TOLLGATE_CATALOG_RESERVED_NAMES", "acme, globex",
        "TOLLGATE_CATALOG_SUPPORT_FAILURES_TO_DELIST", "2"));
    assertThat(env.catalog().reservedNames()).containsExactly("acme", "globex");
    assertThat(env.catalog().supportFailuresToDelist()).isEqualTo(2);
    assertThat(loader.load(yaml("catalog:\n  reservedNames: []\n"), Map.of()).catalog().listingPolicy()
        .reservedNames().findIn("Huawei")).as("[] reserves nothing").isEmpty();
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_CATALOG_SUPPORT_FAILURES_TO_DELIST", "0")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("catalog.supportFailuresToDelist:");
    assertThatThrownBy(() -> loader.load(yaml("catalog:\n  reservedNames: [\"\\u200B\"]\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("catalog.reservedNames:");
    assertThatThrownBy(() -> loader.load(yaml("catalog:\n  reservedName: [x]\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessage("catalog.reservedName: unknown key");
  }

  @Test
  void licenceSection_defaultsTo60AMinuteAnd30s_isSetFromFileOrEnvironment_andValidated() throws Exception {
    GatewayConfig d = loader.load(null, Map.of());
    assertThat(d.licence().requestsPerMinute()).isEqualTo(60);
    assertThat(d.licence().flushInterval()).isEqualTo(java.time.Duration.ofSeconds(30));
    assertThat(loader.load(Path.of("../config/tollgate.yaml"), Map.of()).licence()).isEqualTo(d.licence());
    GatewayConfig c = loader.load(yaml("licence:\n  requestsPerMinute: 120\n  flushInterval: 5s\n"), Map.of());
    assertThat(c.licence().requestsPerMinute()).isEqualTo(120);
    assertThat(c.licence().flushInterval()).isEqualTo(java.time.Duration.ofSeconds(5));
    assertThat(loader.load(null, Map.of("TOLLGATE_LICENCE_REQUESTS_PER_MINUTE", "7")).licence().requestsPerMinute())
        .isEqualTo(7);
    assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_LICENCE_REQUESTS_PER_MINUTE", "0")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("licence.requestsPerMinute:");
    assertThatThrownBy(() -> loader.load(yaml("licence:\n  flushInterval: 100ms\n"), Map.of()))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("licence.flushInterval:");
  }

  @Test
  void deniedNetworks_areParsedExactly_andAnErrorNamesTheEntry() throws Exception {
    assertThat(loader.load(yaml("upstream:\n  deniedNetworks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, \"fc00::/7\"]\n"),
        Map.of()).upstream().deniedNetworks()).hasSize(4);
    assertThatThrownBy(() -> loader.load(yaml("upstream:\n  deniedNetworks: [10.0.0.0/8, 10.1.2.3/8]\n"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("upstream.deniedNetworks[1]: must be a CIDR")
        .hasMessageContaining("did you mean 10.0.0.0/8?");
    for (String bad : new String[] {"10.0.0.0/33", "300.0.0.0/8", "127.1/8", "fd00::/129", "fd00::g/8", "10.0.0.0"}) {
      assertThatThrownBy(() -> loader.load(null, Map.of("TOLLGATE_UPSTREAM_DENIED_NETWORKS", bad)))
          .as(bad).isInstanceOf(ConfigException.class).hasMessageStartingWith("upstream.deniedNetworks[0]: must be a CIDR");
    }
  }
}
