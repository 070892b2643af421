package io.tollgate.gateway.proxy;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tollgate.gateway.upstream.AddressPolicy;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;

/**
 * Resolves upstream hosts with another resolver group and fails the resolution of an address the
 * {@link AddressPolicy} refuses, with an {@link UpstreamRefusedException}: the check is on the
 * address the connection is about to use, so a DNS answer that changed since the endpoint was
 * registered cannot get past it.
 */
final class CheckedResolverGroup extends AddressResolverGroup<InetSocketAddress> {

  private final AddressResolverGroup<InetSocketAddress> delegate;
  private final AddressPolicy policy;

  CheckedResolverGroup(AddressResolverGroup<InetSocketAddress> delegate, AddressPolicy policy) {
    this.delegate = delegate;
    this.policy = policy;
  }

  @Override
  protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
    return new Checked(executor, delegate.getResolver(executor), policy);
  }

  @Override
  public void close() {
    super.close();
    delegate.close();
  }

  private static final class Checked implements AddressResolver<InetSocketAddress> {
    private final EventExecutor executor;
    private final AddressResolver<InetSocketAddress> resolver;
    private final AddressPolicy policy;

    Checked(EventExecutor executor, AddressResolver<InetSocketAddress> resolver, AddressPolicy policy) {
      this.executor = executor;
      this.resolver = resolver;
      this.policy = policy;
    }

    @Override
    public boolean isSupported(SocketAddress address) {
      return resolver.isSupported(address);
    }

    /**
     * Always false: Netty's bootstrap connects to a "resolved" address without calling {@link
     * #resolve}, and every address must pass the check there.
     */
    @Override
    public boolean isResolved(SocketAddress address) {
      return false;
    }

    @Override
    public Future<InetSocketAddress> resolve(SocketAddress address) {
      return resolve(address, executor.newPromise());
    }

    @Override
    public Future<InetSocketAddress> resolve(SocketAddress address, Promise<InetSocketAddress> promise) {
      resolver.resolve(address).addListener((Future<InetSocketAddress> f) -> {
        if (!f.isSuccess()) {
          promise.tryFailure(f.cause());
          return;
        }
        InetSocketAddress resolved = f.getNow();
        AddressPolicy.Verdict verdict;
        try {
          verdict = policy.check(resolved);
        } catch (RuntimeException e) {
          promise.tryFailure(e);
          return;
        }
        if (verdict.allowed()) {
          promise.trySuccess(resolved);
        } else {
          promise.tryFailure(new UpstreamRefusedException(verdict, resolved));
        }
      });
      return promise;
    }

    @Override
    public Future<List<InetSocketAddress>> resolveAll(SocketAddress address) {
      return resolveAll(address, executor.newPromise());
    }

    /** All addresses, or the refusal of the first refused one. */
    @Override
    public Future<List<InetSocketAddress>> resolveAll(SocketAddress address,
        Promise<List<InetSocketAddress>> promise) {
      resolver.resolveAll(address).addListener((Future<List<InetSocketAddress>> f) -> {
        if (!f.isSuccess()) {
          promise.tryFailure(f.cause());
          return;
        }
        try {
          for (InetSocketAddress resolved : f.getNow()) {
            AddressPolicy.Verdict verdict = policy.check(resolved);
            if (!verdict.allowed()) {
              promise.tryFailure(new UpstreamRefusedException(verdict, resolved));
              return;
            }
          }
        } catch (RuntimeException e) {
          promise.tryFailure(e);
          return;
        }
        promise.trySuccess(f.getNow());
      });
      return promise;
    }

    @Override
    public void close() {
      // the delegate group closes the resolver it made
    }
  }
}
