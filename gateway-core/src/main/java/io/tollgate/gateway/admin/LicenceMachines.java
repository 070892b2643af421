package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.licence.LicenceService;
import java.util.List;

/** The machines activated on a licence subscription, alive or dead as of now; blocks (JDBC). */
@FunctionalInterface
public interface LicenceMachines {
  List<LicenceService.MachineView> of(SubscriptionSnapshot snap);
}
