//! What a benchmark run measures: the scenarios, the fleets, how long "idle"
//! lasts, how much churn, the growth series. Pure data, so that the sizes are
//! reviewed in one place.

use std::time::Duration;

use gastown_operator::controllers::town_status::PROGRESS_INTERVAL;
use serde::Serialize;

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// The smallest run that exercises every scenario (CI checks the harness with it).
    Smoke,
    /// Under two minutes on the reference machine.
    Quick,
    /// The figures in docs/benchmarks.md.
    Full,
}

/// A part of the run that `cargo xtask bench --only` can choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Convergence and idle cost of each fleet, the operator in process.
    Fleets,
    /// Towns on bd serve: the smallest fleet in process, a modest one with
    /// the operator as a child process.
    Serve,
    /// Polecat churn.
    Churn,
    /// The growth series: more and more towns, the operator as a child process.
    Growth,
}

impl Scenario {
    /// Every scenario, in the order a run measures them.
    pub const ALL: [Scenario; 4] = [
        Scenario::Fleets,
        Scenario::Serve,
        Scenario::Churn,
        Scenario::Growth,
    ];

    /// The name `--only` takes.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Fleets => "fleets",
            Scenario::Serve => "serve",
            Scenario::Churn => "churn",
            Scenario::Growth => "growth",
        }
    }

    /// `scenarios` in run order, each once; none means every scenario.
    pub fn normalize(scenarios: &[Scenario]) -> Vec<Scenario> {
        if scenarios.is_empty() {
            return Scenario::ALL.to_vec();
        }
        Scenario::ALL
            .into_iter()
            .filter(|s| scenarios.contains(s))
            .collect()
    }
}

/// Towns × rigs × crew members per rig.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FleetShape {
    pub towns: usize,
    pub rigs: usize,
    pub crew: usize,
}

impl FleetShape {
    pub const fn new(towns: usize, rigs: usize, crew: usize) -> FleetShape {
        FleetShape { towns, rigs, crew }
    }

    /// `100×5×3`
    pub fn label(&self) -> String {
        format!("{}×{}×{}", self.towns, self.rigs, self.crew)
    }

    pub fn total_rigs(&self) -> usize {
        self.towns * self.rigs
    }
}

/// Polecat churn: `spawns` polecats in waves of `rigs × per_rig` (every rig
/// allows `per_rig` polecats at once, so no spawn waits for the quota).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ChurnPlan {
    pub spawns: usize,
    pub rigs: usize,
    pub per_rig: usize,
}

impl ChurnPlan {
    pub fn wave_size(&self) -> usize {
        self.rigs * self.per_rig
    }

    /// The sizes of the waves: full waves, then the remainder.
    pub fn waves(&self) -> Vec<usize> {
        let wave = self.wave_size().max(1);
        let mut left = self.spawns;
        let mut waves = Vec::new();
        while left > 0 {
            waves.push(left.min(wave));
            left -= left.min(wave);
        }
        waves
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub size: Size,
    /// Convergence and idle cost are measured for each, smallest first.
    pub fleets: Vec<FleetShape>,
    /// The towns' `spec.syncInterval`: one "simulated minute" of idle time
    /// (the default syncInterval is 60 s, so one sync stands for one minute).
    #[serde(with = "secs")]
    pub sync_interval: Duration,
    /// Syncs (simulated minutes) observed while idle.
    pub idle_syncs: u32,
    pub churn: ChurnPlan,
    /// The growth series, smallest first: convergence, CPU time and memory of
    /// the operator binary as a child process (its own figures, not this
    /// process's) as the fleet grows. Its largest fleet of the in-process
    /// series is one of its steps: that step is the footprint.
    pub growth: Vec<FleetShape>,
    /// The fleet run once more with its towns on `bd serve` and the operator
    /// as a child process: the idle CPU cost of a sync under that protocol.
    pub serve_child: FleetShape,
}

impl Plan {
    pub fn new(size: Size) -> Plan {
        let churn = |spawns| ChurnPlan {
            spawns,
            rigs: 5,
            per_rig: 20,
        };
        match size {
            Size::Smoke => Plan {
                size,
                fleets: vec![FleetShape::new(1, 1, 0)],
                sync_interval: Duration::from_secs(1),
                idle_syncs: 3,
                churn: ChurnPlan {
                    spawns: 10,
                    rigs: 1,
                    per_rig: 10,
                },
                // One step of the smoke fleet: the child's figures exist.
                growth: vec![FleetShape::new(1, 1, 0)],
                serve_child: FleetShape::new(1, 1, 0),
            },
            Size::Quick => Plan {
                size,
                fleets: vec![
                    FleetShape::new(1, 1, 0),
                    FleetShape::new(1, 10, 3),
                    FleetShape::new(10, 5, 3),
                ],
                sync_interval: Duration::from_secs(2),
                idle_syncs: 10,
                churn: churn(200),
                growth: vec![FleetShape::new(3, 5, 3), FleetShape::new(10, 5, 3)],
                serve_child: FleetShape::new(3, 5, 3),
            },
            Size::Full => Plan {
                size,
                fleets: vec![
                    FleetShape::new(1, 1, 0),
                    FleetShape::new(1, 10, 3),
                    FleetShape::new(100, 5, 3),
                ],
                sync_interval: Duration::from_secs(5),
                idle_syncs: 10,
                churn: churn(1000),
                growth: vec![
                    FleetShape::new(10, 5, 3),
                    FleetShape::new(100, 5, 3),
                    FleetShape::new(300, 5, 3),
                ],
                serve_child: FleetShape::new(10, 5, 3),
            },
        }
    }

    /// The largest of the in-process fleets.
    #[cfg(test)]
    pub fn largest(&self) -> FleetShape {
        *self
            .fleets
            .iter()
            .max_by_key(|f| f.total_rigs() * (f.crew + 1))
            .expect("a plan has fleets")
    }

    /// Wall time of the idle window.
    pub fn idle_window(&self) -> Duration {
        self.sync_interval * self.idle_syncs
    }

    /// How long a converged fleet is left to come to rest before its writes
    /// are counted and the idle window starts: two sync intervals, or long
    /// enough for a town's deferred progress write (see
    /// [`PROGRESS_INTERVAL`]) and one more sync, whichever is longer.
    pub fn settle_time(&self) -> Duration {
        (self.sync_interval * 2).max(PROGRESS_INTERVAL + self.sync_interval)
    }
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_waves_add_up_to_the_spawns() {
        let plan = ChurnPlan {
            spawns: 250,
            rigs: 5,
            per_rig: 20,
        };
        assert_eq!(plan.waves(), vec![100, 100, 50]);
        assert_eq!(
            Plan::new(Size::Full).churn.waves().iter().sum::<usize>(),
            1000
        );
    }

    #[test]
    fn the_full_run_has_the_issue_fleets() {
        let plan = Plan::new(Size::Full);
        assert_eq!(plan.largest(), FleetShape::new(100, 5, 3));
        assert_eq!(plan.fleets[1].label(), "1×10×3");
        assert_eq!(plan.idle_window(), Duration::from_secs(50));
    }

    #[test]
    fn a_fleet_settles_past_deferred_progress_writes() {
        for size in [Size::Smoke, Size::Quick, Size::Full] {
            let plan = Plan::new(size);
            assert!(plan.settle_time() > PROGRESS_INTERVAL, "{size:?}");
            assert!(plan.settle_time() >= plan.sync_interval * 2, "{size:?}");
        }
    }

    #[test]
    fn the_quick_run_is_smaller_than_the_full_one() {
        let (quick, full) = (Plan::new(Size::Quick), Plan::new(Size::Full));
        assert!(quick.largest().total_rigs() < full.largest().total_rigs());
        assert!(quick.churn.spawns < full.churn.spawns);
        assert!(quick.growth.last().unwrap().towns < full.growth.last().unwrap().towns);
        assert!(quick.serve_child.towns < full.serve_child.towns);
    }

    #[test]
    fn the_growth_series_grows_towns_of_one_shape_and_holds_the_footprint_fleet() {
        let full = Plan::new(Size::Full);
        let towns: Vec<usize> = full.growth.iter().map(|f| f.towns).collect();
        assert_eq!(towns, [10, 100, 300]);
        assert!(full.growth.iter().all(|f| (f.rigs, f.crew) == (5, 3)));
        // The footprint run of the largest in-process fleet is a step of the
        // series, not a run of its own.
        assert!(full.growth.contains(&full.largest()));
        assert_eq!(full.serve_child, FleetShape::new(10, 5, 3));

        let quick = Plan::new(Size::Quick);
        let towns: Vec<usize> = quick.growth.iter().map(|f| f.towns).collect();
        assert_eq!(towns, [3, 10]);
        assert!(quick.growth.contains(&quick.largest()));

        let smoke = Plan::new(Size::Smoke);
        assert_eq!(
            smoke.growth, smoke.fleets,
            "the smoke plan keeps to its one fleet"
        );
        for plan in [full, quick, smoke] {
            assert!(
                plan.growth.windows(2).all(|w| w[0].towns < w[1].towns),
                "{:?}",
                plan.growth
            );
        }
    }

    #[test]
    fn only_chooses_scenarios_in_run_order() {
        assert_eq!(Scenario::normalize(&[]), Scenario::ALL);
        assert_eq!(
            Scenario::normalize(&[Scenario::Growth, Scenario::Fleets, Scenario::Growth]),
            [Scenario::Fleets, Scenario::Growth]
        );
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["fleets", "serve", "churn", "growth"]);
        for scenario in Scenario::ALL {
            let parsed = <Scenario as clap::ValueEnum>::from_str(scenario.name(), false);
            assert_eq!(parsed, Ok(scenario));
            assert_eq!(
                serde_json::to_value(scenario).unwrap(),
                scenario.name(),
                "the JSON names scenarios as --only does"
            );
        }
    }
}
