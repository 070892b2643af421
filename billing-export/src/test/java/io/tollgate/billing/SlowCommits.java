package io.tollgate.billing;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;

/**
 * A data source whose commits each take a random extra 0-5 ms, as on a loaded database: writers
 * that do not serialise their whole transaction then commit out of the order they numbered their
 * records in, often enough for a test to see it.
 */
final class SlowCommits {

  private SlowCommits() {}

  static DataSource wrap(DataSource ds) {
    return (DataSource) Proxy.newProxyInstance(SlowCommits.class.getClassLoader(), new Class<?>[] {DataSource.class},
        handler((method, args) -> {
          Object result = method.invoke(ds, args);
          return result instanceof Connection c ? slow(c) : result;
        }));
  }

  private static Connection slow(Connection c) {
    return (Connection) Proxy.newProxyInstance(SlowCommits.class.getClassLoader(), new Class<?>[] {Connection.class},
        handler((method, args) -> {
          if (method.getName().equals("commit")) {
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(5_000_000));
          }
          return method.invoke(c, args);
        }));
  }

  private interface Call {
    Object invoke(java.lang.reflect.Method method, Object[] args) throws ReflectiveOperationException;
  }

  private static InvocationHandler handler(Call call) {
    return (proxy, method, args) -> {
      try {
        return call.invoke(method, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    };
  }
}
