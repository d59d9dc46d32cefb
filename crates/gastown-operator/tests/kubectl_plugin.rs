//! `kubectl gastown` through the real kubectl's plugin mechanism: the
//! operator's binary on PATH as `kubectl-gastown`, kubectl finds and runs it
//! with the user's environment (KUBECONFIG), against the embedded API server
//! with the operator and the test beads server running. `status` and
//! `agents` show beads' view as the operator projects it; `drain` stops new
//! polecats (a polecat beads spawns gets no pod, running ones keep theirs)
//! and `resume` starts them again. Skipped, with a printed reason, when no
//! kubectl is on PATH (`KUBECTL=/path/to/kubectl` picks another binary).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::kubectl::Kubectl;
use common::{CONVERGE, Harness, NAMESPACE, RIG, TOWN, converged_town, eventually, quiet_window};
use embedded_apiserver::{Config as ServerConfig, EmbeddedApiServer};
use gastown_api::Rig;
use gastown_operator::naming;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::Value;

const RIG_OBJECT: &str = "minimal-gastown";

fn pod_name(polecat: &str) -> String {
    format!("gt-{RIG}-polecat-{polecat}")
}

/// A directory holding the operator's binary as `kubectl-gastown`, and a
/// stand-in kubectl that prints what the plugin hands over to it.
fn plugin_dir(root: &Path) -> (PathBuf, PathBuf) {
    let bin = root.join("plugins");
    std::fs::create_dir_all(&bin).expect("a plugin directory");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_gastown-operator"),
        bin.join("kubectl-gastown"),
    )
    .expect("the plugin is linked");
    let echo = root.join("echo-kubectl");
    std::fs::write(&echo, "#!/bin/sh\necho \"$@\"\n").expect("a stand-in kubectl");
    let mut permissions = std::fs::metadata(&echo)
        .expect("its metadata")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&echo, permissions).expect("it is executable");
    (bin, echo)
}

struct User<'a> {
    kubectl: &'a Kubectl,
    plugins: PathBuf,
}

impl User<'_> {
    async fn output(&self, env: &[(&str, &OsStr)], args: &[&str]) -> Output {
        self.kubectl.as_user(&self.plugins, env, args).await
    }

    /// `kubectl gastown ARGS -n gastown`; panics with stderr when it fails.
    async fn gastown(&self, args: &[&str]) -> String {
        let mut line = vec!["gastown"];
        line.extend_from_slice(args);
        line.extend(["-n", NAMESPACE]);
        let output = self.output(&[], &line).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kubectl {line:?} failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut line = args.to_vec();
        line.extend(["-o", "json"]);
        let text = self.gastown(&line).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// The agent `name` as `agents -o json` shows it.
    async fn agent(&self, name: &str) -> Option<Value> {
        let agents = self.json(&["agents"]).await;
        agents
            .as_array()?
            .iter()
            .find(|agent| agent["name"] == name)
            .cloned()
    }
}

/// The cells of the line of `table` whose first cell (tree drawing aside) is `name`.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .filter(|cell| !["├─", "└─", "│"].contains(cell))
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first() == Some(&name))
        .unwrap_or_else(|| panic!("no line for {name} in\n{table}"))
}

fn condition<'a>(town: &'a Value, type_: &str) -> Option<&'a Value> {
    town["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gastown_shows_drains_and_resumes_a_town() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(kubectl) = Kubectl::find(dir.path()) else {
        return;
    };
    let (plugins, echo_kubectl) = plugin_dir(dir.path());
    let user = User {
        kubectl: &kubectl,
        plugins,
    };
    let mut harness = Harness::start().await;
    harness
        .server
        .write_kubeconfig(&kubectl.kubeconfig)
        .expect("the kubeconfig is written");

    // kubectl sees the plugin.
    let listed = user.output(&[], &["plugin", "list"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("kubectl-gastown"), "{listed}");

    // Before the town exists: one clear line.
    let missing = user
        .output(&[], &["gastown", "status", TOWN, "-n", NAMESPACE])
        .await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert_eq!(
        stderr.trim(),
        format!("error: GasTown \"{TOWN}\" not found in namespace {NAMESPACE} (it has none)")
    );

    harness.start_operator();
    converged_town(&harness).await;
    // beads' working polecat nux runs, its work on its hook.
    let nux = eventually("nux runs with its work hooked", CONVERGE, || async {
        let nux = user.agent(&format!("{RIG}/polecats/nux")).await?;
        (nux["phase"] == "Running" && nux["hook"].is_string()).then_some(nux)
    })
    .await;
    let hooked = nux["hook"].as_str().expect("a hooked bead").to_string();

    // status: the tree, then the town's conditions.
    let status = user.gastown(&["status", TOWN]).await;
    eprintln!("kubectl gastown status {TOWN}:\n{status}");
    assert_eq!(
        status
            .lines()
            .next()
            .map(|l| l.split_whitespace().collect()),
        Some(vec!["NAME", "ROLE", "PHASE", "STATE", "HOOK", "POD"]),
        "{status}"
    );
    assert_eq!(row(&status, TOWN), [TOWN, "town", "Running", "-", "-", "-"]);
    assert_eq!(
        row(&status, "mayor"),
        [
            "mayor",
            "mayor",
            "Running",
            "working",
            "-",
            &format!("gt-{TOWN}-mayor")
        ]
    );
    assert_eq!(row(&status, RIG), [RIG, "rig", "Running", "-", "-", "-"]);
    assert_eq!(
        row(&status, "gastown/polecats/nux"),
        [
            "gastown/polecats/nux",
            "polecat",
            "Running",
            "working",
            &hooked,
            &pod_name("nux")
        ]
    );
    // beads' crew, projected into the Rig's status, though the town runs none.
    assert_eq!(
        row(&status, "gastown/crew/max")[..4],
        ["gastown/crew/max", "crew", "-", "idle"]
    );
    // The witness's beads state, projected into its Rig's status.
    assert_eq!(
        row(&status, "gastown/witness")[..4],
        ["gastown/witness", "witness", "Running", "working"]
    );
    assert_eq!(
        row(&status, "CONDITION")[..3],
        ["CONDITION", "STATUS", "REASON"]
    );
    assert_eq!(row(&status, "Ready")[..3], ["Ready", "True", "AllReady"]);
    // The tree draws the rig's agents below it.
    assert!(
        status.contains(&format!("└─ {RIG}")) && status.contains("   ├─ gastown/witness"),
        "{status}"
    );

    // agents: one line per agent, filtered.
    let polecats = user.gastown(&["agents", "--role", "polecat"]).await;
    let lines: Vec<Vec<&str>> = polecats
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME", "TOWN", "RIG", "ROLE", "PHASE", "STATE", "HOOK", "POD"
        ]
    );
    assert!(
        lines[1..].iter().all(|cells| cells[3] == "polecat"),
        "{polecats}"
    );
    assert!(
        lines.contains(&vec![
            "gastown/polecats/nux",
            TOWN,
            RIG,
            "polecat",
            "Running",
            "working",
            &hooked,
            &pod_name("nux"),
        ]),
        "{polecats}"
    );
    let town_agents = user.gastown(&["agents", "--role", "mayor"]).await;
    assert_eq!(town_agents.lines().count(), 2, "{town_agents}");

    // logs and exec hand the agent's pod over to kubectl (KUBECTL: a
    // stand-in that prints its arguments; the API server serves no logs).
    let handed = user
        .output(
            &[("KUBECTL", echo_kubectl.as_os_str())],
            &["gastown", "logs", "nux", "-f", "-n", NAMESPACE],
        )
        .await;
    assert_eq!(
        String::from_utf8_lossy(&handed.stdout).trim(),
        format!("logs {} --follow --namespace {NAMESPACE}", pod_name("nux"))
    );
    let handed = user
        .output(
            &[("KUBECTL", echo_kubectl.as_os_str())],
            &[
                "gastown",
                "exec",
                "gastown/polecats/nux",
                "-n",
                NAMESPACE,
                "--",
                "bd",
                "ready",
            ],
        )
        .await;
    assert_eq!(
        String::from_utf8_lossy(&handed.stdout).trim(),
        format!(
            "exec {} --namespace {NAMESPACE} -- bd ready",
            pod_name("nux")
        )
    );

    // drain: the town and its rig say so; beads' next polecat gets no pod,
    // the running one keeps its pod.
    let pods: Api<Pod> = harness.api();
    let nux_uid = pods
        .get(&pod_name("nux"))
        .await
        .expect("nux's pod")
        .metadata
        .uid;
    let drained = user.gastown(&["drain", TOWN]).await;
    assert!(
        drained.starts_with(&format!(
            "gastown.gastown.io/{TOWN} drained: no new polecats start"
        )),
        "{drained}"
    );
    let town = eventually("the town shows it is drained", CONVERGE, || async {
        let town = user.json(&["status", TOWN]).await;
        let draining = condition(&town, "Draining")?;
        (town["phase"] == "Draining"
            && draining["status"] == "True"
            && town["rigs"][0]["draining"] == true)
            .then_some(town)
    })
    .await;
    assert_eq!(
        condition(&town, "Draining").unwrap()["reason"],
        "DrainRequested"
    );
    assert!(town["drained"].is_string(), "{town}");
    assert_eq!(
        row(&user.gastown(&["status", TOWN]).await, TOWN)[..4],
        [TOWN, "town", "Draining", "drained"]
    );
    let again = user.gastown(&["drain", TOWN]).await;
    assert!(again.contains("already drained"), "{again}");

    harness.testd.store().insert(common::agent_bead(
        Some(RIG),
        "polecat",
        "rictus",
        "spawning",
    ));
    let rictus_name = format!("{RIG}/polecats/rictus");
    eventually("the pool holds rictus back", CONVERGE, || async {
        let rictus = user.agent(&rictus_name).await?;
        (rictus["state"] == "spawning").then_some(())
    })
    .await;
    let pool = user.json(&["agents", "--role", "polecat"]).await;
    let rictus = pool
        .as_array()
        .and_then(|agents| agents.iter().find(|a| a["name"] == rictus_name.as_str()))
        .expect("rictus is listed");
    assert!(
        rictus["pod"].is_null() && rictus["phase"].is_null(),
        "{rictus}"
    );
    assert!(
        pods.get_opt(&pod_name("rictus"))
            .await
            .expect("a pod read")
            .is_none(),
        "a drained town started a polecat"
    );
    let nux_pod = pods.get(&pod_name("nux")).await.expect("nux's pod");
    assert_eq!(
        nux_pod.metadata.uid, nux_uid,
        "the running polecat was replaced"
    );
    assert!(nux_pod.metadata.deletion_timestamp.is_none());
    // A drained town at rest costs the API server no writes.
    quiet_window(&harness, Duration::from_secs(3)).await;

    // resume: the mark goes, the polecat starts.
    let resumed = user.gastown(&["resume", TOWN]).await;
    assert!(resumed.contains("resumed"), "{resumed}");
    eventually("rictus gets its pod", CONVERGE, || async {
        let rictus = user.agent(&rictus_name).await?;
        rictus["pod"].is_string().then_some(())
    })
    .await;
    let town = eventually("the town is Running again", CONVERGE, || async {
        let town = user.json(&["status", TOWN]).await;
        (town["phase"] == "Running").then_some(town)
    })
    .await;
    let draining = condition(&town, "Draining").expect("a Draining condition");
    assert_eq!(
        (&draining["status"], &draining["reason"]),
        (&Value::from("False"), &Value::from("NotDraining")),
        "{town}"
    );
    assert!(town["drained"].is_null(), "{town}");
    let rigs: Api<Rig> = harness.api();
    let rig = rigs.get(RIG_OBJECT).await.expect("the rig");
    assert!(
        !rig.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(naming::DRAINING_ANNOTATION),
        "resume left the rig marked draining"
    );
    let not_drained = user.gastown(&["resume", TOWN]).await;
    assert!(not_drained.contains("is not drained"), "{not_drained}");

    harness.shutdown().await;
}

/// Without the CRDs the plugin says so in one line, whatever the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gastown_says_when_the_crds_are_not_installed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(kubectl) = Kubectl::find(dir.path()) else {
        return;
    };
    let (plugins, _) = plugin_dir(dir.path());
    let server = EmbeddedApiServer::start(ServerConfig::default())
        .await
        .expect("the embedded API server starts");
    server
        .write_kubeconfig(&kubectl.kubeconfig)
        .expect("the kubeconfig is written");
    for command in [
        &["status"][..],
        &["agents"],
        &["drain", "prod"],
        &["status", "prod"],
    ] {
        let mut line = vec!["gastown"];
        line.extend_from_slice(command);
        let output = kubectl.as_user(&plugins, &[], &line).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{line:?}");
        assert_eq!(stderr.lines().count(), 1, "{line:?}: {stderr}");
        assert!(
            stderr.starts_with("error: the Gas Town CRDs are not installed"),
            "{line:?}: {stderr}"
        );
    }
    server.shutdown().await;
}
