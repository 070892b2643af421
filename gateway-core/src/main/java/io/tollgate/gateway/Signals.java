package io.tollgate.gateway;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandleProxies;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.Consumer;

/**
 * Process signals taken over from the JVM's default handling, through {@code sun.misc.Signal}
 * (module {@code jdk.unsupported}, which exports it to every module: the JDK's supported way for
 * a server to handle SIGTERM itself). Looked up reflectively because javac warns on any mention of
 * {@code sun.misc} and the build fails on warnings (as in the metering module's {@code Unmapper}).
 *
 * <p>Why not a shutdown hook alone: by the time a hook runs, the JVM is already exiting (with
 * status 143 after SIGTERM) and other hooks run beside it; a drain of many seconds belongs before
 * that, in a process that is still whole.
 */
final class Signals {

  private Signals() {}

  /**
   * Runs {@code handler} with the signal's name ({@code TERM}, {@code INT}) on a thread of the
   * JVM's each time one of {@code names} arrives, instead of the JVM's own handling.
   *
   * @return false when this JVM does not let signals be handled (the defaults stay)
   */
  static boolean handle(Consumer<String> handler, String... names) {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> signalHandler = Class.forName("sun.misc.SignalHandler");
      MethodHandles.Lookup lookup = MethodHandles.publicLookup();
      MethodHandle getName = lookup.findVirtual(signal, "getName", MethodType.methodType(String.class));
      MethodHandle accept = lookup.findVirtual(Consumer.class, "accept",
          MethodType.methodType(void.class, Object.class)).bindTo(handler);
      // handle(Signal s) { handler.accept(s.getName()); }
      MethodHandle onSignal = MethodHandles.filterArguments(accept, 0,
          getName.asType(MethodType.methodType(Object.class, signal)));
      Object proxy = MethodHandleProxies.asInterfaceInstance(signalHandler, onSignal);
      MethodHandle newSignal = lookup.findConstructor(signal, MethodType.methodType(void.class, String.class));
      MethodHandle install = lookup.findStatic(signal, "handle",
          MethodType.methodType(signalHandler, signal, signalHandler));
      for (String name : names) {
        install.invoke(newSignal.invoke(name), proxy);
      }
      return true;
    } catch (Throwable e) { // reflective failures and IllegalArgumentException (signal in use)
      if (e instanceof Error && !(e instanceof LinkageError)) {
        throw (Error) e;
      }
      return false;
    }
  }
}
