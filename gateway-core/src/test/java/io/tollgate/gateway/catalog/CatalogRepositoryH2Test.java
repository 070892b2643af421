package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository contract on H2 (the embedded default), plus the embedded file store. */
class CatalogRepositoryH2Test extends CatalogRepositoryContract {

  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }

  @Test
  void embeddedFileStore_keepsTheCatalogAcrossRestarts(@TempDir Path dir) {
    String url = CatalogRepository.h2FileUrl(dir.toString());
    String productId;
    try (var first = CatalogRepository.open(url, "sa", "", Clock.systemUTC())) {
      var m = first.createMerchant("acme").merchant();
      productId = first.createProduct(newProduct(m.id())).id();
    }

    try (var second = CatalogRepository.open(url, "sa", "", Clock.systemUTC())) {
      assertThat(second.getProduct(productId))
          .as("migrations rerun as no-ops and the data is still there")
          .isPresent();
    }
  }

  @Test
  void open_unreachableDatabase_failsNamingTheUrl() {
    String url = "jdbc:postgresql://127.0.0.1:1/test";

    assertThatThrownBy(() -> CatalogRepository.open(url, "postgres", "", Clock.systemUTC()))
        .isInstanceOf(CatalogException.class)
        .hasMessageContaining("unreachable")
        .hasMessageContaining(url);
  }
}
