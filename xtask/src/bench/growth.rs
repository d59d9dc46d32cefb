//! The growth series: the same fleet shape with more and more towns, the
//! operator binary as a child process, and what each town costs it — to
//! converge (wall and CPU seconds), to hold (memory) and at rest (CPU per
//! sync). A cost that grows with the fleet only as the towns do gives flat
//! per-town figures.

use beads_testd::Personality;
use serde::Serialize;

use super::fleet::{self, FleetResult, OperatorKind};
use super::operator::ChildProgram;
use super::plan::Plan;
use super::stats::per_town;

/// One step of the series: the fleet's figures and the same per town.
#[derive(Clone, Debug, Serialize)]
pub struct GrowthStep {
    #[serde(flatten)]
    pub fleet: FleetResult,
    pub per_town: PerTown,
}

/// A growth step's figures divided by its towns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PerTown {
    /// Convergence seconds (first town created → every town Running) ÷ towns.
    pub converge_seconds: f64,
    /// The operator's CPU seconds over that span ([`fleet::CpuPhases::converging`]) ÷ towns.
    pub cpu_seconds: f64,
    /// Peak resident set (`VmHWM` after the idle window) ÷ towns.
    pub peak_rss_mib: f64,
    /// (Peak resident set − peak resident set before the first town) ÷
    /// towns: what a town adds to the operator's memory, without its start-up.
    pub added_rss_mib: f64,
    /// Idle CPU milliseconds per town per sync (as in [`fleet::IdleCost`]).
    pub idle_cpu_ms_per_sync: f64,
}

impl PerTown {
    pub fn of(fleet: &FleetResult) -> PerTown {
        let towns = fleet.shape.towns;
        PerTown {
            converge_seconds: per_town(fleet.convergence.seconds, towns),
            cpu_seconds: per_town(fleet.cpu.converging, towns),
            peak_rss_mib: per_town(fleet.footprint.peak_rss_mib, towns),
            added_rss_mib: per_town(
                (fleet.footprint.peak_rss_mib - fleet.startup.peak_rss_mib).max(0.0),
                towns,
            ),
            idle_cpu_ms_per_sync: fleet.idle.cpu_ms_per_town_per_sync,
        }
    }
}

impl GrowthStep {
    pub fn new(fleet: FleetResult) -> GrowthStep {
        GrowthStep {
            per_town: PerTown::of(&fleet),
            fleet,
        }
    }
}

/// Every step of [`Plan::growth`], smallest first, the operator as a child
/// process of `program`, the towns on the bd daemon. A step that fails is
/// reported in the failures, and the next one still runs.
pub async fn run(plan: &Plan, program: &ChildProgram) -> (Vec<GrowthStep>, Vec<String>) {
    let (mut steps, mut failures) = (Vec::new(), Vec::new());
    for shape in &plan.growth {
        eprintln!(
            "growth {}: convergence, CPU and memory of the operator as a child",
            shape.label()
        );
        match fleet::run(
            plan,
            *shape,
            Personality::Daemon,
            OperatorKind::Child(program),
        )
        .await
        {
            Ok(result) => steps.push(GrowthStep::new(result)),
            Err(error) => failures.push(format!("growth {}: {error:#}", shape.label())),
        }
    }
    (steps, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fleet::CpuPhases;
    use crate::bench::operator::Footprint;
    use crate::bench::plan::FleetShape;
    use gastown_api::gastown::BeadsProtocol;

    #[test]
    fn per_town_figures_divide_by_the_towns() {
        let mut fleet =
            FleetResult::example(FleetShape::new(100, 5, 3), BeadsProtocol::Daemon, 30.0);
        fleet.cpu = CpuPhases {
            startup: 0.5,
            converging: 25.0,
            settling: 1.0,
            idle: 0.5,
            operator_only: true,
        };
        fleet.startup = Footprint {
            peak_rss_mib: 20.0,
            cpu_seconds: 0.5,
            operator_only: true,
        };
        fleet.footprint = Footprint {
            peak_rss_mib: 120.0,
            cpu_seconds: 27.0,
            operator_only: true,
        };
        fleet.idle.cpu_ms_per_town_per_sync = 0.5;
        let step = GrowthStep::new(fleet);
        assert_eq!(
            step.per_town,
            PerTown {
                converge_seconds: 0.3,
                cpu_seconds: 0.25,
                peak_rss_mib: 1.2,
                added_rss_mib: 1.0,
                idle_cpu_ms_per_sync: 0.5,
            }
        );
        // The JSON has the fleet's figures at the step's top level.
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["shape"]["towns"], 100);
        assert_eq!(json["cpu"]["converging"], 25.0);
        assert_eq!(json["per_town"]["cpu_seconds"], 0.25);
    }

    #[test]
    fn a_fleet_that_did_not_grow_adds_no_memory() {
        let mut fleet = FleetResult::example(FleetShape::new(2, 1, 0), BeadsProtocol::Daemon, 1.0);
        fleet.startup.peak_rss_mib = 30.0;
        fleet.footprint.peak_rss_mib = 30.0;
        let per_town = PerTown::of(&fleet);
        assert_eq!(per_town.added_rss_mib, 0.0);
        assert_eq!(per_town.peak_rss_mib, 15.0);
        assert_eq!(per_town.converge_seconds, 0.5);
    }
}
