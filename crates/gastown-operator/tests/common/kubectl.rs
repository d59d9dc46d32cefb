//! The real `kubectl`, as a user runs it against a test server.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Kubectl {
    binary: String,
    pub kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// kubectl (or `$KUBECTL`) with a kubeconfig and cache in `dir`; `None`,
    /// with a printed reason, when there is none to run.
    pub fn find(dir: &Path) -> Option<Kubectl> {
        let binary = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
        let found = std::process::Command::new(&binary)
            .args(["version", "--client"])
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            eprintln!("skipped: no {binary} on PATH");
            return None;
        }
        Some(Kubectl {
            binary,
            kubeconfig: dir.join("kubeconfig"),
            cache: dir.join("kubectl-cache"),
        })
    }

    /// Runs kubectl; panics with its stderr when it fails.
    pub async fn run(&self, args: &[&str]) -> String {
        let output = self.output(args).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs kubectl and returns its output whatever its exit status (for
    /// commands whose status is the answer, such as `kubectl diff`).
    pub async fn output(&self, args: &[&str]) -> std::process::Output {
        tokio::time::timeout(
            Duration::from_secs(90),
            tokio::process::Command::new(&self.binary)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .arg("--cache-dir")
                .arg(&self.cache)
                .args(args)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within 90 s"))
        .expect("kubectl runs")
    }

    /// Runs `kubectl ARGS` as a user of this kubeconfig would (KUBECONFIG,
    /// no flags of ours first: kubectl finds a plugin only by the words that
    /// begin its arguments), with `plugins` first on PATH and `env` set.
    pub async fn as_user(
        &self,
        plugins: &Path,
        env: &[(&str, &OsStr)],
        args: &[&str],
    ) -> std::process::Output {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(plugins.to_path_buf()).chain(std::env::split_paths(&path)),
        )
        .expect("a PATH");
        tokio::time::timeout(
            Duration::from_secs(90),
            tokio::process::Command::new(&self.binary)
                .args(args)
                .env("PATH", path)
                .env("KUBECONFIG", &self.kubeconfig)
                .envs(env.iter().copied())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within 90 s"))
        .expect("kubectl runs")
    }
}
