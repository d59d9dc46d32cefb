//! Convergence and idle cost of one fleet (and, with the operator in a child
//! process, its own footprint and CPU time by phase).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use beads_testd::Personality;
use gastown_api::gastown::BeadsProtocol;
use serde::Serialize;

use super::env::{Env, TownSpec, protocol_of};
use super::operator::{ChildProgram, Footprint, Operator};
use super::plan::{FleetShape, Plan};
use super::stats::{self, MinimumWrites, Requests, Writes};

/// Polecats a benchmark rig allows (no polecats run while converging).
const MAX_POLECATS: i32 = 4;
/// Time the operator gets to start its watches before towns are applied.
pub const OPERATOR_STARTUP: Duration = Duration::from_secs(2);

/// Where the operator runs.
pub enum OperatorKind<'a> {
    InProcess,
    /// A child process (the operator binary).
    Child(&'a ChildProgram),
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetResult {
    pub shape: FleetShape,
    /// The beads server the towns spoke to: `daemon` or `serve`.
    pub protocol: BeadsProtocol,
    pub operator_in_child: bool,
    pub convergence: Convergence,
    pub idle: IdleCost,
    /// After the idle window: the peak resident set and CPU time of the run.
    pub footprint: Footprint,
    /// Just before the first town was created, after the operator's start-up.
    pub startup: Footprint,
    /// The CPU time of [`FleetResult::footprint`] by phase.
    pub cpu: CpuPhases,
}

/// CPU seconds (user plus system) by phase of a fleet's run: the child
/// operator's own, or, in process, the whole benchmark process's (operator,
/// API server, workload simulation and beads server together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuPhases {
    /// From the operator's start until just before the first town's creation
    /// ([`OPERATOR_STARTUP`]: its watches start and its caches fill).
    pub startup: f64,
    /// From just before the first town's creation until every town is
    /// Running: the span of [`Convergence::seconds`].
    pub converging: f64,
    /// The settle time after that ([`Plan::settle_time`]): trailing status writes.
    pub settling: f64,
    /// The idle window ([`Plan::idle_window`]).
    pub idle: f64,
    /// Whether these are the operator's alone (a child process).
    pub operator_only: bool,
}

impl CpuPhases {
    /// The phases between readings of the CPU clock, taken at the operator's
    /// start, before the towns, when they are all Running, after settling
    /// and after the idle window.
    pub fn between(readings: [f64; 5], operator_only: bool) -> CpuPhases {
        let phase = |n: usize| (readings[n + 1] - readings[n]).max(0.0);
        CpuPhases {
            startup: phase(0),
            converging: phase(1),
            settling: phase(2),
            idle: phase(3),
            operator_only,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Convergence {
    /// From the first town's creation until every town is Running.
    pub seconds: f64,
    /// `None` when the towns did not all get there (see `running`).
    pub converged: bool,
    pub running: usize,
    /// The operator's writes until it came to rest (Running plus two syncs).
    pub writes: Writes,
    pub minimum: MinimumWrites,
    /// `writes.objects ÷ minimum.total()`.
    pub write_ratio: Option<f64>,
    /// `(writes.objects + writes.events) ÷ minimum.total()`: what Events add
    /// to the API server's load (goal ≤ 1.3).
    pub write_ratio_with_events: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdleCost {
    pub window_seconds: f64,
    pub syncs: u32,
    /// API requests by verb over the window.
    pub api_by_verb: BTreeMap<String, u64>,
    /// API requests by `verb resource` over the window.
    pub api_by_request: BTreeMap<String, u64>,
    pub api_writes: u64,
    /// GETs, and LISTs beyond one per WATCH.
    pub api_extra_reads: u64,
    /// Beads server requests by operation over the window (bd daemon
    /// operations such as `list`, or bd serve routes such as
    /// `GET /v0/beads/issues`).
    pub beads_by_operation: BTreeMap<String, u64>,
    /// Beads server requests (the event streams excluded, see
    /// [`stats::is_beads_stream`]) per town per sync.
    pub beads_per_town_per_sync: f64,
    /// CPU milliseconds over the window per town per sync
    /// ([`stats::cpu_ms_per_town_per_sync`] of [`CpuPhases::idle`]): the
    /// operator's own with the operator as a child, else the whole process's.
    pub cpu_ms_per_town_per_sync: f64,
}

/// Convergence and idle cost of `shape`, its towns reading beads from a test
/// server of `personality` (the bd daemon or `bd serve`).
pub async fn run(
    plan: &Plan,
    shape: FleetShape,
    personality: Personality,
    kind: OperatorKind<'_>,
) -> anyhow::Result<FleetResult> {
    let env = Env::start(personality, super::env::fleet_pods(shape)).await?;
    if let Err(error) = env.seed(shape).await {
        env.shutdown().await;
        return Err(error);
    }
    let kubeconfig =
        std::env::temp_dir().join(format!("gastown-bench-{}.kubeconfig", std::process::id()));
    let operator = match kind {
        OperatorKind::InProcess => Operator::in_process(env.client.clone(), env.testd.http_url()),
        OperatorKind::Child(program) => {
            let started = env
                .server
                .write_kubeconfig(&kubeconfig)
                .with_context(|| format!("cannot write {}", kubeconfig.display()))
                .and_then(|()| Operator::child(program, &kubeconfig, &env.testd.http_url()));
            match started {
                Ok(operator) => operator,
                Err(error) => {
                    env.shutdown().await;
                    return Err(error);
                }
            }
        }
    };
    let operator_in_child = matches!(operator, Operator::Child(_));
    let outcome = measure(plan, shape, &env, &operator).await;
    let stopped = operator.stop().await;
    env.shutdown().await;
    if operator_in_child {
        let _ = std::fs::remove_file(&kubeconfig);
    }
    let measured = outcome?;
    stopped?;
    Ok(FleetResult {
        shape,
        protocol: protocol_of(personality),
        operator_in_child,
        convergence: measured.convergence,
        idle: measured.idle,
        footprint: measured.footprint,
        startup: measured.startup,
        cpu: measured.cpu,
    })
}

/// What [`measure`] finds.
struct Measured {
    convergence: Convergence,
    idle: IdleCost,
    footprint: Footprint,
    startup: Footprint,
    cpu: CpuPhases,
}

async fn measure(
    plan: &Plan,
    shape: FleetShape,
    env: &Env,
    operator: &Operator,
) -> anyhow::Result<Measured> {
    // CPU clock readings: start, towns created, all Running, settled, idle over.
    let mut cpu = [0.0; 5];
    cpu[0] = operator.cpu_seconds()?;
    tokio::time::sleep(OPERATOR_STARTUP).await;
    let startup = operator.footprint()?;
    cpu[1] = startup.cpu_seconds;
    env.server.reset_requests();
    let started = Instant::now();
    let spec = TownSpec {
        sync_interval: plan.sync_interval,
        max_polecats: MAX_POLECATS,
        git_url: true,
    };
    let harness = env.apply_towns(shape, &spec).await?;
    let timeout = convergence_timeout(shape);
    let converged = env.wait_running(shape.towns, timeout).await;
    let seconds = started.elapsed().as_secs_f64();
    cpu[2] = operator.cpu_seconds()?;
    if let Err(error) = &converged {
        eprintln!("  {}: {error:#}", shape.label());
    }
    // Come to rest: trailing status writes of the last reconciles count too.
    tokio::time::sleep(plan.settle_time()).await;
    cpu[3] = operator.cpu_seconds()?;
    let writes = Writes::of(&snapshot(env), &harness);
    let minimum = env.minimum_writes().await?;
    let convergence = Convergence {
        seconds,
        converged: converged.is_ok(),
        running: env.towns_running().await?,
        write_ratio: minimum.ratio(writes.objects),
        write_ratio_with_events: minimum.ratio(writes.objects + writes.events),
        writes,
        minimum,
    };

    env.server.reset_requests();
    env.reset_bead_requests();
    tokio::time::sleep(plan.idle_window()).await;
    let footprint = operator.footprint()?;
    cpu[4] = footprint.cpu_seconds;
    let cpu = CpuPhases::between(cpu, footprint.operator_only);
    let api = snapshot(env);
    let beads = env.bead_requests().by_operation();
    let beads_by_operation: BTreeMap<String, u64> =
        beads.into_iter().map(|(op, t)| (op, t.requests)).collect();
    let idle = IdleCost {
        window_seconds: plan.idle_window().as_secs_f64(),
        syncs: plan.idle_syncs,
        api_by_verb: stats::by_verb(&api),
        api_by_request: api
            .iter()
            .map(|((verb, resource), n)| (format!("{verb} {resource}"), *n))
            .collect(),
        api_writes: Writes::of(&api, &Requests::new()).objects
            + Writes::of(&api, &Requests::new()).events,
        api_extra_reads: stats::extra_reads(&api),
        beads_per_town_per_sync: stats::beads_per_town_per_sync(
            &beads_by_operation,
            shape.towns,
            plan.idle_syncs,
        ),
        beads_by_operation,
        cpu_ms_per_town_per_sync: stats::cpu_ms_per_town_per_sync(
            cpu.idle,
            shape.towns,
            plan.idle_syncs,
        ),
    };
    Ok(Measured {
        convergence,
        idle,
        footprint,
        startup,
        cpu,
    })
}

fn snapshot(env: &Env) -> Requests {
    env.server
        .requests()
        .iter()
        .map(|(key, n)| (key.clone(), *n))
        .collect()
}

/// Generous: a second per rig on top of a minute.
fn convergence_timeout(shape: FleetShape) -> Duration {
    Duration::from_secs(60 + shape.total_rigs() as u64)
}

#[cfg(test)]
impl FleetResult {
    /// A result with the given convergence seconds and nothing else of note
    /// (for the tests of what reads results).
    pub fn example(shape: FleetShape, protocol: BeadsProtocol, seconds: f64) -> FleetResult {
        let footprint = Footprint {
            peak_rss_mib: 1.0,
            cpu_seconds: 1.0,
            operator_only: false,
        };
        FleetResult {
            shape,
            protocol,
            operator_in_child: false,
            convergence: Convergence {
                seconds,
                converged: true,
                running: shape.towns,
                writes: Writes::default(),
                minimum: MinimumWrites::default(),
                write_ratio: None,
                write_ratio_with_events: None,
            },
            idle: IdleCost {
                window_seconds: 1.0,
                syncs: 1,
                api_by_verb: Default::default(),
                api_by_request: Default::default(),
                api_writes: 0,
                api_extra_reads: 0,
                beads_by_operation: Default::default(),
                beads_per_town_per_sync: 0.0,
                cpu_ms_per_town_per_sync: 0.0,
            },
            footprint,
            startup: footprint,
            cpu: CpuPhases::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_phases_are_the_differences_of_the_readings() {
        let phases = CpuPhases::between([0.0, 0.5, 3.5, 4.0, 4.25], true);
        assert_eq!(
            phases,
            CpuPhases {
                startup: 0.5,
                converging: 3.0,
                settling: 0.5,
                idle: 0.25,
                operator_only: true,
            }
        );
        // A clock read out of order (it cannot go back) gives no negative phase.
        assert_eq!(
            CpuPhases::between([1.0, 0.9, 2.0, 2.0, 2.0], false).startup,
            0.0
        );
    }
}
