//! The real `kubectl`, pointed at one server with its own kubeconfig, cache
//! directory and HOME. Tests skip (saying why) only when kubectl is missing.

use embedded_apiserver::EmbeddedApiServer;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// No single kubectl invocation may take longer than this.
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The outcome of one kubectl run.
#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

pub struct Kubectl {
    binary: String,
    dir: TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// `None` (after saying why) when kubectl is not installed.
    pub fn for_server(server: &EmbeddedApiServer) -> Option<Self> {
        let binary = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
        let installed = std::process::Command::new(&binary)
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            eprintln!("skipped: no {binary} on PATH");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        server
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        Some(Kubectl {
            binary,
            dir,
            kubeconfig,
        })
    }

    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=30s")
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kubectl starts");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .await
                .expect("stdin written");
        }
        let output = tokio::time::timeout(INVOCATION_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!("kubectl {args:?} did not finish within {INVOCATION_TIMEOUT:?}")
            })
            .expect("kubectl ran");
        Outcome {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs kubectl and returns its output, failing the test if kubectl fails.
    pub async fn ok(&self, args: &[&str]) -> String {
        let outcome = self.run(args, None).await;
        assert!(outcome.success, "kubectl {args:?} failed: {outcome:#?}");
        outcome.stdout
    }
}

impl Kubectl {
    /// `kubectl apply -f -` of `manifest`, which must succeed.
    pub async fn apply_ok(&self, manifest: &str) -> String {
        self.apply_ok_with(manifest, &[]).await
    }

    /// `kubectl apply -f -` (plus `extra` flags) of `manifest`.
    pub async fn apply_with(&self, manifest: &str, extra: &[&str]) -> Outcome {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        self.run(&args, Some(manifest)).await
    }

    /// [`Kubectl::apply_with`], which must succeed.
    pub async fn apply_ok_with(&self, manifest: &str, extra: &[&str]) -> String {
        let outcome = self.apply_with(manifest, extra).await;
        assert!(
            outcome.success,
            "kubectl apply failed: {outcome:#?}\n{manifest}"
        );
        outcome.stdout
    }

    /// Starts a long-running kubectl (e.g. `get -w`) whose stdout the test reads.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl starts")
    }
}

/// The cells of the row whose first cell is `name` in `kubectl get` output.
pub fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"))
}

/// The column names of `kubectl get` output.
pub fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}
