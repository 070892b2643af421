package io.tollgate.benchmarks;

import io.tollgate.gateway.catalog.UpstreamAuth;
import io.netty.util.AsciiString;
import io.tollgate.gateway.upstream.AkskJwt;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The {@code aksk} upstream credential of one call, as the buyer handler makes it on the event
 * loop: a fresh HS256 JWT for the product's access key at the current time, as the {@code
 * Authorization} header's value. One product per thread, as on an event loop serving one product
 * (its {@code Mac} stays keyed).
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar JwtBenchmark -prof gc -rf json -rff benchmarks/results/jwt.json
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class JwtBenchmark {

  private final Clock clock = Clock.systemUTC();
  private final UpstreamAuth auth = BenchCatalog.product(0).auth();

  @Benchmark
  public AsciiString signedAuthorization() {
    return AkskJwt.bearer(auth.accessKey(), auth.secretKey(), clock.millis());
  }
}
