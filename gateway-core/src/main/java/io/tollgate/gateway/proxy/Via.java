package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * The {@code Via} header (RFC 9110 7.6.3) as a loop guard. Every upstream request carries {@code
 * Via: 1.1 <instance id>}, after whatever {@code Via} the buyer sent; a request that arrives
 * carrying this instance's id has been forwarded by it before, whatever address or port it took
 * to come back (a NAT, a load balancer, another gateway in between), and is refused instead of
 * forwarded again. The address policy stops the loops it can see; this one stops the rest
 * after one turn.
 */
final class Via {

  private final String instanceId;
  private final AsciiString value;

  Via(String instanceId) {
    this.instanceId = instanceId;
    this.value = AsciiString.cached("1.1 " + instanceId);
  }

  /** Whether {@code headers} name this instance in any {@code Via} element. */
  boolean looped(HttpHeaders headers) {
    // fast path first: buyers rarely send Via
    if (!headers.contains(HttpHeaderNames.VIA)) {
      return false;
    }
    List<String> all = headers.getAll(HttpHeaderNames.VIA);
    for (int i = 0; i < all.size(); i++) {
      for (String element : all.get(i).split(",")) {
        if (receivedBy(element.trim()).equalsIgnoreCase(instanceId)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The {@code received-by} of {@code "protocol received-by [comment]"}; empty if none. */
  private static String receivedBy(String element) {
    int sp = indexOfSpace(element, 0);
    if (sp < 0) {
      return "";
    }
    int start = sp;
    while (start < element.length() && isSpace(element.charAt(start))) {
      start++;
    }
    int end = indexOfSpace(element, start);
    return element.substring(start, end < 0 ? element.length() : end);
  }

  private static int indexOfSpace(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      if (isSpace(s.charAt(i))) {
        return i;
      }
    }
    return -1;
  }

  private static boolean isSpace(char c) {
    return c == ' ' || c == '\t';
  }

  /** Appends this instance to the request's {@code Via}. */
  void stamp(HttpHeaders headers) {
    headers.add(HttpHeaderNames.VIA, value);
  }
}
