//! Convergence and idle cost of one fleet (and, with the operator in a child
//! process, its footprint).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use beads_testd::Personality;
use gastown_api::gastown::BeadsProtocol;
use serde::Serialize;

use super::env::{Env, TownSpec, protocol_of};
use super::operator::{Footprint, Operator};
use super::plan::{FleetShape, Plan};
use super::stats::{self, MinimumWrites, Requests, Writes};

/// Polecats a benchmark rig allows (no polecats run while converging).
const MAX_POLECATS: i32 = 4;
/// Time the operator gets to start its watches before towns are applied.
pub const OPERATOR_STARTUP: Duration = Duration::from_secs(2);

/// Where the operator runs.
pub enum OperatorKind<'a> {
    InProcess,
    /// The operator binary at this path.
    Child(&'a std::path::Path),
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetResult {
    pub shape: FleetShape,
    /// The beads server the towns spoke to: `daemon` or `serve`.
    pub protocol: BeadsProtocol,
    pub operator_in_child: bool,
    pub convergence: Convergence,
    pub idle: IdleCost,
    pub footprint: Footprint,
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
}

/// Convergence and idle cost of `shape`, its towns reading beads from a test
/// server of `personality` (the bd daemon or `bd serve`).
pub async fn run(
    plan: &Plan,
    shape: FleetShape,
    personality: Personality,
    kind: OperatorKind<'_>,
) -> anyhow::Result<FleetResult> {
    let env = Env::start(personality).await?;
    if let Err(error) = env.seed(shape).await {
        env.shutdown().await;
        return Err(error);
    }
    let operator = match kind {
        OperatorKind::InProcess => Operator::in_process(env.client.clone(), env.testd.http_url()),
        OperatorKind::Child(binary) => {
            let kubeconfig = std::env::temp_dir()
                .join(format!("gastown-bench-{}.kubeconfig", std::process::id()));
            env.server
                .write_kubeconfig(&kubeconfig)
                .with_context(|| format!("cannot write {}", kubeconfig.display()))?;
            Operator::child(binary, &kubeconfig, &env.testd.http_url())?
        }
    };
    let operator_in_child = matches!(operator, Operator::Child(_));
    let outcome = measure(plan, shape, &env, &operator).await;
    let stopped = operator.stop().await;
    env.shutdown().await;
    let (convergence, idle, footprint) = outcome?;
    stopped?;
    Ok(FleetResult {
        shape,
        protocol: protocol_of(personality),
        operator_in_child,
        convergence,
        idle,
        footprint,
    })
}

async fn measure(
    plan: &Plan,
    shape: FleetShape,
    env: &Env,
    operator: &Operator,
) -> anyhow::Result<(Convergence, IdleCost, Footprint)> {
    tokio::time::sleep(OPERATOR_STARTUP).await;
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
    if let Err(error) = &converged {
        eprintln!("  {}: {error:#}", shape.label());
    }
    // Come to rest: trailing status writes of the last reconciles count too.
    tokio::time::sleep(plan.settle_time()).await;
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
    };
    Ok((convergence, idle, operator.footprint()?))
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
