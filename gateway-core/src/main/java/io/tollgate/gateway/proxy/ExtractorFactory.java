package io.tollgate.gateway.proxy;

import io.tollgate.metering.usage.Dialect;
import io.tollgate.metering.usage.ExtractorOptions;
import io.tollgate.metering.usage.UsageExtractor;

/** Makes the usage extractor of one response. */
@FunctionalInterface
public interface ExtractorFactory {

  UsageExtractor create(Dialect dialect, boolean stream, ExtractorOptions options);
}
