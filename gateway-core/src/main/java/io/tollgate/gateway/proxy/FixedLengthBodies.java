package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * Which of a connection's messages a {@link BuyerCodec} or {@link BackendCodec} decoder reads
 * itself (a head {@link HeadParser} read, then its {@code Content-Length} body) and which Netty's
 * decoder reads; and the body of the former, passed on as Netty's decoder passes a fixed-length
 * body: pieces of at most the chunk size as they arrive, the last as {@link LastHttpContent}, or
 * {@link LastHttpContent#EMPTY_LAST_CONTENT} at once for an empty body (the last piece has
 * no trailers: read-only empty ones, as that constant's).
 *
 * <p>Netty's decoder takes a message from its first byte to its last content, so the two never
 * share one: a head is read here only at a message boundary that Netty's decoder is also at
 * (nothing of the message given to it yet). Once Netty's decoder has failed a message, every
 * later byte is its to discard, as without this class.
 */
final class FixedLengthBodies {

  private final int maxChunkSize;

  /** The caches of the thread the decoder runs on, and a parser over them. */
  HeadStrings strings;
  HeadParser parser;

  /** Body bytes still to come of a message read here; 0 between messages. */
  private long remaining;
  /** Netty's decoder has begun a message and not passed its last content yet. */
  private boolean nettyReading;
  /** Netty's decoder failed a message: it reads everything from now on. */
  private boolean nettyOnly;
  /** Heads read here, not by Netty's decoder. */
  long plainHeads;

  FixedLengthBodies(int maxChunkSize) {
    this.maxChunkSize = maxChunkSize;
    useThisThread();
  }

  /**
   * Reads with the calling thread's {@link HeadStrings}: called where the decoder is made and
   * again once it is on its channel, whose event loop then does all its reading.
   */
  void useThisThread() {
    HeadStrings here = HeadStrings.forThisThread();
    if (strings != here) {
      strings = here;
      parser = new HeadParser(here);
    }
  }

  /** Whether a head may be read here now rather than by Netty's decoder. */
  boolean mayReadHead() {
    return !nettyReading && !nettyOnly;
  }

  /**
   * Reads body bytes of a message whose head was read here, if one is under way.
   *
   * @return whether one was (nothing else is to be read from {@code in} in this call)
   */
  boolean read(ByteBuf in, List<Object> out) {
    if (remaining == 0) {
      return false;
    }
    int toRead = (int) Math.min(Math.min(in.readableBytes(), maxChunkSize), remaining);
    if (toRead > 0) {
      ByteBuf content = in.readRetainedSlice(toRead);
      remaining -= toRead;
      // No trailers can follow a Content-Length body: read-only empty ones, as on Netty's
      // EMPTY_LAST_CONTENT, rather than a table per message.
      out.add(remaining == 0
          ? new DefaultLastHttpContent(content, EmptyHttpHeaders.INSTANCE)
          : new DefaultHttpContent(content));
    }
    return true;
  }

  /** Passes on a head read here, and its empty body at once if it has none. */
  void head(HttpMessage head, long contentLength, List<Object> out) {
    plainHeads++;
    out.add(head);
    if (contentLength == 0) {
      out.add(LastHttpContent.EMPTY_LAST_CONTENT);
    } else {
      remaining = contentLength;
    }
  }

  /** Notes what Netty's decoder passed on, {@code out} from {@code from}, in a call that reached it. */
  void nettyDecoded(List<Object> out, int from) {
    nettyReading = true;
    for (int i = from, n = out.size(); i < n; i++) {
      Object o = out.get(i);
      if (o instanceof DecoderResultProvider p && p.decoderResult().isFailure()) {
        nettyOnly = true;
      } else if (o instanceof LastHttpContent) {
        nettyReading = false;
      }
    }
  }

  /**
   * The connection closed. A body read here and cut short ends with no last content, as Netty's
   * decoder ends one.
   */
  void closed() {
    remaining = 0;
  }
}
