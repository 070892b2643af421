package io.tollgate.gateway.upstream;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A CIDR block over 16-byte addresses: an IPv4 address is held in its IPv4-mapped IPv6 form
 * ({@code ::ffff:a.b.c.d}), so {@code 10.0.0.0/8} is {@code ::ffff:10.0.0.0/104} and one
 * comparison serves both families.
 *
 * <p>Parsing is strict and never looks a name up: an IPv4 address is four decimal numbers
 * without leading zeros (no {@code 127.1}, no octal, no hex); an IPv6 address is a literal
 * without brackets or zone; the prefix length fits the family; host bits are zero, so {@code
 * 10.1.2.3/8} (most likely a typo) is refused rather than read as {@code 10.0.0.0/8}.
 */
final class Network {

  private static final Pattern PREFIX_LENGTH = Pattern.compile("\\d{1,3}");
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");
  private static final String EXAMPLE = "a CIDR such as 10.0.0.0/8 or fd00::/8";

  private final byte[] prefix;
  private final int bits;
  private final String text;

  private Network(byte[] prefix, int bits, String text) {
    this.prefix = prefix;
    this.bits = bits;
    this.text = text;
  }

  /**
   * Parses a CIDR.
   *
   * @throws IllegalArgumentException whose message starts with "must be a CIDR" and says why
   */
  static Network parse(String cidr) {
    if (cidr == null) {
      throw invalid("null", "it is missing");
    }
    int slash = cidr.indexOf('/');
    if (slash < 0 || slash != cidr.lastIndexOf('/')) {
      throw invalid(cidr, "it needs an address and a prefix length");
    }
    String address = cidr.substring(0, slash);
    String length = cidr.substring(slash + 1);
    if (!PREFIX_LENGTH.matcher(length).matches()) {
      throw invalid(cidr, "the prefix length must be a number");
    }
    int n = Integer.parseInt(length);
    byte[] a;
    int bits;
    if (address.indexOf(':') < 0) {
      byte[] v4 = parseIpv4(address);
      if (v4 == null) {
        throw invalid(cidr, "'" + address + "' is not an IPv4 address of four decimal numbers 0-255");
      }
      if (n > 32) {
        throw invalid(cidr, "an IPv4 prefix length is at most 32");
      }
      a = mapped(v4);
      bits = 96 + n;
    } else {
      a = parseIpv6(address);
      if (a == null) {
        throw invalid(cidr, "'" + address + "' is not an IPv6 address");
      }
      if (n > 128) {
        throw invalid(cidr, "an IPv6 prefix length is at most 128");
      }
      bits = n;
    }
    byte[] masked = mask(a, bits);
    if (!java.util.Arrays.equals(masked, a)) {
      String base = address.indexOf(':') < 0 ? format(masked).substring("::ffff:".length()) : format(masked);
      throw invalid(cidr, "the address has bits set beyond the prefix; did you mean " + base + "/" + n + "?");
    }
    return new Network(a, bits, cidr);
  }

  private static IllegalArgumentException invalid(String cidr, String why) {
    return new IllegalArgumentException("must be " + EXAMPLE + ", got '" + cidr + "': " + why);
  }

  /** Four decimal parts 0-255, no leading zeros; null otherwise. */
  static byte[] parseIpv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return null;
    }
    byte[] out = new byte[4];
    for (int i = 0; i < 4; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
        return null;
      }
      int v = 0;
      for (int j = 0; j < p.length(); j++) {
        char c = p.charAt(j);
        if (c < '0' || c > '9') {
          return null;
        }
        v = v * 10 + (c - '0');
      }
      if (v > 255) {
        return null;
      }
      out[i] = (byte) v;
    }
    return out;
  }

  /** A bare IPv6 literal (no brackets, no zone) in 16 bytes; null otherwise. Never a lookup. */
  private static byte[] parseIpv6(String s) {
    if (!IPV6_CHARS.matcher(s).matches() || s.charAt(0) == '.') {
      return null;
    }
    try {
      // A string that starts with a hex digit or ':' and holds a ':' is only ever parsed as an
      // IPv6 literal by the JDK, never looked up.
      return raw(InetAddress.getByName(s));
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** The 16-byte form of an address: IPv4 as {@code ::ffff:a.b.c.d}. */
  static byte[] raw(InetAddress a) {
    byte[] b = a.getAddress();
    return a instanceof Inet4Address ? mapped(b) : b;
  }

  /**
   * The IPv4 address embedded in a 16-byte address, in mapped form: itself if mapped, else that
   * of an IPv4-compatible ({@code ::a.b.c.d}, not {@code ::} or {@code ::1}) or NAT64 ({@code
   * 64:ff9b::/96}) address; null if none.
   */
  static byte[] embeddedIpv4(byte[] a) {
    if (isZero(a, 0, 10) && (a[10] & 0xff) == 0xff && (a[11] & 0xff) == 0xff) {
      return a;
    }
    boolean compatible = isZero(a, 0, 12) && !(isZero(a, 12, 15) && (a[15] == 0 || a[15] == 1));
    boolean nat64 = a[0] == 0 && a[1] == 0x64 && (a[2] & 0xff) == 0xff && (a[3] & 0xff) == 0x9b && isZero(a, 4, 12);
    if (compatible || nat64) {
      return mapped(new byte[] {a[12], a[13], a[14], a[15]});
    }
    return null;
  }

  private static boolean isZero(byte[] a, int from, int to) {
    for (int i = from; i < to; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return true;
  }

  static byte[] mapped(byte[] v4) {
    byte[] out = new byte[16];
    out[10] = (byte) 0xff;
    out[11] = (byte) 0xff;
    System.arraycopy(v4, 0, out, 12, 4);
    return out;
  }

  private static byte[] mask(byte[] a, int bits) {
    byte[] out = a.clone();
    for (int i = 0; i < 16; i++) {
      int keep = Math.max(0, Math.min(8, bits - 8 * i));
      out[i] &= (byte) (0xff00 >>> keep);
    }
    return out;
  }

  boolean contains(byte[] a) {
    int full = bits / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != prefix[i]) {
        return false;
      }
    }
    int rest = bits % 8;
    if (rest == 0) {
      return true;
    }
    int m = 0xff00 >>> rest & 0xff;
    return (a[full] & m) == (prefix[full] & m);
  }

  static boolean anyContains(List<Network> networks, byte[] a) {
    for (int i = 0, n = networks.size(); i < n; i++) {
      if (networks.get(i).contains(a)) {
        return true;
      }
    }
    return false;
  }

  /** A 16-byte address as text: {@code ::ffff:a.b.c.d} for IPv4. */
  static String format(byte[] a) {
    if (embeddedIpv4(a) == a) {
      return "::ffff:" + (a[12] & 0xff) + "." + (a[13] & 0xff) + "." + (a[14] & 0xff) + "." + (a[15] & 0xff);
    }
    // RFC 5952: lower-case hex groups, the longest run of two or more zero groups as "::"
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = (a[2 * i] & 0xff) << 8 | (a[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLength - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return text;
  }
}
