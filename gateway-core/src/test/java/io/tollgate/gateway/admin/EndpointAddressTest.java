package io.tollgate.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.upstream.AddressPolicy;
import io.vertx.core.Vertx;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Product endpoints that would make tollgate call itself, a link-local or metadata address, or a
 * network the operator denies are refused at registration with a 400 naming the field, whatever
 * spelling of the address the URL uses; endpoints on other local ports still register.
 */
class EndpointAddressTest {

  static final String OPERATOR = "operator-token-for-tests-0123456789";
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  Vertx vertx;
  TestDatabases.Db db;
  CatalogRepository repo;
  AdminServer server;
  ServerSocket buyerStandIn;
  int adminPort;
  int buyerPort;
  int otherPort;
  String merchant;

  record Resp(int status, JsonNode json, String raw) {
    String message() {
      return json.path("error").path("message").asText();
    }
  }

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    db = TestDatabases.h2();
    repo = CatalogRepository.open(db.url(), db.user(), "", new TestClock(Instant.parse("2025-03-01T00:00:00Z")));
    AddressPolicy policy = AddressPolicy.create(List.of("198.51.100.0/24"));
    server = new AdminServer(vertx, repo, AdminServer.Options.of(OPERATOR).withUpstreamPolicy(policy));
    adminPort = server.listen("127.0.0.1", 0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS)
        .actualPort();
    policy.addListener(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), adminPort));
    // The buyer port, as Gateway registers it: bound to the wildcard.
    buyerStandIn = new ServerSocket(0, 1, InetAddress.getByName("0.0.0.0"));
    buyerPort = buyerStandIn.getLocalPort();
    policy.addListener(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), buyerPort));
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      otherPort = s.getLocalPort();
    }
    Resp m = call("POST", "/admin/v1/merchants", OPERATOR, "{\"name\":\"acme\"}");
    merchant = m.json().get("token").asText();
  }

  @AfterEach
  void stop() throws Exception {
    buyerStandIn.close();
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    repo.close();
    db.drop();
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  Resp call(String method, String path, String token, String body) throws Exception {
    var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path)).timeout(Duration.ofSeconds(20))
        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    OpenApiValidator.ADMIN.assertValid(r);
    return new Resp(r.statusCode(), JSON.readTree(r.body()), r.body());
  }

  static String product(String... urls) {
    StringBuilder endpoints = new StringBuilder();
    for (String url : urls) {
      endpoints.append(endpoints.length() == 0 ? "" : ",").append("{\"url\":\"").append(url).append("\"}");
    }
    return "{\"name\":\"Acme Chat\",\"protocol\":\"openai\",\"endpoints\":[" + endpoints + "]}";
  }

  Resp register(String... urls) throws Exception {
    return call("POST", "/admin/v1/products", merchant, product(urls));
  }

  void assertRefused(String url, String field) throws Exception {
    Resp r = register(url);
    assertThat(r.status()).as("%s: %s", url, r.raw()).isEqualTo(400);
    assertThat(r.message()).as(url).startsWith(field + " ");
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("invalid_value");
  }

  /** Hosts (as a URL writes them) that all mean "this machine". */
  static List<String> localHosts() throws Exception {
    List<String> hosts = new ArrayList<>(List.of("127.0.0.1", "127.0.0.2", "127.1", "0x7f000001", "2130706433",
        "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost", "[::]"));
    for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      for (InetAddress a : Collections.list(ni.getInetAddresses())) {
        if (!a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          hosts.add(a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress());
        }
      }
    }
    return hosts;
  }

  @Test
  void endpointOnTollgatesOwnPorts_is400NamingTheUrl_forEverySpellingOfThisHost() throws Exception {
    List<String> hosts = localHosts();
    assertThat(hosts).as("this machine has a non-loopback interface address too").hasSizeGreaterThan(10);
    for (String host : hosts) {
      assertRefused("http://" + host + ":" + adminPort, "endpoints[0].url");
      assertRefused("http://" + host + ":" + buyerPort + "/v1", "endpoints[0].url");
    }
    assertThat(call("GET", "/admin/v1/products", merchant, null).json().path("data")).as("nothing was stored")
        .isEmpty();
  }

  @Test
  void linkLocalAndMetadataEndpoints_are400_onAnyPort() throws Exception {
    for (String url : new String[] {"http://169.254.169.254", "http://169.254.169.254/latest/meta-data",
        "http://169.254.169.254:" + otherPort, "https://169.254.10.10", "http://[fe80::1]", "http://[fe80::1]:8443",
        "http://[::ffff:169.254.169.254]", "http://[fd00:ec2::254]", "http://100.100.100.200"}) {
      assertRefused(url, "endpoints[0].url");
    }
  }

  @Test
  void endpointInADeniedNetwork_is400() throws Exception {
    assertRefused("https://198.51.100.7", "endpoints[0].url");
    assertRefused("http://[::ffff:198.51.100.200]:8000", "endpoints[0].url");
  }

  @Test
  void theRefusedEndpoint_isNamedByItsIndex() throws Exception {
    Resp r = register("http://127.0.0.1:" + otherPort, "http://localhost:" + adminPort);
    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.message()).startsWith("endpoints[1].url ");
  }

  @Test
  void endpointsOnOtherLocalPorts_andUnresolvableHosts_register() throws Exception {
    for (String url : new String[] {"http://127.0.0.1:" + otherPort, "http://localhost:" + otherPort + "/v1",
        "http://[::1]:" + otherPort, "http://127.0.0.2:" + otherPort,
        // does not resolve now: accepted, and checked again on the address it resolves to at connect time
        "http://does-not-resolve.invalid:" + adminPort}) {
      Resp r = register(url);
      assertThat(r.status()).as("%s: %s", url, r.raw()).isEqualTo(201);
    }
  }

  @Test
  void urlWithUserInfo_is400_andItsPasswordIsNotEchoed() throws Exception {
    for (String url : new String[] {"http://merchant:s3cr3t-pw@127.0.0.1:" + otherPort, "https://token@example.com"}) {
      Resp r = register(url);
      assertThat(r.status()).as(r.raw()).isEqualTo(400);
      assertThat(r.message()).startsWith("endpoints[0].url must not carry user info");
      assertThat(r.raw()).doesNotContain("s3cr3t-pw");
    }
  }

  @Test
  void aPutCannotMoveAnEndpointOntoTollgate() throws Exception {
    Resp created = register("http://127.0.0.1:" + otherPort);
    assertThat(created.status()).isEqualTo(201);
    String id = created.json().get("id").asText();
    Resp r = call("PUT", "/admin/v1/products/" + id, merchant, product("http://127.0.0.1:" + adminPort));
    assertThat(r.status()).as(r.raw()).isEqualTo(400);
    assertThat(r.message()).startsWith("endpoints[0].url ");
    assertThat(call("GET", "/admin/v1/products/" + id, merchant, null).json().path("endpoints").get(0).path("url")
        .asText()).as("the stored endpoint is unchanged").isEqualTo("http://127.0.0.1:" + otherPort);
  }
}
