//! `cargo xtask bench`: convergence, API cost at rest, churn, and the growth
//! of the operator's cost with the fleet, against the embedded API server and
//! the test beads server (the bd daemon; some fleets also against `bd serve`).
//!
//! ```text
//! bench ── (debug build?) cargo build --release, re-exec target/release/xtask bench
//!        └─ fleets: fleet::run per fleet  (in-process operator, bd daemon: convergence, idle cost)
//!           serve:  fleet::run smallest   (the same, bd serve: beads requests per town per sync)
//!                   fleet::run serve_child (bd serve, operator binary as a child: idle CPU)
//!           churn:  churn::run            (polecat spawns/completions from beads)
//!           growth: growth::run           (operator binary as a child, 10 → 300 towns:
//!                                          seconds, CPU and memory, and per town)
//!           report → table, JSON, SVG
//! ```
//!
//! `--only` runs some of the scenarios. What each figure means is defined in
//! docs/benchmarks.md and in `stats`.

mod churn;
mod env;
mod fleet;
mod growth;
mod operator;
mod plan;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use beads_testd::Personality;

pub use plan::{Scenario, Size};

use fleet::OperatorKind;
use operator::ChildProgram;
use plan::Plan;
use report::{Machine, Report};

pub struct Options {
    pub size: Size,
    /// The scenarios to run (`--only`); empty runs every one.
    pub only: Vec<Scenario>,
    /// Where the JSON goes (default: target/bench/<size>.json).
    pub json: Option<PathBuf>,
    /// Where the SVG plot goes (default: next to the JSON).
    pub svg: Option<PathBuf>,
    /// Run in this build even when it is a debug build (the harness smoke test).
    pub in_this_build: bool,
}

impl Options {
    /// The smoke plan, in whatever build runs it (the harness test).
    pub fn smoke() -> Options {
        Options::in_this_build(Size::Smoke)
    }

    /// A run in whatever build runs it, debug or release: a harness check
    /// (CI runs the quick plan so), not figures to publish.
    pub fn in_this_build(size: Size) -> Options {
        Options {
            in_this_build: true,
            ..Options::release(size)
        }
    }

    /// A run of the release build (re-executed as one when this is a debug build).
    pub fn release(size: Size) -> Options {
        Options {
            size,
            only: Vec::new(),
            json: None,
            svg: None,
            in_this_build: false,
        }
    }
}

pub fn run(options: Options) -> anyhow::Result<()> {
    if cfg!(debug_assertions) && !options.in_this_build {
        return reexec_release(&options);
    }
    let plan = Plan::new(options.size);
    let scenarios = Scenario::normalize(&options.only);
    let child = ChildProgram::sibling_binary().map_err(|error| format!("{error:#}"));
    let report = tokio::runtime::Runtime::new()?.block_on(measure(plan, &scenarios, child))?;
    print!("{}", report.table());
    let json = options.json.unwrap_or_else(|| {
        crate::repo_root()
            .join("target/bench")
            .join(default_json_name(options.size, &scenarios))
    });
    let svg = options.svg.unwrap_or_else(|| json.with_extension("svg"));
    write(&json, &serde_json::to_string_pretty(&report)?)?;
    write(&svg, &report.svg())?;
    println!("\nJSON: {}\nplot: {}", json.display(), svg.display());
    if !report.failures.is_empty() {
        bail!("{} scenario(s) failed (see above)", report.failures.len());
    }
    Ok(())
}

/// `full.json`, or for some of the scenarios `full-growth.json`, so that a
/// partial run does not overwrite a whole one's results.
fn default_json_name(size: Size, scenarios: &[Scenario]) -> String {
    let size = serde_json::to_value(size).unwrap_or_default();
    let mut name = size.as_str().unwrap_or("bench").to_string();
    if Scenario::normalize(scenarios) != Scenario::ALL {
        for scenario in Scenario::normalize(scenarios) {
            name.push('-');
            name.push_str(scenario.name());
        }
    }
    name + ".json"
}

/// Runs `scenarios` of `plan`; `child` is what runs as the operator child
/// process (or why there is none: then the scenarios that need it fail).
async fn measure(
    plan: Plan,
    scenarios: &[Scenario],
    child: Result<ChildProgram, String>,
) -> anyhow::Result<Report> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let machine = Machine::current();
    let scenarios = Scenario::normalize(scenarios);
    let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
    eprintln!(
        "bench ({:?}, {} build; {}): {} CPUs, {:.0} GiB",
        plan.size,
        machine.profile,
        names.join(", "),
        machine.cpus,
        machine.memory_gib
    );
    let runs = |scenario| scenarios.contains(&scenario);
    // A failed scenario is reported, and the others still run.
    let mut failures = Vec::new();
    let mut fleets = Vec::new();
    if runs(Scenario::Fleets) {
        for shape in &plan.fleets {
            eprintln!("fleet {}: convergence and idle cost", shape.label());
            match fleet::run(&plan, *shape, Personality::Daemon, OperatorKind::InProcess).await {
                Ok(result) => fleets.push(result),
                Err(error) => failures.push(format!("fleet {}: {error:#}", shape.label())),
            }
        }
    }
    // The smallest fleet again with its towns on `bd serve`: what a sync
    // costs the beads server under either protocol; then a modest fleet on
    // bd serve with the operator as a child: what a sync costs the operator.
    if runs(Scenario::Serve) {
        if let Some(smallest) = plan.fleets.first() {
            eprintln!(
                "fleet {} (bd serve): convergence and idle cost",
                smallest.label()
            );
            match fleet::run(
                &plan,
                *smallest,
                Personality::Serve,
                OperatorKind::InProcess,
            )
            .await
            {
                Ok(result) => fleets.push(result),
                Err(error) => {
                    failures.push(format!("fleet {} (bd serve): {error:#}", smallest.label()))
                }
            }
        }
        let shape = plan.serve_child;
        match &child {
            Ok(program) => {
                eprintln!(
                    "fleet {} (bd serve): idle cost of the operator as a child",
                    shape.label()
                );
                match fleet::run(
                    &plan,
                    shape,
                    Personality::Serve,
                    OperatorKind::Child(program),
                )
                .await
                {
                    Ok(result) => fleets.push(result),
                    Err(error) => failures.push(format!(
                        "fleet {} (bd serve, child): {error:#}",
                        shape.label()
                    )),
                }
            }
            Err(why) => failures.push(format!("fleet {} (bd serve, child): {why}", shape.label())),
        }
    }
    let churn = if runs(Scenario::Churn) {
        eprintln!("churn: {} polecats", plan.churn.spawns);
        churn::run(&plan)
            .await
            .map_err(|error| failures.push(format!("churn: {error:#}")))
            .ok()
    } else {
        None
    };
    let mut growth = Vec::new();
    if runs(Scenario::Growth) {
        match &child {
            Ok(program) => {
                let (steps, failed) = growth::run(&plan, program).await;
                growth = steps;
                failures.extend(failed);
            }
            Err(why) => failures.push(format!("growth: {why}")),
        }
    }
    for failure in &failures {
        eprintln!("FAILED {failure}");
    }
    Ok(Report {
        plan,
        scenarios,
        machine,
        fleets,
        churn,
        growth,
        failures,
    })
}

/// Builds the release xtask and operator binaries and runs the benchmark there.
fn reexec_release(options: &Options) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(crate::repo_root())
        .args([
            "build",
            "--release",
            "-p",
            "xtask",
            "-p",
            "gastown-operator",
        ])
        .status()
        .context("cannot run cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::repo_root().join("target"), PathBuf::from);
    let mut command = Command::new(target.join("release/xtask"));
    command.arg("bench");
    match options.size {
        Size::Quick => {
            command.arg("--quick");
        }
        Size::Smoke => {
            command.arg("--smoke");
        }
        Size::Full => {}
    }
    let scenarios = Scenario::normalize(&options.only);
    if scenarios != Scenario::ALL {
        let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
        command.arg("--only").arg(names.join(","));
    }
    if let Some(json) = &options.json {
        command.arg("--json").arg(json);
    }
    if let Some(svg) = &options.svg {
        command.arg("--svg").arg(svg);
    }
    let status = command.status().context("cannot run the release xtask")?;
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole harness on the smoke plan: every scenario produces figures.
    /// The operator child process is this test executable running the
    /// operator library (`operator::tests::operator_child`), so that no
    /// operator binary needs building first.
    #[test]
    fn the_smoke_run_measures_every_scenario() {
        let report = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(measure(
                Plan::new(Size::Smoke),
                &[],
                Ok(ChildProgram::ThisTest),
            ))
            .expect("the smoke benchmark runs");
        assert_eq!(report.scenarios, Scenario::ALL);
        let fleet = report.fleets.first().expect("the fleet ran");
        assert_eq!(fleet.protocol, gastown_api::gastown::BeadsProtocol::Daemon);
        assert!(fleet.convergence.converged, "{:?}", fleet.convergence);
        assert!(fleet.convergence.minimum.total() > 0);
        assert!(fleet.convergence.writes.objects >= fleet.convergence.minimum.objects_created);
        assert!(fleet.idle.api_by_verb.contains_key("watch") || fleet.idle.api_by_verb.is_empty());
        assert!(fleet.footprint.peak_rss_mib > 0.0);
        // Each town has its own daemon tenant; requests to all of them count.
        assert!(
            fleet.idle.beads_per_town_per_sync > 0.0,
            "{:?}",
            fleet.idle.beads_by_operation
        );
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        // The smallest fleet again on bd serve: it converges, and its syncs
        // ask bd serve's routes, not the daemon's.
        let serve = report
            .fleets
            .iter()
            .find(|f| f.protocol == gastown_api::gastown::BeadsProtocol::Serve)
            .expect("the bd serve fleet ran");
        assert_eq!(serve.shape, Plan::new(Size::Smoke).fleets[0]);
        assert!(serve.convergence.converged, "{:?}", serve.convergence);
        assert!(
            serve.idle.beads_per_town_per_sync > 0.0,
            "{:?}",
            serve.idle.beads_by_operation
        );
        assert!(
            serve
                .idle
                .beads_by_operation
                .keys()
                .all(|op| op.starts_with("GET ")
                    || op.starts_with("POST ")
                    || op.starts_with("PATCH ")),
            "{:?}",
            serve.idle.beads_by_operation
        );
        assert!(
            serve
                .idle
                .beads_by_operation
                .contains_key(beads_testd::serve_op::LIST),
            "{:?}",
            serve.idle.beads_by_operation
        );
        // Churn runs; whether every polecat got its pod is a figure of the
        // operator (see docs/benchmarks.md), not of the harness.
        let churn = report.churn.as_ref().expect("churn ran");
        assert!(churn.pods_deleted <= churn.pods_created);
        // The growth series: one step, the operator a child process whose
        // own time and memory are measured, and each figure per town.
        let [step] = report.growth.as_slice() else {
            panic!("one growth step: {:?}", report.growth)
        };
        let child = &step.fleet;
        assert_eq!(child.shape, Plan::new(Size::Smoke).growth[0]);
        assert!(child.operator_in_child && child.footprint.operator_only);
        assert!(child.cpu.operator_only);
        assert!(child.convergence.converged, "{:?}", child.convergence);
        assert!(child.convergence.seconds > 0.0);
        assert!(child.startup.peak_rss_mib > 0.0, "{:?}", child.startup);
        assert!(child.footprint.peak_rss_mib >= child.startup.peak_rss_mib);
        assert!(child.cpu.converging > 0.0, "{:?}", child.cpu);
        assert!(child.cpu.idle > 0.0, "{:?}", child.cpu);
        // The phases add up to the CPU time the child used in all.
        let phases = child.cpu.startup + child.cpu.converging + child.cpu.settling + child.cpu.idle;
        assert!(
            (phases - child.footprint.cpu_seconds).abs() < 0.05,
            "{:?} {:?}",
            child.cpu,
            child.footprint
        );
        let per_town = step.per_town;
        assert!(per_town.converge_seconds > 0.0, "{per_town:?}");
        assert!(per_town.cpu_seconds > 0.0, "{per_town:?}");
        assert!(per_town.peak_rss_mib > 0.0, "{per_town:?}");
        assert!(per_town.idle_cpu_ms_per_sync > 0.0, "{per_town:?}");
        assert!(child.idle.beads_per_town_per_sync > 0.0);
        // The idle cost as CPU under bd serve: a child run too.
        let serve_child = report
            .fleets
            .iter()
            .find(|f| {
                f.protocol == gastown_api::gastown::BeadsProtocol::Serve && f.operator_in_child
            })
            .expect("the bd serve child ran");
        assert_eq!(serve_child.shape, Plan::new(Size::Smoke).serve_child);
        assert!(
            serve_child.convergence.converged,
            "{:?}",
            serve_child.convergence
        );
        assert!(
            serve_child.idle.cpu_ms_per_town_per_sync > 0.0,
            "{:?}",
            serve_child.cpu
        );
        assert!(serve_child.idle.beads_per_town_per_sync > 0.0);
        assert!(
            serve_child
                .idle
                .beads_by_operation
                .contains_key(beads_testd::serve_op::LIST),
            "{:?}",
            serve_child.idle.beads_by_operation
        );
        let table = report.table();
        assert!(table.contains("1×1×0"));
        assert!(table.contains("1×1×0 (bd serve)"));
        assert!(table.contains("1×1×0 (bd serve) (child)"), "{table}");
        assert!(table.contains("| growth (child) "), "{table}");
        let svg = report.svg();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
    }

    /// `--only` runs what it names and nothing else; a scenario that needs
    /// the operator binary fails, naming why, when there is none.
    #[test]
    fn only_the_chosen_scenarios_run() {
        let report = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(measure(
                Plan::new(Size::Smoke),
                &[Scenario::Growth],
                Err("no operator binary".into()),
            ))
            .expect("the run reports");
        assert_eq!(report.scenarios, [Scenario::Growth]);
        assert!(report.fleets.is_empty() && report.churn.is_none());
        assert!(report.growth.is_empty());
        assert_eq!(report.failures, ["growth: no operator binary"]);
    }

    #[test]
    fn a_partial_run_writes_its_own_json() {
        assert_eq!(default_json_name(Size::Full, &[]), "full.json");
        assert_eq!(default_json_name(Size::Quick, &Scenario::ALL), "quick.json");
        assert_eq!(
            default_json_name(Size::Full, &[Scenario::Growth, Scenario::Fleets]),
            "full-fleets-growth.json"
        );
    }
}
