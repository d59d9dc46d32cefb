//! `cargo xtask bench`: convergence, API cost at rest, churn and footprint of
//! the operator against the embedded API server and the test beads server
//! (the bd daemon; the smallest fleet also against `bd serve`).
//!
//! ```text
//! bench ── (debug build?) cargo build --release, re-exec target/release/xtask bench
//!        └─ fleet::run per fleet   (in-process operator, bd daemon: convergence, idle cost)
//!           fleet::run smallest    (the same, bd serve: beads requests per town per sync)
//!           churn::run             (polecat spawns/completions from beads)
//!           fleet::run largest     (operator binary as a child: footprint)
//!           report → table, JSON, SVG
//! ```
//!
//! What each figure means is defined in docs/benchmarks.md and in `stats`.

mod churn;
mod env;
mod fleet;
mod operator;
mod plan;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use beads_testd::Personality;

pub use plan::Size;

use fleet::OperatorKind;
use plan::Plan;
use report::{Machine, Report};

pub struct Options {
    pub size: Size,
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
    let report = tokio::runtime::Runtime::new()?.block_on(measure(plan))?;
    print!("{}", report.table());
    let json = options.json.unwrap_or_else(|| {
        crate::repo_root().join("target/bench").join(format!(
            "{}.json",
            serde_json::to_value(options.size)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("bench")
        ))
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

async fn measure(plan: Plan) -> anyhow::Result<Report> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let machine = Machine::current();
    eprintln!(
        "bench ({:?}, {} build): {} CPUs, {:.0} GiB",
        plan.size, machine.profile, machine.cpus, machine.memory_gib
    );
    // A failed scenario is reported, and the others still run.
    let mut failures = Vec::new();
    let mut fleets = Vec::new();
    for shape in &plan.fleets {
        eprintln!("fleet {}: convergence and idle cost", shape.label());
        match fleet::run(&plan, *shape, Personality::Daemon, OperatorKind::InProcess).await {
            Ok(result) => fleets.push(result),
            Err(error) => failures.push(format!("fleet {}: {error:#}", shape.label())),
        }
    }
    // The smallest fleet again with its towns on `bd serve`: what a sync
    // costs the beads server under either protocol.
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
    eprintln!("churn: {} polecats", plan.churn.spawns);
    let churn = churn::run(&plan)
        .await
        .map_err(|error| failures.push(format!("churn: {error:#}")))
        .ok();
    let mut footprint = None;
    if plan.footprint_in_child {
        let largest = plan.largest();
        let binary = operator::sibling_binary()?;
        eprintln!(
            "fleet {}: footprint of {}",
            largest.label(),
            binary.display()
        );
        match fleet::run(
            &plan,
            largest,
            Personality::Daemon,
            OperatorKind::Child(&binary),
        )
        .await
        {
            Ok(result) => footprint = Some(result),
            Err(error) => failures.push(format!("footprint {}: {error:#}", largest.label())),
        }
    }
    for failure in &failures {
        eprintln!("FAILED {failure}");
    }
    Ok(Report {
        plan,
        machine,
        fleets,
        churn,
        footprint,
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
    #[test]
    fn the_smoke_run_measures_every_scenario() {
        let report = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(measure(Plan::new(Size::Smoke)))
            .expect("the smoke benchmark runs");
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
        assert!(report.table().contains("1×1×0"));
        assert!(report.table().contains("1×1×0 (bd serve)"));
        assert!(report.svg().starts_with("<svg"));
    }
}
