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
}
