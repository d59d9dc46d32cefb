//! The operator under test: in this process (its release build, when the
//! benchmark runs as `cargo xtask bench`), or the operator binary as a child
//! process, whose memory and CPU time are its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use gastown_operator::context::Settings;
use gastown_operator::runtime::{Runtime, RuntimeConfig, RuntimeError};
use kube::Client;
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a stopping operator may take before the benchmark gives up on it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Peak memory and CPU time of a process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Footprint {
    /// `VmHWM`: the peak resident set.
    pub peak_rss_mib: f64,
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    /// Whether this is the operator alone (a child process) or the whole
    /// benchmark process (operator, API server and daemon together).
    pub operator_only: bool,
}

pub enum Operator {
    InProcess {
        stop: CancellationToken,
        task: JoinHandle<Result<(), RuntimeError>>,
    },
    Child(Child),
}

impl Operator {
    /// Starts the operator in this process, every town reading beads from `daemon_url`.
    pub fn in_process(client: Client, daemon_url: String) -> Operator {
        let runtime = Runtime::new(RuntimeConfig {
            settings: Settings {
                daemon_override: Some(daemon_url),
                ..Settings::default()
            },
            ..RuntimeConfig::default()
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(runtime.run(client, stop.clone()));
        Operator::InProcess { stop, task }
    }

    /// Starts `program` against the cluster of `kubeconfig`.
    ///
    /// `GASTOWN_BENCH_OPERATOR_WRAPPER` (say `heaptrack -o /tmp/operator`)
    /// runs the program under that command instead, for profiling; the
    /// footprint is then the wrapper's.
    pub fn child(
        program: &ChildProgram,
        kubeconfig: &Path,
        daemon_url: &str,
    ) -> anyhow::Result<Operator> {
        let wrapper = std::env::var("GASTOWN_BENCH_OPERATOR_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let executable = program.executable()?;
        let mut command = match words.next() {
            Some(wrapper) => {
                let mut command = Command::new(wrapper);
                command.args(words).arg(&executable);
                command
            }
            None => Command::new(&executable),
        };
        match program {
            ChildProgram::Binary(_) => {
                command
                    .arg("run")
                    .arg("--kubeconfig")
                    .arg(kubeconfig)
                    .args(["--daemon-host", daemon_url])
                    .args(["--metrics-addr", "127.0.0.1:0"])
                    .args(["--leader-election", "false"])
                    .args(["--log-level", "error"]);
            }
            #[cfg(test)]
            ChildProgram::ThisTest => {
                command
                    .args(["--exact", tests::CHILD_TEST, "--ignored", "--nocapture"])
                    .env(tests::CHILD_KUBECONFIG, kubeconfig)
                    .env(tests::CHILD_DAEMON, daemon_url);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", executable.display()))?;
        Ok(Operator::Child(child))
    }

    /// CPU time so far: the child's, or this whole process's.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        match self {
            Operator::InProcess { .. } => Ok(self_cpu_seconds()),
            Operator::Child(child) => {
                child_cpu_seconds(child.id().context("the operator process has exited")?)
            }
        }
    }

    /// The footprint so far: the child's, or this whole process's.
    pub fn footprint(&self) -> anyhow::Result<Footprint> {
        match self {
            Operator::InProcess { .. } => Ok(Footprint {
                peak_rss_mib: peak_rss_mib("self")?,
                cpu_seconds: self_cpu_seconds(),
                operator_only: false,
            }),
            Operator::Child(child) => {
                let pid = child.id().context("the operator process has exited")?;
                Ok(Footprint {
                    peak_rss_mib: peak_rss_mib(&pid.to_string())?,
                    cpu_seconds: child_cpu_seconds(pid)?,
                    operator_only: true,
                })
            }
        }
    }

    /// Stops the operator (SIGTERM for a child) and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self {
            Operator::InProcess { stop, task } => {
                stop.cancel();
                match tokio::time::timeout(STOP_TIMEOUT, task).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(error))) => Err(error).context("the operator failed"),
                    Ok(Err(panic)) => bail!("the operator panicked: {panic}"),
                    Err(_) => bail!("the operator did not stop within {STOP_TIMEOUT:?}"),
                }
            }
            Operator::Child(mut child) => {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) on the pid of a child we have not reaped yet.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
                    Ok(status) => {
                        let status = status?;
                        if !status.success() {
                            bail!("the operator process exited with {status}");
                        }
                        Ok(())
                    }
                    Err(_) => {
                        child.kill().await?;
                        bail!("the operator process did not stop within {STOP_TIMEOUT:?}")
                    }
                }
            }
        }
    }
}

/// What runs as the operator's child process.
#[derive(Clone, Debug)]
pub enum ChildProgram {
    /// `gastown-operator run …`: the operator binary.
    Binary(PathBuf),
    /// This test executable, running the operator library as
    /// `gastown-operator run` would (see `tests::operator_child`): the
    /// smoke test's child, which needs no operator binary built beside it.
    #[cfg(test)]
    ThisTest,
}

impl ChildProgram {
    /// The operator binary next to this executable (both in target/<profile>/).
    pub fn sibling_binary() -> anyhow::Result<ChildProgram> {
        let me = std::env::current_exe()?;
        let binary = me.with_file_name("gastown-operator");
        if !binary.exists() {
            bail!(
                "{} does not exist: build it with `cargo build --release -p gastown-operator`",
                binary.display()
            );
        }
        Ok(ChildProgram::Binary(binary))
    }

    fn executable(&self) -> anyhow::Result<PathBuf> {
        match self {
            ChildProgram::Binary(binary) => Ok(binary.clone()),
            #[cfg(test)]
            ChildProgram::ThisTest => Ok(std::env::current_exe()?),
        }
    }
}

/// `VmHWM` of `/proc/<pid>/status`, in MiB.
fn peak_rss_mib(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_vm_hwm_kib(&status)
        .map(|kib| kib as f64 / 1024.0)
        .with_context(|| format!("{path} has no VmHWM line"))
}

fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of process `pid` (every thread, exited ones
/// included), in seconds: its CPU-time clock (`clock_getcpuclockid`), which
/// counts nanoseconds, or else utime + stime of `/proc/<pid>/stat`, which
/// count clock ticks (10 ms) — too coarse for the idle cost of a small fleet.
fn child_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    match cpu_clock_seconds(pid) {
        Some(seconds) => Ok(seconds),
        None => stat_cpu_seconds(pid),
    }
}

fn cpu_clock_seconds(pid: u32) -> Option<f64> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls write only into the locals we pass.
    let time = unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0 {
            return None;
        }
        let mut time: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut time) != 0 {
            return None;
        }
        time
    };
    Some(time.tv_sec as f64 + time.tv_nsec as f64 / 1e9)
}

/// utime + stime of `/proc/<pid>/stat`, in seconds.
fn stat_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let ticks = parse_cpu_ticks(&stat).with_context(|| format!("{path} is not a stat line"))?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    Ok(ticks as f64 / per_second as f64)
}

/// Fields 14 and 15 (utime, stime) of a stat line; the command name in
/// parentheses may contain spaces, so fields are counted after its `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field N is index N - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The test that runs as the operator child of [`ChildProgram::ThisTest`].
    pub const CHILD_TEST: &str = "bench::operator::tests::operator_child";
    /// The kubeconfig the child operator reads; unset, the test does nothing.
    pub const CHILD_KUBECONFIG: &str = "GASTOWN_BENCH_CHILD_KUBECONFIG";
    /// The bd daemon URL of every town (`--daemon-host`).
    pub const CHILD_DAEMON: &str = "GASTOWN_BENCH_CHILD_DAEMON";

    /// The smoke benchmark's operator child: the operator library, configured
    /// as `gastown-operator run --daemon-host … --leader-election false`
    /// configures it, until SIGTERM. Started by the benchmark (`cargo test`
    /// ignores it; run without the environment variables, it returns at once).
    #[test]
    #[ignore = "the smoke benchmark's operator child process, not a test"]
    fn operator_child() {
        let Some(kubeconfig) = std::env::var_os(CHILD_KUBECONFIG) else {
            return;
        };
        let daemon = std::env::var(CHILD_DAEMON).expect("the daemon URL is set");
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
                let options = kube::config::KubeConfigOptions::default();
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
                let client = Client::try_from(config)?;
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                let operator = Operator::in_process(client, daemon);
                terminate.recv().await;
                operator.stop().await?;
                anyhow::Ok(())
            })
            .expect("the operator child ran");
    }

    #[test]
    fn reads_the_peak_resident_set() {
        let status = "Name:\tgastown-operator\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(51200));
        assert_eq!(parse_vm_hwm_kib("Name:\tx\n"), None);
        assert!(peak_rss_mib("self").unwrap() > 0.0);
    }

    #[test]
    fn reads_cpu_ticks_after_a_name_with_spaces() {
        let stat = "4242 (tokio (worker) 1) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 8 0";
        assert_eq!(parse_cpu_ticks(stat), Some(175));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_cpu_ticks(&own).is_some());
    }

    #[test]
    fn reads_a_process_cpu_clock_in_nanoseconds() {
        // Burn a little CPU so that the clock has moved past a tick.
        let mut x = 0u64;
        for n in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(n));
        }
        let pid = std::process::id();
        let clock = cpu_clock_seconds(pid).expect("Linux has process CPU clocks");
        let stat = stat_cpu_seconds(pid).unwrap();
        assert!(clock > 0.0);
        // The same time, the clock read later and more finely than the ticks.
        assert!(clock + 0.05 >= stat, "clock {clock} stat {stat}");
        assert!(child_cpu_seconds(pid).unwrap() >= clock);
    }
}
