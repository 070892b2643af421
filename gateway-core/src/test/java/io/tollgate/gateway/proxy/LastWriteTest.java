package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.proxy.RawUpstream.Answer;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * A call's usage is journaled just before its last bytes are written, so a gateway killed between
 * the two bills a call its buyer did not get: that window must stay microseconds long, not last
 * until the event loop is done with everything else it read in the same turn. Here the loop is held
 * right after a call's end was written (by an observer of ended calls, which runs on the loop after
 * the write), and the buyer must have its whole answer while the loop is still held: on epoll the
 * flush writes at once; on io_uring {@link LoopEnds} writes the ends of the turn's calls and enters
 * the ring for them ({@link SubmitNow}) before any call's accounting, where Netty would enter it
 * only when the loop's next turn starts. And the call's usage must be journaled, published, by
 * then: on io_uring the turn's entries are held until one publication right before the ring entry.
 */
class LastWriteTest {

  /** How long the loop is held after a call's end was written: far beyond a loopback write. */
  static final long HOLD_MILLIS = 1_000;

  @Nested
  class OnIoUring extends Contract {
    OnIoUring() {
      super(Transport.IO_URING);
    }

    @Test
    void thisNettyLetsTheRingBeEnteredEarly() {
      assertThat(SubmitNow.UNAVAILABLE).as("IoUringIoHandler.submitAndClearNow, reached by SubmitNow").isNull();
    }

    @Test
    void theTurnsEndsAreJournaledHeld_andPublishedBeforeTheyLeave() throws Exception {
      gw.publishMillis = 300; // an end that left before its publication would arrive in these 300 ms
      try {
        assertEndLeavesAtOnce(RawUpstream.OK);
      } finally {
        gw.publishMillis = 0;
      }
      assertThat(gw.recordedHeld).as("LoopEnds records a turn's calls held").hasPositiveValue();
    }
  }

  @Nested
  class OnEpoll extends Contract {
    OnEpoll() {
      super(Transport.EPOLL);
    }
  }

  abstract static class Contract extends OneLoopPort {

    Contract(String transport) {
      super(transport);
    }

    @Test
    void aJsonAnswersEnd_reachesTheBuyerBeforeTheLoopGoesOn() throws Exception {
      assertEndLeavesAtOnce(RawUpstream.OK);
    }

    @Test
    void aStreamsEnd_reachesTheBuyerBeforeTheLoopGoesOn() throws Exception {
      String stream = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
          + "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,"
          + "\"total_tokens\":10}}\n\ndata: [DONE]\n\n";
      assertEndLeavesAtOnce(Answer.of("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(stream.length()) + "\r\n" + stream
          + "\r\n0\r\n\r\n", false));
    }

    void assertEndLeavesAtOnce(Answer upstreamAnswer) throws Exception {
      AtomicBoolean held = new AtomicBoolean();
      AtomicBoolean released = new AtomicBoolean();
      try (RawUpstream raw = new RawUpstream(upstreamAnswer);
          Socket s = new Socket("127.0.0.1", gw.port)) {
        Product p = ProxyHarness.product(Protocol.OPENAI, raw.baseUrl(), UpstreamAuth.NONE, Map.of(),
            Duration.ofSeconds(5), null);
        String key = gw.subscribe(p);
        gw.onEnded = call -> {
          held.set(true);
          try {
            Thread.sleep(HOLD_MILLIS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          released.set(true);
        };
        s.setSoTimeout(10_000);
        int publishedBefore = gw.events.size();
        s.getOutputStream().write(IdleTimeoutTest.call(key));
        String answer = IdleTimeoutTest.readAnswer(s.getInputStream());
        boolean loopStillHeld = !released.get();
        int publishedWhenAnswered = gw.events.size() - publishedBefore;

        assertThat(answer).startsWith("HTTP/1.1 200");
        Awaitility.await("the call's end on the loop (its observer)").atMost(Duration.ofSeconds(5)).untilTrue(held);
        assertThat(loopStillHeld)
            .as("the whole answer arrived while the loop was held right after writing its end (%s)", transport)
            .isTrue();
        assertThat(publishedWhenAnswered).as("the call's usage was journaled (published) before its end left").isEqualTo(1);
      } finally {
        gw.onEnded = call -> { };
      }
    }
  }
}
