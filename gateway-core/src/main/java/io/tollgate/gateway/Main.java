package io.tollgate.gateway;

import io.tollgate.billing.Exporter;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.ConfigLoader;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.gateway.observe.Logs;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code java -jar tollgate.jar serve | check | export --once | demo | mock-upstream | help}. */
@Command(name = "tollgate", mixinStandardHelpOptions = true, version = "tollgate 0.1.0",
    description = "Agents API gateway and token metering proxy.",
    subcommands = {Main.Serve.class, Main.Check.class, Main.Export.class, Demo.class, Main.Mock.class,
        CommandLine.HelpCommand.class})
public final class Main {

  static final Path DEFAULT_CONFIG = Path.of("config", "tollgate.yaml");

  public static void main(String[] args) {
    nettyDefaults();
    System.exit(run(args));
  }

  /**
   * Netty settings the process runs with unless its command line sets them, applied before any
   * Netty class loads. {@code io.netty.trackPinnedMemory=false}: the pooled allocator would
   * otherwise add every buffer's size to a counter of its chunk when the buffer is taken and when
   * it is released (a {@code LongAdder} shared by the loops; ~2% of the buyer port's event-loop
   * CPU under load), for a figure ({@code pinnedDirectMemory()}) nothing in tollgate reads.
   */
  static void nettyDefaults() {
    if (System.getProperty("io.netty.trackPinnedMemory") == null) {
      System.setProperty("io.netty.trackPinnedMemory", "false");
    }
  }

  static int run(String... args) {
    return run(new java.io.PrintWriter(System.err, true), args);
  }

  static int run(java.io.PrintWriter err, String... args) {
    return run(new java.io.PrintWriter(System.out, true), err, args);
  }

  /** Runs a command with its standard output to {@code out} and its errors to {@code err}. */
  static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof ConfigException || e instanceof StartupException) {
        cmd.getErr().println("tollgate: " + e.getMessage());
        return 2;
      }
      throw e;
    });
    return cli.execute(args);
  }

  /**
   * The config file given, else {@code config/tollgate.yaml} if present, else built-in defaults;
   * the application log takes the format it names ({@code logging.format}) from here on.
   */
  static GatewayConfig loadConfig(Path file) {
    Path f = file != null ? file : Files.isRegularFile(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null;
    GatewayConfig config = new ConfigLoader().load(f);
    Logs.configure(config.logging());
    return config;
  }

  /**
   * {@code serve}: runs until SIGTERM or SIGINT (Ctrl-C), then stops as {@link Gateway#close()}
   * says (not ready at once, the buyer port drained for up to {@code server.drainTimeout}, usage
   * flushed) and exits 0. The signals are taken from the JVM's default handling, which would
   * start the JVM's shutdown at once and end with status 143: the drain runs on the main thread
   * while the process is whole, and the shutdown hooks (a logging backend's flush, say) run after
   * it, as on any exit. A second signal during the drain stops at once, as {@code kill -9} would
   * (the journal keeps every usage event already recorded). Where the JVM offers no signal
   * handling, a shutdown hook closes the gateway instead.
   */
  @Command(name = "serve", mixinStandardHelpOptions = true,
      description = "Run the gateway until stopped (SIGTERM or Ctrl-C: drains calls in flight, then exits 0).")
  static final class Serve implements Callable<Integer> {
    @Option(names = "--config", description = "YAML config file (default: config/tollgate.yaml if present)")
    Path config;

    @Override
    public Integer call() throws InterruptedException {
      GatewayConfig cfg = loadConfig(config);
      Gateway gateway = Gateway.start(cfg);
      // Any way out of the JVM but the signals below (System.exit, SIGHUP) still closes the
      // gateway; after those signals it finds the gateway closed already. Both are installed once
      // start-up succeeded: a signal during start-up ends the process as it would any JVM.
      Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "tollgate-shutdown"));
      CountDownLatch stopRequested = new CountDownLatch(1);
      boolean signals = Signals.handle(signal -> {
        if (stopRequested.getCount() == 0) {
          System.err.println("tollgate: SIG" + signal + " again: stopping now, without draining");
          Runtime.getRuntime().halt(128 + ("INT".equals(signal) ? 2 : 15));
        }
        System.err.println("tollgate: SIG" + signal + ": stopping (SIG" + signal + " again stops at once)");
        stopRequested.countDown();
      }, "TERM", "INT");
      if (cfg.admin().token() == null) {
        // Shown once, on the console only: there is no other way to learn a generated token.
        System.out.println("tollgate: admin.token is not set; this run's operator token is "
            + gateway.operatorToken() + " (set TOLLGATE_ADMIN_TOKEN to choose one)");
      }
      System.out.println("tollgate: buyer port " + gateway.buyerPort() + ", admin port " + gateway.adminPort());
      if (!signals) {
        new CountDownLatch(1).await(); // the shutdown hook stops the gateway
      }
      stopRequested.await();
      gateway.close();
      System.out.println("tollgate: stopped");
      return 0;
    }
  }

  /**
   * {@code check}: would {@code serve} start with this config? Loads and validates it, then
   * reaches what it names ({@link Gateway#check}), without binding a port or writing anything, so
   * it runs next to a serving instance, before a restart or in a deployment pipeline. Exit status
   * 0, or 2 with the one line {@code serve} would stop with.
   */
  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Validate the configuration and reach its database and Redis; exit 0, or 2 with the reason.")
  static final class Check implements Callable<Integer> {
    @Option(names = "--config", description = "YAML config file (default: config/tollgate.yaml if present)")
    Path config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      GatewayConfig cfg = loadConfig(config);
      List<String> checked = Gateway.check(cfg);
      java.io.PrintWriter out = spec.commandLine().getOut();
      for (String line : checked) {
        out.println("  " + line);
      }
      out.println("tollgate check: OK");
      out.flush();
      return 0;
    }
  }

  /**
   * {@code export --once}: one export pass on the configured stores, for a cron (billing jobs
   * that want windows closed now, or setups where no gateway runs the exporter). Opens the catalog
   * database and the meter store only: no journal, no ports, so it runs next to serving gateways
   * (on PostgreSQL; the embedded H2 file admits one process at a time).
   *
   * <p>It takes the lease the gateways' exporters share: while one of them holds it, the run does
   * nothing and says so (they export on their own schedule). {@code --once} is required: {@code
   * export} alone is left for a periodic mode, so that a cron line written today keeps its meaning.
   *
   * <p>Exit status: 0 when the pass completed or was skipped for the lease; 1 when a store failed
   * (what was committed stays committed, the rest is still due); 2 for a bad config.
   */
  @Command(name = "export", mixinStandardHelpOptions = true,
      description = "Close the usage windows that are due into records, once, and exit.")
  static final class Export implements Callable<Integer> {
    @Option(names = "--once", required = true, description = "one pass, then exit (required)")
    boolean once;

    @Option(names = "--config", description = "YAML config file (default: config/tollgate.yaml if present)")
    Path config;

    @Option(names = "--ignore-lease",
        description = "run even while another exporter holds the export lease (e.g. one that died holding it);"
            + " safe: writers serialise in the ledger and record ids are deterministic")
    boolean ignoreLease;

    /** Tests close windows as if it were this time; not for operators, so not in the help. */
    @Option(names = "--now", hidden = true)
    Instant now;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      GatewayConfig cfg = loadConfig(config);
      Clock clock = now != null ? Clock.fixed(now, ZoneOffset.UTC) : Clock.systemUTC();
      java.io.PrintWriter out = spec.commandLine().getOut();
      try (BillingExport.Standalone export = BillingExport.openStandalone(cfg, clock, ignoreLease)) {
        Exporter.Summary s = export.runOnce();
        if (!s.leaseHeld()) {
          out.println("tollgate export: skipped: another exporter holds the export lease and exports on its own"
              + " schedule (--ignore-lease runs anyway)");
        } else {
          out.println("tollgate export: windows " + s.windows() + ", purchases " + s.purchases() + ", usage records "
              + s.usageRecords() + ", adjustments " + s.adjustments());
        }
        out.flush();
        return 0;
      } catch (ConfigException e) {
        throw e;
      } catch (RuntimeException e) {
        spec.commandLine().getErr().println("tollgate: export failed: " + describe(e));
        return 1;
      }
    }

    /**
     * The exception's message and its causes' (those it does not already hold), on one line: what
     * a cron mails its operator.
     */
    private static String describe(Throwable e) {
      StringBuilder sb = new StringBuilder(e.getMessage() != null ? e.getMessage() : e.toString());
      Throwable c = e.getCause();
      for (int depth = 0; c != null && depth < 5; depth++, c = c.getCause()) {
        if (c.getMessage() != null && !sb.toString().contains(c.getMessage())) {
          sb.append(": ").append(c.getMessage());
        }
      }
      return sb.toString().replaceAll("\\s*\\R\\s*", " ");
    }
  }

  @Command(name = "mock-upstream", mixinStandardHelpOptions = true,
      description = "Run an OpenAI/Anthropic/custom-compatible merchant endpoint with deterministic usage.")
  static final class Mock implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "18080", description = "port (default ${DEFAULT-VALUE}; 0 = any)")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "bind address (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--latency-ms", defaultValue = "0", description = "delay before each response head")
    long latencyMs;

    @Option(names = "--fail-every", defaultValue = "0", description = "answer every Nth call with 500 (0 = never)")
    int failEvery;

    @Option(names = "--aksk", description = "require an AK/SK JWT signed with this ACCESS:SECRET pair")
    String aksk;

    @Option(names = "--custom-path", description = "extra custom Agents API path (repeatable)")
    List<String> customPaths;

    @Option(names = "--event-loops", defaultValue = "1", description = "event loops (default ${DEFAULT-VALUE})")
    int eventLoops;

    @Override
    public Integer call() throws InterruptedException {
      MockUpstream.Options o = MockUpstream.Options.defaults().withHost(host).withPort(port)
          .withLatencyMs(latencyMs).withFailEvery(failEvery).withEventLoops(eventLoops);
      if (aksk != null) {
        o = o.withAksk(aksk);
      }
      if (customPaths != null) {
        o = o.withCustomPaths(customPaths.toArray(String[]::new));
      }
      Vertx vertx = Vertx.vertx();
      MockUpstream mock;
      try {
        mock = MockUpstream.start(vertx, o).await();
      } catch (Exception e) {
        vertx.close();
        throw new StartupException("mock-upstream cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
      }
      System.out.println("mock-upstream listening on " + mock.baseUrl());
      new CountDownLatch(1).await();
      return 0;
    }
  }
}
