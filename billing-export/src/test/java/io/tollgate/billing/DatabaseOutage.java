package io.tollgate.billing;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;

/**
 * A real database seen through a connection that can break on demand, as a pool's connections do
 * when the server goes away: while {@link #down}, getting a connection, and any statement or
 * commit on a connection already open, fail with a connection error (SQLState 08006); a rollback
 * and a close still work, as they do on a pool that drops the broken connection. {@link
 * #failCommits} makes the next commits fail after their statements ran (a server lost between the
 * last statement and the commit), so the transaction rolls back whole.
 *
 * <p>Faster and more exact than stopping a server, and it breaks only the users of this data
 * source: the meter store on the same database keeps working.
 */
final class DatabaseOutage {

  private static final Set<String> SURVIVE = Set.of("close", "isClosed", "rollback", "getAutoCommit",
      "setAutoCommit", "getTransactionIsolation", "setTransactionIsolation", "unwrap", "isWrapperFor",
      "toString", "hashCode", "equals");

  volatile boolean down;
  final AtomicInteger failCommits = new AtomicInteger();
  private final DataSource dataSource;

  DatabaseOutage(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** The data source that breaks. */
  DataSource dataSource() {
    return (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {DataSource.class},
        handler((method, args) -> {
          if (method.getName().equals("getConnection")) {
            failIfDown();
            return connection((Connection) method.invoke(dataSource, args));
          }
          return method.invoke(dataSource, args);
        }));
  }

  private Connection connection(Connection c) {
    return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
        handler((method, args) -> {
          if (!SURVIVE.contains(method.getName())) {
            failIfDown();
          }
          if (method.getName().equals("commit") && failCommits.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new SQLTransientConnectionException("test: connection lost before the commit", "08006");
          }
          return method.invoke(c, args);
        }));
  }

  private void failIfDown() throws SQLException {
    if (down) {
      throw new SQLTransientConnectionException("test: the database is down", "08006");
    }
  }

  private interface Call {
    Object invoke(Method method, Object[] args) throws ReflectiveOperationException, SQLException;
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
