package io.tollgate.gateway.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A hand-written HTTP/1.1 upstream on loopback that answers with exact bytes, so a test can send
 * the gateway what no well-behaved server would: conflicting framing, a broken chunk, a head cut
 * short.
 *
 * <p>Each request read (on any connection, in arrival order) takes the next scripted {@link
 * Answer}; once the script is used up, requests get {@link #OK}. Connections are kept open
 * between requests unless an answer closes them. Every socket read times out after 10 s and
 * {@link #close()} closes everything, so no thread outlives a test.
 */
final class RawUpstream implements AutoCloseable {

  /** Bytes to write, a pause after the first {@code splitAt} of them, and whether to close after. */
  record Answer(byte[] bytes, int splitAt, long pauseMillis, boolean closeAfter) {
    static Answer of(String raw, boolean closeAfter) {
      return new Answer(raw.getBytes(StandardCharsets.ISO_8859_1), 0, 0, closeAfter);
    }

    /** Writes {@code first}, flushes, waits {@code pauseMillis}, then writes {@code rest}. */
    static Answer inTwoParts(String first, long pauseMillis, String rest, boolean closeAfter) {
      byte[] a = first.getBytes(StandardCharsets.ISO_8859_1);
      byte[] b = rest.getBytes(StandardCharsets.ISO_8859_1);
      byte[] all = new byte[a.length + b.length];
      System.arraycopy(a, 0, all, 0, a.length);
      System.arraycopy(b, 0, all, a.length, b.length);
      return new Answer(all, a.length, pauseMillis, closeAfter);
    }
  }

  static final String OK_BODY = "{\"id\":\"ok\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
      + "\"completion_tokens\":2,\"total_tokens\":5}}";

  /** A well-formed answer, kept alive. */
  static final Answer OK = Answer.of("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
      + OK_BODY.length() + "\r\n\r\n" + OK_BODY, false);

  private final ServerSocket server;
  private final ConcurrentLinkedQueue<Answer> script = new ConcurrentLinkedQueue<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  final AtomicInteger connections = new AtomicInteger();
  final AtomicInteger requests = new AtomicInteger();
  /** Each request read, head and body, as ISO-8859-1 text, in arrival order. */
  final ConcurrentLinkedQueue<String> received = new ConcurrentLinkedQueue<>();

  RawUpstream(Answer... answers) throws IOException {
    script.addAll(List.of(answers));
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "raw-upstream-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        connections.incrementAndGet();
        sockets.add(s);
        Thread t = new Thread(() -> serve(s), "raw-upstream-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      s.setSoTimeout(10_000);
      s.setTcpNoDelay(true);
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      String request;
      while ((request = readRequest(in)) != null) {
        received.add(request);
        requests.incrementAndGet();
        Answer a = script.poll();
        if (a == null) {
          a = OK;
        }
        if (a.splitAt() > 0) {
          out.write(a.bytes(), 0, a.splitAt());
          out.flush();
          Thread.sleep(a.pauseMillis());
        }
        out.write(a.bytes(), a.splitAt(), a.bytes().length - a.splitAt());
        out.flush();
        if (a.closeAfter()) {
          return;
        }
      }
    } catch (SocketException e) {
      // closed by the gateway or by close()
    } catch (IOException | InterruptedException e) {
      // a timed-out or interrupted connection just ends
    }
  }

  /** Reads one request head and its Content-Length body; null at the end of the stream. */
  private static String readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    long length = 0;
    for (String line : head.toString(StandardCharsets.ISO_8859_1).split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Long.parseLong(line.substring(15).trim());
      }
    }
    byte[] body = in.readNBytes((int) length);
    if (body.length < length) {
      throw new java.io.EOFException("the body ended early");
    }
    return head.toString(StandardCharsets.ISO_8859_1) + new String(body, StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : sockets) {
      s.close();
    }
  }
}
