//! `cargo xtask ci`: the one command CI runs. It installs what the tests need
//! and runs every check in the order that fails fastest.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run() -> anyhow::Result<()> {
    let root = crate::repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    step(
        "cargo fmt --check",
        Command::new(&cargo).args(["fmt", "--all", "--check"]),
    )?;
    step(
        "cargo clippy",
        Command::new(&cargo).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    println!("==> crdgen --check");
    crate::crdgen::run(true)?;
    require_kubectl()?;
    let helm_python = ensure_helm_sdk(&root)?;
    step(
        "cargo test",
        Command::new(&cargo)
            .current_dir(&root)
            .env("HELM_SDK_PYTHON", &helm_python)
            .args(["test", "--workspace", "--locked", "--no-fail-fast"]),
    )?;
    // The operator's beads-facing end-to-end tests once more, against the
    // test server's `bd serve` personality (the run above used the daemon).
    step(
        "cargo test (end-to-end, against bd serve)",
        Command::new(&cargo)
            .current_dir(&root)
            .env("GASTOWN_E2E_BEADS", "serve")
            .args([
                "test",
                "--locked",
                "--no-fail-fast",
                "-p",
                "gastown-operator",
            ])
            .args(SERVE_E2E.iter().flat_map(|test| ["--test", test])),
    )?;
    // The quick benchmark in this (debug) build: it checks that the harness
    // works end to end, operator child process included (the tests built
    // target/debug/gastown-operator); its figures are not the documented ones.
    println!("==> cargo xtask bench --quick --in-this-build");
    crate::bench::run(crate::bench::Options {
        json: Some(root.join("target/bench/ci-quick.json")),
        ..crate::bench::Options::in_this_build(crate::bench::Size::Quick)
    })?;
    Ok(())
}

/// The end-to-end suites that talk to beads, run against both servers.
const SERVE_E2E: &[&str] = &[
    "town_lifecycle",
    "beads_triggers",
    "pool",
    "rollout",
    "teardown",
    "kubectl_plugin",
];

/// Helm's own Go library, as bundled by the PyPI package `helm-sdkpy`, in a
/// virtualenv under `target/`. The package declares Python >= 3.12 but works
/// on the 3.11 these machines have, hence `--ignore-requires-python`.
/// Returns the virtualenv's python, which the Helm tests read from `HELM_SDK_PYTHON`.
/// Pinned, so that every CI run tests against the same Helm.
const HELM_SDKPY: &str = "0.1.32";
const CFFI: &str = "2.1.1";

fn ensure_helm_sdk(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target").join("helm-venv");
    let python = venv.join("bin").join("python");
    let check = format!(
        "import helm_sdkpy, importlib.metadata as m; assert m.version('helm-sdkpy') == '{HELM_SDKPY}'"
    );
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", &check])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ready {
        step(
            "python3 -m venv target/helm-venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
        step(
            "pip install helm-sdkpy",
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--ignore-requires-python",
                format!("helm-sdkpy=={HELM_SDKPY}").as_str(),
                format!("cffi=={CFFI}").as_str(),
            ]),
        )?;
    }
    Ok(python)
}

fn step(name: &str, cmd: &mut Command) -> anyhow::Result<()> {
    println!("==> {name}");
    let status = cmd
        .current_dir(crate::repo_root())
        .status()
        .with_context(|| format!("could not start {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

/// The kubectl-driven tests need the real kubectl, which every machine here has.
fn require_kubectl() -> anyhow::Result<()> {
    let out = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .context("kubectl is not on PATH; the kubectl-driven tests need it")?;
    if !out.status.success() {
        bail!("`kubectl version --client` failed");
    }
    Ok(())
}
