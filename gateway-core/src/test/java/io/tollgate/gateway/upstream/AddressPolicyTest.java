package io.tollgate.gateway.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.gateway.upstream.AddressPolicy.Verdict;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What the upstream address policy refuses, judged on resolved addresses of every spelling. */
class AddressPolicyTest {

  static final int ADMIN_PORT = 9090;
  static final int BUYER_PORT = 8080;
  static final int OTHER_PORT = 18080;

  static AddressPolicy withListeners(List<String> denied) throws Exception {
    AddressPolicy p = AddressPolicy.create(denied);
    p.addListener(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), ADMIN_PORT));
    p.addListener(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), BUYER_PORT));
    return p;
  }

  static InetAddress ip(String literal) throws Exception {
    return InetAddress.getByName(literal);
  }

  /** An IPv6 address kept in 16 bytes even when it is IPv4-mapped (the JDK's parser would unmap it). */
  static InetAddress ipv6(String literal) throws Exception {
    byte[] b = new byte[16];
    byte[] parsed = InetAddress.getByName(literal).getAddress();
    if (parsed.length == 4) {
      b[10] = (byte) 0xff;
      b[11] = (byte) 0xff;
      System.arraycopy(parsed, 0, b, 12, 4);
    } else {
      b = parsed;
    }
    return Inet6Address.getByAddress(null, b, -1);
  }

  static Verdict check(AddressPolicy p, InetAddress a, int port) {
    return p.check(new InetSocketAddress(a, port));
  }

  /** Every spelling of "this host" that the JDK or a URL can produce. */
  static List<InetAddress> localForms() throws Exception {
    List<InetAddress> all = new ArrayList<>();
    for (String s : new String[] {"127.0.0.1", "127.0.0.2", "127.255.255.254", "127.1", "2130706433", "::1",
        "0.0.0.0", "::", "0"}) {
      all.add(ip(s));
    }
    all.add(ipv6("::ffff:127.0.0.1")); // mapped, kept as an Inet6Address
    all.add(ipv6("::ffff:0.0.0.0"));
    all.add(ipv6("::127.0.0.1")); // IPv4-compatible
    all.add(ipv6("64:ff9b::7f00:1")); // NAT64 of 127.0.0.1
    Collections.addAll(all, InetAddress.getAllByName("localhost"));
    all.addAll(interfaceAddresses());
    return all;
  }

  /** The host's own non-loopback, non-link-local addresses (eth0's, here). */
  static List<InetAddress> interfaceAddresses() throws Exception {
    List<InetAddress> out = new ArrayList<>();
    for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      for (InetAddress a : Collections.list(ni.getInetAddresses())) {
        if (!a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          out.add(a);
        }
      }
    }
    return out;
  }

  @Test
  void ownListeners_areRefused_onEveryLocalAddress() throws Exception {
    AddressPolicy p = withListeners(List.of());
    List<InetAddress> forms = localForms();
    assertThat(forms).as("loopback, wildcard, mapped, localhost and interface forms").hasSizeGreaterThan(13);
    for (InetAddress a : forms) {
      assertThat(check(p, a, ADMIN_PORT)).as("%s on the admin port", a).isEqualTo(Verdict.OWN_LISTENER);
      assertThat(check(p, a, BUYER_PORT)).as("%s on the buyer port", a).isEqualTo(Verdict.OWN_LISTENER);
    }
  }

  @Test
  void otherLocalPorts_andOtherHostsOnTheListenersPorts_areAllowed() throws Exception {
    AddressPolicy p = withListeners(List.of());
    for (InetAddress a : localForms()) {
      assertThat(check(p, a, OTHER_PORT)).as("%s on a port that is not tollgate's (a mock upstream)", a)
          .isEqualTo(Verdict.ALLOWED);
    }
    for (String remote : new String[] {"203.0.113.7", "2001:db8::7", "8.8.8.8"}) {
      assertThat(check(p, ip(remote), BUYER_PORT)).as("another host may well serve on port 8080")
          .isEqualTo(Verdict.ALLOWED);
    }
  }

  @Test
  void aListenerBoundToAnAddressTheHostDoesNotList_isRefusedThere() throws Exception {
    AddressPolicy p = AddressPolicy.create(List.of());
    p.addListener(new InetSocketAddress(ip("198.51.100.9"), 7000));
    assertThat(check(p, ip("198.51.100.9"), 7000)).isEqualTo(Verdict.OWN_LISTENER);
    assertThat(check(p, ipv6("::ffff:198.51.100.9"), 7000)).isEqualTo(Verdict.OWN_LISTENER);
    assertThat(check(p, ip("198.51.100.10"), 7000)).isEqualTo(Verdict.ALLOWED);
    assertThat(check(p, ip("127.0.0.1"), 7000)).as("its port on loopback").isEqualTo(Verdict.OWN_LISTENER);
  }

  @ParameterizedTest
  @ValueSource(strings = {"169.254.169.254", "169.254.0.1", "169.254.255.255", "fe80::1", "febf:ffff::1",
      "fd00:ec2::254", "100.100.100.200"})
  void linkLocalAndMetadataAddresses_areRefusedOnAnyPort(String literal) throws Exception {
    AddressPolicy p = AddressPolicy.create(List.of());
    for (int port : new int[] {80, 443, OTHER_PORT}) {
      assertThat(check(p, ip(literal), port)).as("%s:%d", literal, port).isEqualTo(Verdict.LINK_LOCAL_OR_METADATA);
    }
  }

  @Test
  void embeddedIpv4Forms_ofMetadataAddresses_areRefused() throws Exception {
    AddressPolicy p = AddressPolicy.create(List.of());
    for (String literal : new String[] {"::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe"}) {
      assertThat(check(p, ipv6(literal), 80)).as(literal).isEqualTo(Verdict.LINK_LOCAL_OR_METADATA);
    }
    assertThat(check(p, ip("[::ffff:169.254.169.254]"), 80)).as("as the JDK parses a URL's host")
        .isEqualTo(Verdict.LINK_LOCAL_OR_METADATA);
  }

  @ParameterizedTest
  @ValueSource(strings = {"169.253.255.255", "169.255.0.0", "fec0::1", "fe7f::1", "100.100.100.201"})
  void addressesNextToTheAlwaysRefusedOnes_areAllowed(String literal) throws Exception {
    assertThat(check(AddressPolicy.create(List.of()), ip(literal), 80)).isEqualTo(Verdict.ALLOWED);
  }

  @ParameterizedTest
  @CsvSource({
      "10.0.0.0/8, 10.1.2.3, true",
      "10.0.0.0/8, 11.0.0.0, false",
      "10.0.0.0/8, 9.255.255.255, false",
      "172.16.0.0/12, 172.31.255.255, true",
      "172.16.0.0/12, 172.32.0.0, false",
      "172.16.0.0/12, 172.15.255.255, false",
      "192.168.0.0/23, 192.168.1.255, true",
      "192.168.0.0/23, 192.168.2.0, false",
      "203.0.113.7/32, 203.0.113.7, true",
      "203.0.113.7/32, 203.0.113.8, false",
      "0.0.0.0/0, 8.8.8.8, true",
      "0.0.0.0/0, 2001:db8::1, false",
      "fc00::/7, fd12:3456::1, true",
      "fc00::/7, fc00::1, true",
      "fc00::/7, fe00::1, false",
      "2001:db8::1/128, 2001:db8::1, true",
      "2001:db8::1/128, 2001:db8::2, false",
      "::/0, 8.8.8.8, true",
      "::ffff:10.0.0.0/104, 10.9.9.9, true",
      "64:ff9b::/96, 64:ff9b::808:808, true",
  })
  void deniedNetworks_refuseWhatTheyContain(String cidr, String literal, boolean refused) throws Exception {
    AddressPolicy p = AddressPolicy.create(List.of(cidr));
    assertThat(check(p, ip(literal), 443)).as("%s in %s", literal, cidr)
        .isEqualTo(refused ? Verdict.DENIED_NETWORK : Verdict.ALLOWED);
  }

  @Test
  void deniedNetworks_coverTheMappedAndNat64FormsOfTheirIpv4Addresses() throws Exception {
    AddressPolicy p = AddressPolicy.create(List.of("10.0.0.0/8"));
    assertThat(check(p, ipv6("::ffff:10.1.2.3"), 443)).isEqualTo(Verdict.DENIED_NETWORK);
    assertThat(check(p, ipv6("64:ff9b::a01:203"), 443)).isEqualTo(Verdict.DENIED_NETWORK);
    assertThat(check(p, ipv6("::ffff:11.1.2.3"), 443)).isEqualTo(Verdict.ALLOWED);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "10.0.0.0|needs an address and a prefix length",
      "10.0.0.0/8/8|needs an address and a prefix length",
      "10.0.0.0/|the prefix length must be a number",
      "10.0.0.0/-1|the prefix length must be a number",
      "10.0.0.0/ 8|the prefix length must be a number",
      "10.0.0.0/0008|the prefix length must be a number",
      "10.0.0.0/33|an IPv4 prefix length is at most 32",
      "fd00::/129|an IPv6 prefix length is at most 128",
      "10.0.0.1/8|did you mean 10.0.0.0/8?",
      "fd00::1/8|did you mean fd00::/8?",
      "127.1/8|is not an IPv4 address",
      "2130706433/32|is not an IPv4 address",
      "0x7f000001/32|is not an IPv4 address",
      "010.0.0.0/8|is not an IPv4 address",
      "256.0.0.0/8|is not an IPv4 address",
      "10.0.0/24|is not an IPv4 address",
      "/8|is not an IPv4 address",
      "localhost/8|is not an IPv4 address",
      "fd00::zz/8|is not an IPv6 address",
      "[fd00::]/8|is not an IPv6 address",
      "fe80::1%eth0/128|is not an IPv6 address",
      "fd00:::1/64|is not an IPv6 address",
      ".:1/8|is not an IPv6 address",
  })
  void badCidrs_areRefusedWithTheReason(String cidr, String reason) {
    assertThatThrownBy(() -> AddressPolicy.checkNetwork(cidr)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("must be a CIDR such as 10.0.0.0/8 or fd00::/8, got '" + cidr + "'")
        .hasMessageContaining(reason);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0.0.0.0/0", "::/0", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
      "1.2.3.4/32", "2001:db8::1/128", "::ffff:10.0.0.0/104", "100.64.0.0/10"})
  void goodCidrs_areAccepted(String cidr) {
    AddressPolicy.checkNetwork(cidr);
    assertThat(AddressPolicy.create(List.of(cidr)).refusesNothing()).isFalse();
  }

  @Test
  void allowAll_refusesNothing_evenWithAListenerAdded() throws Exception {
    AddressPolicy.ALLOW_ALL.addListener(new InetSocketAddress(ip("127.0.0.1"), ADMIN_PORT));
    assertThat(AddressPolicy.ALLOW_ALL.refusesNothing()).isTrue();
    assertThat(check(AddressPolicy.ALLOW_ALL, ip("127.0.0.1"), ADMIN_PORT)).isEqualTo(Verdict.ALLOWED);
    assertThat(check(AddressPolicy.ALLOW_ALL, ip("169.254.169.254"), 80)).isEqualTo(Verdict.ALLOWED);
  }

  @Test
  void unresolvedAddresses_areNotJudged() {
    assertThatThrownBy(() -> AddressPolicy.create(List.of()).check(InetSocketAddress.createUnresolved("x", 80)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @CsvSource({
      "127.1, true",
      "0x7f000001, true",
      "0X7F000001, true",
      "2130706433, true",
      "017.0.0.1, true",
      "0, true",
      "127.0.0.1., true",
      "1.2.3.0x4, true",
      "example.123, true",
      "127.0.0.1, false",
      "10.20.30.40, false",
      "example.com, false",
      "api.example.com., false",
      "a1.b2, false",
      "x.0y, false",
      "[::1], false",
      "[::ffff:127.0.0.1], false",
  })
  void numericHostsNotWrittenAsFourDecimals_areAmbiguous(String host, boolean ambiguous) {
    assertThat(AddressPolicy.isAmbiguousNumericHost(host)).as(host).isEqualTo(ambiguous);
  }
}
