//! The registry: every delivery method the harness knows, in the report's order. A new method is
//! a file here, its fixtures in `fixtures/delivery/<name>/`, its image recipe in
//! `scripts/images/<name>.sh` (if it builds images) and one line below.

mod agent_sidecar;
mod csi;
mod eso;
mod injector;

use super::DeliveryMethod;

pub static REGISTRY: &[&dyn DeliveryMethod] =
    &[&agent_sidecar::AgentSidecar, &injector::Injector, &eso::Eso, &csi::Csi];
