package io.tollgate.gateway.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads {@link GatewayConfig} from YAML and the environment.
 *
 * <p>Strict on purpose: an unknown key (in the file or as a {@code TOLLGATE_*} variable) or a
 * value of the wrong type stops start-up with a {@link ConfigException} naming the key, because a
 * misspelt {@code store.jdbcUrl} that silently falls back to the embedded store would meter money
 * into the wrong place. Jackson binds the records; this class only maps its errors to key paths.
 */
public final class ConfigLoader {

  static final String ENV_PREFIX = "TOLLGATE_";
  private static final Pattern SIMPLE_DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

  private final ObjectMapper yaml;

  public ConfigLoader() {
    SimpleModule durations = new SimpleModule().addDeserializer(Duration.class, new DurationDeserializer());
    this.yaml = new ObjectMapper(new YAMLFactory())
        .registerModule(durations)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        // a list key set from the environment is one string ("10.0.0.0/8,fd00::/8")
        .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY);
  }

  /** Loads {@code file} (null for none) with the process environment applied over it. */
  public GatewayConfig load(Path file) {
    return load(file, System.getenv());
  }

  /** Loads {@code file} (null for none) with {@code env} applied over it. */
  public GatewayConfig load(Path file, Map<String, String> env) {
    ObjectNode root = file == null ? JsonNodeFactory.instance.objectNode() : read(file);
    applyEnvironment(root, env);
    try {
      return yaml.treeToValue(root, GatewayConfig.class);
    } catch (ValueInstantiationException e) {
      if (e.getCause() instanceof ConfigException ce) {
        throw ce;
      }
      throw new ConfigException(path(e), rootMessage(e));
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(path(e), "unknown key");
    } catch (InvalidFormatException e) {
      throw new ConfigException(path(e),
          "expected " + describe(e.getTargetType()) + ", got '" + e.getValue() + "'");
    } catch (MismatchedInputException e) {
      throw new ConfigException(path(e), "expected " + describe(e.getTargetType()));
    } catch (JsonMappingException e) {
      if (e.getCause() instanceof ConfigException ce) {
        throw ce;
      }
      throw new ConfigException(path(e), rootMessage(e));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ObjectNode read(Path file) {
    if (!Files.isReadable(file)) {
      throw new ConfigException("--config", "cannot read " + file.toAbsolutePath());
    }
    try {
      JsonNode node = yaml.readTree(file.toFile());
      if (node == null || node.isMissingNode() || node.isNull()) {
        return JsonNodeFactory.instance.objectNode();
      }
      if (!(node instanceof ObjectNode obj)) {
        throw new ConfigException("--config", file + " must hold a YAML mapping at the top");
      }
      return obj;
    } catch (IOException e) {
      throw new ConfigException("--config", "cannot parse " + file + ": " + firstLine(e.getMessage()));
    }
  }

  /** Sets each {@code TOLLGATE_*} variable's value at its key path; an unknown one is an error. */
  private static void applyEnvironment(ObjectNode root, Map<String, String> env) {
    Map<String, String[]> known = envKeys();
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (!e.getKey().startsWith(ENV_PREFIX)) {
        continue;
      }
      String[] path = known.get(e.getKey());
      if (path == null) {
        throw new ConfigException(e.getKey(), "unknown key (known: "
            + known.keySet().stream().sorted().collect(Collectors.joining(", ")) + ")");
      }
      ObjectNode node = root;
      for (int i = 0; i < path.length - 1; i++) {
        JsonNode child = node.get(path[i]);
        if (!(child instanceof ObjectNode)) {
          child = node.putObject(path[i]);
        }
        node = (ObjectNode) child;
      }
      node.put(path[path.length - 1], e.getValue());
    }
  }

  /** Every leaf key of {@link GatewayConfig}, by its environment variable name. */
  static Map<String, String[]> envKeys() {
    Map<String, String[]> out = new LinkedHashMap<>();
    collect(GatewayConfig.class, new String[0], out);
    return out;
  }

  private static void collect(Class<?> type, String[] prefix, Map<String, String[]> out) {
    for (RecordComponent c : type.getRecordComponents()) {
      String[] path = java.util.Arrays.copyOf(prefix, prefix.length + 1);
      path[prefix.length] = c.getName();
      if (c.getType().isRecord()) {
        collect(c.getType(), path, out);
      } else {
        out.put(envName(path), path);
      }
    }
  }

  /** {@code [store, dataDir]} is {@code TOLLGATE_STORE_DATA_DIR}. */
  static String envName(String... path) {
    StringBuilder sb = new StringBuilder(ENV_PREFIX);
    for (int i = 0; i < path.length; i++) {
      if (i > 0) {
        sb.append('_');
      }
      sb.append(path[i].replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT));
    }
    return sb.toString();
  }

  private static String path(JsonMappingException e) {
    String p = e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."));
    return p.isEmpty() ? "config" : p;
  }

  private static String describe(Class<?> type) {
    if (type == null) {
      return "another value";
    }
    if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
      return "an integer";
    }
    if (type == Duration.class) {
      return "a duration such as PT30S, 200ms, 5s, 1h";
    }
    if (type == String.class) {
      return "a string";
    }
    if (type.isRecord()) {
      return "a mapping";
    }
    return type.getSimpleName();
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return firstLine(t.getMessage());
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "invalid value";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** ISO-8601 ({@code PT30S}) or a number with a unit ({@code 200ms}, {@code 5s}, {@code 2m}). */
  static final class DurationDeserializer extends JsonDeserializer<Duration> {
    @Override
    public Duration deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      String text = p.getValueAsString();
      if (text == null) {
        return (Duration) ctxt.handleUnexpectedToken(Duration.class, p);
      }
      return parse(text.trim(), () -> ctxt.weirdStringException(text, Duration.class, "not a duration"));
    }

    static Duration parse(String text, java.util.function.Supplier<IOException> bad) throws IOException {
      Matcher m = SIMPLE_DURATION.matcher(text);
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        };
      }
      try {
        return Duration.parse(text);
      } catch (DateTimeParseException e) {
        throw bad.get();
      }
    }
  }
}
