package io.tollgate.metering.usage;

/**
 * Where the gateway hands each finished call's {@link UsageEvent}.
 *
 * <p>Called on an event loop (or a token-estimate worker, concurrently with the loops): an
 * implementation must be thread-safe and must not block or touch the network (appending to a
 * page-cached journal is fine). It is called before the call's last byte is written to the
 * buyer, so a recorder that persists the event makes "no served call goes uncounted" hold across
 * a crash.
 */
@FunctionalInterface
public interface UsageRecorder {

  void record(UsageEvent event);

  /**
   * As {@link #record}, but the event may stay out of what a crash leaves until this thread's next
   * {@link #publish()}: for a caller whose answers leave only later, all at once (an io_uring event
   * loop entering its ring), which publishes right before they leave, so a crash finds all of them
   * recorded and sent, or neither. A recorder that persists each event at once needs neither.
   */
  default void recordHeld(UsageEvent event) {
    record(event);
  }

  /** Publishes what this thread recorded with {@link #recordHeld}. Must not throw. */
  default void publish() {}
}
