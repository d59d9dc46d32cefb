//! The AgentPool reconcile against the embedded API server and the test bd
//! daemon: beads decides which polecats run, the pool makes the cluster match,
//! reports pod states back, and holds still when beads cannot be trusted.
//!
//! The pool's reconcile is driven directly, one "sync" at a time: read beads
//! into the town's view (what the GasTown controller does once per sync), then
//! reconcile the pool.

mod common;

use std::sync::Arc;
use std::time::Duration;

use beads_client::project;
use beads_testd::Personality;
use beads_testd::Scope as FaultScope;
use common::{CONVERGE, Harness, NAMESPACE, RIG, TOWN, eventually, minimal_town};
use embedded_apiserver::simulation::PodOutcome;
use gastown_api::agentpool::AgentPhase;
use gastown_api::{AgentPool, GasTown, Rig};
use gastown_operator::beads_view::BeadsView;
use gastown_operator::cache::{Cache, Scope};
use gastown_operator::context::{Context, Settings};
use gastown_operator::controllers::pool::{self, POOL_LABEL};
use gastown_operator::controllers::pool_status::condition;
use gastown_operator::metrics::Metrics;
use gastown_operator::naming;
use k8s_openapi::api::core::v1::{Pod, ResourceQuota};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::api::{Patch, PatchParams};
use tokio::task::JoinHandle;

const RIG_OBJECT: &str = "minimal-gastown";
const POOL: &str = "minimal-gastown-polecats";

fn bead_id(name: &str) -> String {
    format!("gt-{RIG}-polecat-{name}")
}

fn pod_name(name: &str) -> String {
    format!("gt-{RIG}-polecat-{name}")
}

struct Fixture {
    harness: Harness,
    ctx: Arc<Context>,
    watches: JoinHandle<()>,
}

impl Fixture {
    /// The town, a Rig allowing `max_polecats`, and its polecat pool, as the
    /// GasTown and Rig controllers would make them; a cache and a Context.
    async fn start(max_polecats: i32) -> Fixture {
        let harness = Harness::start().await;
        let client = harness.client.clone();
        let post = PostParams::default();
        let mut town = minimal_town();
        town.spec.termination_grace_period = Some("2s".parse().expect("a Go duration"));
        harness
            .api::<GasTown>()
            .create(&post, &town)
            .await
            .expect("the town is created");
        let rig: Rig = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
            "metadata": {"name": RIG_OBJECT, "namespace": NAMESPACE, "labels": {"gastown.io/town": TOWN}},
            "spec": {"name": RIG, "gitURL": format!("https://git.example.com/{RIG}.git"),
                     "polecats": {"maxCount": max_polecats}}
        }))
        .unwrap();
        harness
            .api::<Rig>()
            .create(&post, &rig)
            .await
            .expect("the rig is created");
        // The Rig controller's PriorityClass, which polecat pods name.
        let class: PriorityClass = serde_json::from_value(serde_json::json!({
            "metadata": {"name": naming::polecat_priority_class(NAMESPACE, RIG_OBJECT),
                         "labels": naming::rig_labels(TOWN, RIG)},
            "value": 1000, "globalDefault": false
        }))
        .unwrap();
        Api::<PriorityClass>::all(client.clone())
            .create(&post, &class)
            .await
            .expect("the priority class is created");
        let agent_pool: AgentPool = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
            "metadata": {"name": POOL, "namespace": NAMESPACE, "labels": {"gastown.io/town": TOWN}},
            "spec": {"rig": RIG, "role": "polecat"}
        }))
        .unwrap();
        harness
            .api::<AgentPool>()
            .create(&post, &agent_pool)
            .await
            .expect("the pool is created");

        let (cache, _subscriptions, drivers) =
            Cache::start(&client, &Scope::Namespace(NAMESPACE.into()));
        let watches = tokio::spawn(async move {
            futures::future::join_all(drivers).await;
        });
        tokio::time::timeout(Duration::from_secs(20), cache.wait_until_ready())
            .await
            .expect("the cache fills within 20 s")
            .expect("the watches run");
        let settings = Settings {
            daemon_override: Some(harness.testd.http_url()),
            ..Settings::default()
        };
        let ctx = Arc::new(Context::new(
            client,
            cache,
            Arc::new(Metrics::new()),
            settings,
        ));
        Fixture {
            harness,
            ctx,
            watches,
        }
    }

    async fn shutdown(self) {
        self.watches.abort();
        self.harness.shutdown().await;
    }

    /// Reads beads into the town's view, as the GasTown controller does.
    async fn refresh_view(&self) {
        let town = self.harness.api::<GasTown>().get(TOWN).await.unwrap();
        let fetched = async {
            let client = self.ctx.beads_for(&town).await.map_err(|e| e.to_string())?;
            client.snapshot().await.map_err(|e| e.to_string())
        }
        .await;
        let now = Timestamp::now();
        let result = fetched.map(|snapshot| {
            let summary = project(&snapshot, now, Duration::from_secs(600));
            (snapshot, summary)
        });
        self.ctx.beads_views.publish(
            NAMESPACE,
            TOWN,
            BeadsView {
                fetched_at: now,
                result,
            },
        );
    }

    async fn pool(&self) -> AgentPool {
        self.harness.api::<AgentPool>().get(POOL).await.unwrap()
    }

    /// One sync: beads into the view, then the pool's reconcile.
    async fn sync(&self) {
        self.refresh_view().await;
        pool::reconcile(Arc::new(self.pool().await), self.ctx.clone())
            .await
            .expect("the pool reconciles");
    }

    /// Syncs until `check` holds.
    async fn sync_until<T, F>(&self, what: &str, mut check: F) -> T
    where
        F: AsyncFnMut(&Fixture) -> Option<T>,
    {
        let deadline = tokio::time::Instant::now() + CONVERGE;
        loop {
            self.sync().await;
            if let Some(value) = check(self).await {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                let status = self.pool().await.status;
                panic!(
                    "timed out after {CONVERGE:?} waiting until {what}; pool status: {status:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Names of the pool's pods.
    async fn pool_pods(&self) -> Vec<String> {
        let pods = self
            .harness
            .api::<Pod>()
            .list(&ListParams::default().labels(&format!("{POOL_LABEL}={POOL}")))
            .await
            .unwrap();
        let mut names: Vec<String> = pods.items.iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    async fn pod(&self, name: &str) -> Option<Pod> {
        self.harness
            .api::<Pod>()
            .get_opt(&pod_name(name))
            .await
            .unwrap()
    }

    /// The pod field `field` (`name`, `status`) beads holds for the agent:
    /// the daemon's `pod_*` columns, or `bd serve`'s `k8s_pod` metadata.
    fn bead_pod_field(&self, name: &str, field: &str) -> Option<String> {
        let issue = self.harness.testd.store().get(&bead_id(name))?;
        match common::beads_personality() {
            Personality::Daemon => match field {
                "name" => issue.pod_name,
                _ => issue.pod_status,
            },
            Personality::Serve => issue.metadata["k8s_pod"][field].as_str().map(str::to_owned),
        }
    }

    fn bead_pod_status(&self, name: &str) -> Option<String> {
        self.bead_pod_field(name, "status")
    }

    fn bead_pod_name(&self, name: &str) -> Option<String> {
        self.bead_pod_field(name, "name")
    }

    /// Pod reports beads received: `agent_pod_*` requests, or agent bead
    /// patches.
    fn pod_reports(&self) -> u64 {
        let log = self.harness.testd.requests();
        let operations: &[&str] = match common::beads_personality() {
            Personality::Daemon => &[
                "agent_pod_register",
                "agent_pod_status",
                "agent_pod_deregister",
            ],
            Personality::Serve => &[beads_testd::serve_op::PATCH],
        };
        operations.iter().map(|op| log.count(op)).sum()
    }

    /// Syncs until a sync writes nothing to the API server and reports
    /// nothing to beads.
    async fn converge(&self) {
        self.sync_until("a sync changes nothing", async |f: &Fixture| {
            let quiet = f.harness.server.requests().writes() == 0 && f.pod_reports() == 0;
            f.harness.server.reset_requests();
            f.harness.testd.reset_requests();
            quiet.then_some(())
        })
        .await;
    }

    async fn condition(&self, type_: &str) -> Option<(bool, String, String)> {
        let pool = self.pool().await;
        pool.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status == "True", c.reason, c.message))
    }
}

/// The seeded rig has polecats nux (working), slit (done) and toast (stuck).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beads_decides_which_polecats_run() {
    let f = Fixture::start(2).await;

    // The live polecats get pods; the finished one does not.
    f.sync_until("nux and toast have pods", async |f: &Fixture| {
        (f.pool_pods().await == [pod_name("nux"), pod_name("toast")]).then_some(())
    })
    .await;
    let nux = f.pod("nux").await.unwrap();
    assert_eq!(
        nux.spec.as_ref().unwrap().restart_policy.as_deref(),
        Some("Never")
    );
    assert_eq!(
        nux.annotations().get("gastown.io/bead-id"),
        Some(&bead_id("nux"))
    );

    // Their pods are reported to beads once the simulation runs them.
    f.sync_until("beads records both pods running", async |f: &Fixture| {
        (f.bead_pod_status("nux").as_deref() == Some("running")
            && f.bead_pod_status("toast").as_deref() == Some("running"))
        .then_some(())
    })
    .await;
    assert_eq!(f.bead_pod_name("nux"), Some(pod_name("nux")));

    // A converged pool writes nothing and reports nothing.
    f.converge().await;
    f.sync().await;
    assert_eq!(
        f.harness.server.requests().writes(),
        0,
        "a steady-state reconcile writes nothing"
    );
    assert_eq!(
        f.pod_reports(),
        0,
        "a steady state reports nothing to beads"
    );
    let status = f.pool().await.status.unwrap();
    assert_eq!(status.ready, Some(2));
    let metrics = f.ctx.metrics.render();
    for line in [
        r#"gastown_agents{namespace="gastown",rig="gastown",role="polecat",state="working",town="minimal"} 1"#,
        r#"gastown_agents{namespace="gastown",rig="gastown",role="polecat",state="done",town="minimal"} 1"#,
        r#"gastown_polecats_active{namespace="gastown",rig="gastown"} 2"#,
        r#"gastown_pod_restarts{agent="nux",namespace="gastown",rig="gastown"} 0"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(f.condition(condition::READY).await.unwrap().0);

    // A third polecat is over the rig's maxCount of 2: Pending with the reason.
    f.harness.testd.store().insert(common::agent_bead(
        Some(RIG),
        "polecat",
        "rictus",
        "spawning",
    ));
    let (_, reason, message) = f
        .sync_until("rictus waits for room", async |f: &Fixture| {
            f.condition(condition::QUOTA_EXHAUSTED)
                .await
                .filter(|(exhausted, _, _)| *exhausted)
        })
        .await;
    assert_eq!(reason, "MaxCountReached");
    assert!(message.contains("rictus (maxCount 2 reached)"), "{message}");
    assert!(f.pod("rictus").await.is_none());
    let rictus = f
        .pool()
        .await
        .status
        .unwrap()
        .agents
        .unwrap()
        .into_iter()
        .find(|a| a.name == "rictus")
        .unwrap();
    assert_eq!(rictus.phase, Some(AgentPhase::Pending));

    // beads says nux is done: its pod goes, beads forgets it, rictus gets the room.
    f.harness
        .testd
        .store()
        .set_agent_state(&bead_id("nux"), "done");
    f.sync_until("nux's pod is replaced by rictus's", async |f: &Fixture| {
        (f.pool_pods().await == [pod_name("rictus"), pod_name("toast")]).then_some(())
    })
    .await;
    f.sync_until("beads forgets nux's pod", async |f: &Fixture| {
        f.bead_pod_name("nux").is_none().then_some(())
    })
    .await;

    // toast's pod ends while its bead is still live: reported, not recreated.
    f.harness
        .server
        .finish_pod(NAMESPACE, &pod_name("toast"), PodOutcome::Failed)
        .unwrap();
    f.sync_until(
        "beads records toast's pod as terminated",
        async |f: &Fixture| {
            (f.bead_pod_status("toast").as_deref() == Some("terminated")).then_some(())
        },
    )
    .await;
    // Once beads knows, the ended pod is neither recreated nor reported again.
    // (Not `converge`: the embedded API server keeps status list entries an
    // apply no longer sends, so nux's old row makes every status write differ.)
    f.harness.server.reset_requests();
    f.harness.testd.reset_requests();
    f.sync().await;
    let requests = f.harness.server.requests();
    assert_eq!(
        ["create", "patch", "delete"].map(|verb| requests.count(verb, "pods")),
        [0, 0, 0],
        "no pod is created, changed or deleted"
    );
    assert_eq!(f.pod_reports(), 0, "beads already knows");
    let toast = f.pod("toast").await.expect("an ended polecat pod is kept");
    assert_eq!(
        toast.status.unwrap().phase.as_deref(),
        Some("Failed"),
        "the ended pod was not recreated"
    );

    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_empty_beads_deletes_nothing() {
    let f = Fixture::start(5).await;
    f.sync_until("nux and toast have pods", async |f: &Fixture| {
        (f.pool_pods().await == [pod_name("nux"), pod_name("toast")]).then_some(())
    })
    .await;

    // The daemon fails every request.
    f.harness
        .testd
        .faults()
        .fail_next(FaultScope::any(), 10_000, "database is locked");
    let (_, reason, message) = f
        .sync_until("the pool says beads is unavailable", async |f: &Fixture| {
            f.condition(condition::BEADS_UNAVAILABLE)
                .await
                .filter(|(unavailable, _, _)| *unavailable)
        })
        .await;
    assert_eq!(reason, "Unavailable");
    assert!(message.contains("could not be read"), "{message}");
    assert_eq!(f.pool_pods().await, [pod_name("nux"), pod_name("toast")]);

    // The daemon answers again, but without a single agent bead.
    f.harness.testd.faults().clear();
    let store = f.harness.testd.store();
    for issue in store.all() {
        if issue.issue_type == "agent" || issue.has_label("gt:agent") {
            store.delete(&issue.id);
        }
    }
    let (_, reason, message) = f
        .sync_until("the pool withholds deletions", async |f: &Fixture| {
            f.condition(condition::BEADS_UNAVAILABLE)
                .await
                .filter(|(_, reason, _)| reason == "DeletionsWithheld")
        })
        .await;
    assert_eq!(reason, "DeletionsWithheld");
    assert!(message.contains("no agent beads at all"), "{message}");
    f.sync().await;
    assert_eq!(
        f.pool_pods().await,
        [pod_name("nux"), pod_name("toast")],
        "nothing was deleted"
    );

    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_refused_by_the_quota_is_pending_with_the_reason() {
    let f = Fixture::start(5).await;
    // Room for one polecat pod in the rig's priority class.
    let class = naming::polecat_priority_class(NAMESPACE, RIG_OBJECT);
    let quota: ResourceQuota = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "polecats", "namespace": NAMESPACE},
        "spec": {
            "hard": {"pods": "1"},
            "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": [class]}
            ]}
        }
    }))
    .unwrap();
    f.harness
        .api::<ResourceQuota>()
        .create(&PostParams::default(), &quota)
        .await
        .unwrap();

    let (_, reason, message) = f
        .sync_until("the quota refusal shows", async |f: &Fixture| {
            f.condition(condition::QUOTA_EXHAUSTED)
                .await
                .filter(|(exhausted, _, _)| *exhausted)
        })
        .await;
    assert_eq!(reason, "QuotaExceeded");
    assert!(message.contains("toast"), "{message}");
    assert!(message.contains("exceeded quota"), "{message}");
    assert_eq!(
        f.pool_pods().await,
        [pod_name("nux")],
        "the lower bead id got the room"
    );
    let ready = f.condition(condition::READY).await.unwrap();
    assert_eq!((ready.0, ready.1.as_str()), (false, "AgentsPending"));

    f.shutdown().await;
}

/// A bead whose agent name makes no valid pod name: the API server refuses that
/// pod (422), the agent waits with the server's message, and the pool's other
/// polecats still get their pods (the bad name sorts first, so a reconcile that
/// gave up on the first refusal would create none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_name_that_makes_no_valid_pod_blocks_only_that_agent() {
    let f = Fixture::start(5).await;
    f.harness.testd.store().insert(common::agent_bead(
        Some(RIG),
        "polecat",
        "Bad_Name",
        "spawning",
    ));

    let (_, reason, message) = f
        .sync_until("the refusal shows", async |f: &Fixture| {
            f.condition(condition::READY)
                .await
                .filter(|(ready, _, message)| !ready && message.contains("Bad_Name"))
        })
        .await;
    assert_eq!(reason, "AgentsPending");
    assert!(
        message.contains("the API server refused the pod"),
        "{message}"
    );
    assert!(message.contains("RFC 1123 subdomain"), "{message}");
    assert_eq!(f.pool_pods().await, [pod_name("nux"), pod_name("toast")]);
    let status = f.pool().await.status.unwrap();
    let row = status
        .agents
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.name == "Bad_Name")
        .expect("the agent has a row");
    assert_eq!(row.phase, Some(AgentPhase::Pending));
    assert_eq!(row.pod_name, None);

    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_pool_wakes_up_and_a_draining_rig_starts_no_polecats() {
    let f = Fixture::start(5).await;
    // Before beads was read, nothing happens.
    pool::reconcile(Arc::new(f.pool().await), f.ctx.clone())
        .await
        .unwrap();
    pool::reconcile(Arc::new(f.pool().await), f.ctx.clone())
        .await
        .unwrap();
    assert!(f.pool_pods().await.is_empty());
    let (unavailable, _, message) = f.condition(condition::BEADS_UNAVAILABLE).await.unwrap();
    assert!(unavailable);
    assert!(message.contains("has not been read yet"), "{message}");

    // The rig drains: beads' live polecats get no pods.
    let rigs = f.harness.api::<Rig>();
    let mut rig = rigs.get(RIG_OBJECT).await.unwrap();
    rig.annotations_mut()
        .insert(naming::DRAINING_ANNOTATION.into(), "true".into());
    rigs.replace(RIG_OBJECT, &PostParams::default(), &rig)
        .await
        .unwrap();
    eventually("the cache sees the draining rig", CONVERGE, || async {
        f.ctx
            .cache
            .rigs
            .state()
            .iter()
            .any(|r| r.annotations().contains_key(naming::DRAINING_ANNOTATION))
            .then_some(())
    })
    .await;
    let (_, reason, _) = f
        .sync_until("the pool shows the drain", async |f: &Fixture| {
            f.condition(condition::READY)
                .await
                .filter(|(_, reason, _)| reason == "Draining")
        })
        .await;
    assert_eq!(reason, "Draining");
    assert!(f.pool_pods().await.is_empty());

    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_pool_drains_its_polecats_then_lets_go() {
    let f = Fixture::start(5).await;
    f.sync_until("nux and toast have pods", async |f: &Fixture| {
        (f.pool_pods().await == [pod_name("nux"), pod_name("toast")]).then_some(())
    })
    .await;
    f.harness
        .api::<AgentPool>()
        .delete(POOL, &DeleteParams::default())
        .await
        .unwrap();

    // Working polecats may finish within the town's grace period (2 s here).
    let deleting = f.pool().await;
    assert!(deleting.metadata.deletion_timestamp.is_some());
    pool::reconcile(Arc::new(deleting), f.ctx.clone())
        .await
        .unwrap();
    assert_eq!(f.pool_pods().await, [pod_name("nux"), pod_name("toast")]);
    let (ready, reason, message) = f.condition(condition::READY).await.unwrap();
    assert!(!ready);
    assert_eq!(reason, "Draining");
    assert!(message.contains("2 active polecats"), "{message}");

    // Then they are deleted, and the finalizer lets the pool go.
    eventually("the pool is gone", CONVERGE, || async {
        match f.harness.api::<AgentPool>().get_opt(POOL).await.unwrap() {
            None => Some(()),
            Some(pool) => {
                pool::reconcile(Arc::new(pool), f.ctx.clone())
                    .await
                    .unwrap();
                None
            }
        }
    })
    .await;
    assert!(f.pool_pods().await.is_empty());

    f.shutdown().await;
}

/// A flood of spawns reaches the API server in bursts of `spawnBurst`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_spawns_is_created_in_bursts() {
    let f = Fixture::start(20).await;
    f.sync_until("the seeded polecats run", async |f: &Fixture| {
        (f.pool_pods().await.len() == 2).then_some(())
    })
    .await;
    f.harness
        .api::<AgentPool>()
        .patch(
            POOL,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"spawnBurst": 3}})),
        )
        .await
        .unwrap();
    for i in 0..7 {
        f.harness.testd.store().insert(common::agent_bead(
            Some(RIG),
            "polecat",
            &format!("flood{i}"),
            "spawning",
        ));
    }
    let mut seen = vec![f.pool_pods().await.len()];
    for _ in 0..3 {
        // Let the cache see the last burst, as the 200 ms requeue does.
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.sync().await;
        seen.push(f.pool_pods().await.len());
    }
    assert_eq!(seen, [2, 5, 8, 9], "three a pass, then the last");
    f.shutdown().await;
}

/// A hundred polecats at once (the rig's largest maxCount: two seeded and
/// 98 spawned together): every pass creates at most `spawnBurst` (the
/// default, 10) pods, and all of them exist after ten passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_spawns_at_once_come_in_bursts_of_the_default_size() {
    let f = Fixture::start(100).await;
    f.sync_until("the seeded polecats run", async |f: &Fixture| {
        (f.pool_pods().await.len() == 2).then_some(())
    })
    .await;
    for i in 0..98 {
        f.harness.testd.store().insert(common::agent_bead(
            Some(RIG),
            "polecat",
            &format!("swarm{i:03}"),
            "spawning",
        ));
    }
    let mut counts = vec![f.pool_pods().await.len()];
    while counts.last() != Some(&100) && counts.len() <= 12 {
        // The cache sees the last burst, as it does in the 200 ms the pool waits.
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.sync().await;
        counts.push(f.pool_pods().await.len());
    }
    let bursts: Vec<usize> = counts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(bursts.iter().all(|b| *b <= 10), "bursts {bursts:?}");
    assert_eq!(counts.last(), Some(&100), "all created: {counts:?}");
    assert_eq!(bursts.len(), 10, "ten passes of ten: {bursts:?}");
    f.shutdown().await;
}
