//! The town status projection.

use super::*;
use beads_client::{AgentSummary, DaemonSummary, HealthStatus};
use gastown_api::gastown::condition;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn agent(enabled: bool, ready: bool) -> AgentObservation {
    AgentObservation {
        enabled,
        pod_name: enabled.then(|| "gt-prod-mayor".into()),
        ready,
        blocked: None,
        crash: None,
    }
}

fn alive(id: &str) -> AgentSummary {
    AgentSummary {
        id: id.into(),
        name: id.into(),
        live: true,
        alive: true,
        ..Default::default()
    }
}

fn summary() -> TownSummary {
    let mut rig = beads_client::RigSummary {
        name: "gastown".into(),
        polecat_count: 2,
        crew_count: 1,
        ..Default::default()
    };
    rig.witness_alive = true;
    rig.merge_queue_depth = Some(3);
    TownSummary {
        daemon: DaemonSummary {
            status: HealthStatus::Healthy,
            serving: true,
            version: "0.50.0".into(),
            ..Default::default()
        },
        mayor: Some(alive("gt-mayor")),
        deacon: Some(alive("gt-deacon")),
        town_agents: vec![],
        rigs: vec![rig],
    }
}

fn observation<'a>(
    beads: Result<&'a TownSummary, String>,
    previous: Option<&'a GasTownStatus>,
) -> TownObservation<'a> {
    TownObservation {
        base: Baseline::new(previous, Some(2), at(100)),
        draining: None,
        dolt: Workload::Ready,
        daemon: Workload::Ready,
        daemon_endpoint: "prod-bd-daemon:9080".into(),
        beads_protocol: BeadsProtocol::Daemon,
        change_feed: None,
        merge_requests_known: true,
        beads,
        mayor: agent(true, true),
        deacon: agent(true, true),
        rigs: vec![TownRig {
            name: "gastown".into(),
            phase: Some(Phase::Running),
            reconciled: true,
        }],
        running_agent_pods: 4,
        external_secrets: None,
        agents: crate::reconcile::rollout::Progress::none(),
        backup: None,
    }
}

#[test]
fn undeliverable_external_secrets_keep_the_town_from_ready() {
    let beads = summary();
    let mut o = observation(Ok(&beads), None);
    o.external_secrets = Some(Observed::new(
        EXTERNAL_SECRETS_READY,
        false,
        "NotServed",
        "the cluster does not serve external-secrets.io",
    ));
    let (status, _) = town_status(&o);
    assert_eq!(
        condition_status(&status, EXTERNAL_SECRETS_READY),
        Some(false)
    );
    assert_eq!(condition_status(&status, condition::READY), Some(false));
    assert_eq!(status.phase, Some(Phase::Provisioning));
}

fn condition_status(status: &GasTownStatus, type_: &str) -> Option<bool> {
    crate::conditions::is_true(status.conditions.as_deref().unwrap_or_default(), type_)
}

#[test]
fn healthy_town_is_running_with_counts_from_beads() {
    let beads = summary();
    let (status, transitions) = town_status(&observation(Ok(&beads), None));
    assert_eq!(status.phase, Some(Phase::Running));
    assert_eq!(condition_status(&status, condition::READY), Some(true));
    let rig = &status.rigs.as_ref().unwrap()[0];
    assert_eq!(
        (rig.polecat_count, rig.crew_count, rig.merge_queue_depth),
        (Some(2), Some(1), Some(3))
    );
    assert_eq!(rig.witness_healthy, Some(true));
    assert_eq!(rig.refinery_healthy, Some(false));
    assert_eq!(
        status.daemon.as_ref().unwrap().version.as_deref(),
        Some("0.50.0")
    );
    assert_eq!(status.observed_generation, Some(2));
    assert_eq!(
        transitions.len(),
        8,
        "every condition is new (AgentsUpToDate and Draining too)"
    );
}

#[test]
fn recomputing_the_same_observation_changes_nothing() {
    let beads = summary();
    let (first, _) = town_status(&observation(Ok(&beads), None));
    let mut later = observation(Ok(&beads), Some(&first));
    later.base.now = at(500);
    let (second, transitions) = town_status(&later);
    assert_eq!(
        second, first,
        "no write at rest: lastSynced and transition times stay"
    );
    assert!(transitions.is_empty());
}

#[test]
fn unreachable_daemon_degrades_and_keeps_last_known_rig_summary() {
    let beads = summary();
    let (running, _) = town_status(&observation(Ok(&beads), None));
    let (status, transitions) = town_status(&observation(
        Err("connection refused".into()),
        Some(&running),
    ));
    assert_eq!(status.phase, Some(Phase::Degraded));
    assert_eq!(
        condition_status(&status, condition::DAEMON_READY),
        Some(false)
    );
    let daemon = status
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == condition::DAEMON_READY)
        .unwrap();
    assert_eq!(daemon.message, "connection refused");
    assert_eq!(
        status.rigs.as_ref().unwrap()[0].polecat_count,
        Some(2),
        "last known, not invented"
    );
    assert_eq!(status.daemon.as_ref().unwrap().connected, Some(false));
    assert!(
        transitions
            .iter()
            .any(|t| t.type_ == condition::DAEMON_READY && !t.status)
    );
}

#[test]
fn mayor_health_comes_from_its_bead_not_only_its_pod() {
    let mut beads = summary();
    beads.mayor = Some(AgentSummary {
        alive: false,
        ..alive("gt-mayor")
    });
    let (status, _) = town_status(&observation(Ok(&beads), None));
    assert_eq!(
        condition_status(&status, condition::MAYOR_HEALTHY),
        Some(false)
    );
    assert_eq!(
        condition_status(&status, condition::DEACON_HEALTHY),
        Some(true)
    );
    let mut disabled = observation(Ok(&beads), None);
    disabled.mayor = agent(false, false);
    let (status, _) = town_status(&disabled);
    assert_eq!(
        condition_status(&status, condition::MAYOR_HEALTHY),
        Some(true)
    );
    assert!(status.mayor.is_none());
}

#[test]
fn missing_secret_fails_the_town_with_the_reason() {
    let beads = summary();
    let mut blocked = observation(Ok(&beads), None);
    blocked.daemon = Workload::Blocked("Secret bd-token does not exist".into());
    let (status, _) = town_status(&blocked);
    assert_eq!(status.phase, Some(Phase::Failed));
    let daemon = status
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == condition::DAEMON_READY)
        .unwrap();
    assert!(daemon.message.contains("bd-token"));
}

#[test]
fn progress_alone_waits_for_the_interval_but_transitions_do_not() {
    let beads = summary();
    let mut starting = observation(Ok(&beads), None);
    starting.running_agent_pods = 1;
    starting.rigs[0].reconciled = false;
    let (written, _) = town_status(&starting);
    assert_eq!(when_to_write(None, &written, at(100)), StatusWrite::Now);

    // One more pod runs a second later: progress only.
    let mut later = observation(Ok(&beads), Some(&written));
    later.base.now = at(101);
    later.running_agent_pods = 2;
    later.rigs[0].reconciled = false;
    let (progressed, transitions) = town_status(&later);
    assert!(transitions.is_empty());
    assert_eq!(progressed.agent_count, Some(2));
    assert_eq!(
        when_to_write(Some(&written), &progressed, at(101)),
        StatusWrite::After(PROGRESS_INTERVAL - Duration::from_secs(1))
    );
    let interval_over = at(100 + PROGRESS_INTERVAL.as_secs() as i64);
    assert_eq!(
        when_to_write(Some(&written), &progressed, interval_over),
        StatusWrite::Now,
        "written once the interval is over"
    );

    // The rig settles at the same time: the town becomes Ready at once.
    let mut settled = observation(Ok(&beads), Some(&written));
    settled.base.now = at(101);
    settled.running_agent_pods = 2;
    let (ready, transitions) = town_status(&settled);
    assert!(!transitions.is_empty());
    assert_eq!(
        when_to_write(Some(&written), &ready, at(101)),
        StatusWrite::Now
    );
    assert_eq!(
        when_to_write(Some(&ready), &ready, at(101)),
        StatusWrite::Unchanged
    );
}

#[test]
fn a_new_reason_is_no_mere_progress() {
    let beads = summary();
    let (written, _) = town_status(&observation(Ok(&beads), None));
    let mut blocked = observation(Ok(&beads), Some(&written));
    blocked.base.now = at(100);
    blocked.dolt = Workload::NotReady;
    let (not_ready, _) = town_status(&blocked);
    let mut missing = observation(Ok(&beads), Some(&not_ready));
    missing.base.now = at(100);
    missing.dolt = Workload::Blocked("Secret aws does not exist".into());
    let (failed, transitions) = town_status(&missing);
    assert!(transitions.is_empty(), "DoltReady stays False");
    assert_eq!(
        when_to_write(Some(&not_ready), &failed, at(100)),
        StatusWrite::Now
    );
}

#[test]
fn a_provisioning_town_writes_its_steps_as_progress_but_a_town_that_is_up_does_not() {
    let beads = summary();
    let mut starting = observation(Ok(&beads), None);
    starting.dolt = Workload::NotReady;
    starting.mayor = agent(true, false);
    let (written, _) = town_status(&starting);
    assert_eq!(written.phase, Some(Phase::Provisioning));

    // Dolt comes up a second later; the mayor still starts.
    let mut dolt_up = observation(Ok(&beads), Some(&written));
    dolt_up.base.now = at(101);
    dolt_up.mayor = agent(true, false);
    let (step, transitions) = town_status(&dolt_up);
    assert_eq!(step.phase, Some(Phase::Provisioning));
    assert_eq!(transitions.len(), 1, "told with the write: {transitions:?}");
    assert_eq!(condition_status(&step, condition::DOLT_READY), Some(true));
    assert_eq!(
        when_to_write(Some(&written), &step, at(101)),
        StatusWrite::After(PROGRESS_INTERVAL - Duration::from_secs(1))
    );

    // A new generation is written at once, as is the phase once it moves.
    let mut edited = step.clone();
    edited.observed_generation = Some(3);
    assert_eq!(
        when_to_write(Some(&written), &edited, at(101)),
        StatusWrite::Now
    );
    let mut all_up = observation(Ok(&beads), Some(&written));
    all_up.base.now = at(101);
    let (running, _) = town_status(&all_up);
    assert_eq!(running.phase, Some(Phase::Running));
    assert_eq!(
        when_to_write(Some(&written), &running, at(101)),
        StatusWrite::Now
    );

    // Once up, a condition that changes is news, even with the phase
    // unchanged: the degraded town's mayor stops too.
    let mut dolt_down = observation(Ok(&beads), Some(&running));
    dolt_down.base.now = at(102);
    dolt_down.dolt = Workload::NotReady;
    let (degraded, _) = town_status(&dolt_down);
    assert_eq!(degraded.phase, Some(Phase::Degraded));
    let mut mayor_down = observation(Ok(&beads), Some(&degraded));
    mayor_down.base.now = at(103);
    mayor_down.dolt = Workload::NotReady;
    mayor_down.mayor = agent(true, false);
    let (worse, transitions) = town_status(&mayor_down);
    assert_eq!(worse.phase, Some(Phase::Degraded));
    assert!(!transitions.is_empty());
    assert_eq!(
        when_to_write(Some(&degraded), &worse, at(103)),
        StatusWrite::Now
    );
}

#[test]
fn provisioning_until_infrastructure_is_ready() {
    let mut starting = observation(Err("no route".into()), None);
    starting.dolt = Workload::NotReady;
    starting.daemon = Workload::NotReady;
    let (status, _) = town_status(&starting);
    assert_eq!(status.phase, Some(Phase::Provisioning));
}

#[test]
fn a_crash_looping_workload_or_agent_says_why_and_is_told_once() {
    let beads = summary();
    let mut starting = observation(Ok(&beads), None);
    starting.dolt = Workload::NotReady;
    let (not_ready, _) = town_status(&starting);
    assert_eq!(
        condition_status(&not_ready, condition::DOLT_READY),
        Some(false)
    );

    let crash =
        "container dolt is in CrashLoopBackOff (exit code 1): Failed to load the global config";
    let mut crashing = observation(Ok(&beads), Some(&not_ready));
    crashing.dolt = Workload::CrashLooping(crash.into());
    crashing.mayor.crash = Some("container agent is in CrashLoopBackOff (exit code 1)".into());
    crashing.mayor.ready = false;
    let (status, transitions) = town_status(&crashing);
    let dolt = status
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == condition::DOLT_READY)
        .unwrap();
    assert_eq!(dolt.status, "False");
    assert_eq!(dolt.reason, "CrashLoopBackOff");
    assert!(
        dolt.message.contains("Failed to load the global config"),
        "{}",
        dolt.message
    );
    // False already, yet told: the reason is one someone may need to act on.
    let told: Vec<&str> = transitions.iter().map(|t| t.type_).collect();
    assert!(told.contains(&condition::DOLT_READY), "{told:?}");
    assert!(told.contains(&condition::MAYOR_HEALTHY), "{told:?}");

    // Still crash-looping on the next sync: nothing new to tell.
    let mut again = observation(Ok(&beads), Some(&status));
    again.dolt = Workload::CrashLooping(crash.into());
    again.mayor = crashing.mayor.clone();
    let (_, transitions) = town_status(&again);
    assert!(transitions.is_empty(), "{transitions:?}");
}

#[test]
fn a_drained_town_says_so_stays_ready_and_undoes_it_on_resume() {
    let beads = summary();
    let (running, _) = town_status(&observation(Ok(&beads), None));
    assert_eq!(running.phase, Some(Phase::Running));
    assert_eq!(condition_status(&running, condition::DRAINING), Some(false));

    let mut drained = observation(Ok(&beads), Some(&running));
    drained.draining = Some("the town is drained by request (t by ann)".into());
    let (status, transitions) = town_status(&drained);
    assert_eq!(status.phase, Some(Phase::Draining));
    assert_eq!(condition_status(&status, condition::DRAINING), Some(true));
    assert_eq!(condition_status(&status, condition::READY), Some(true));
    let reason = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == condition::DRAINING)
        .map(|c| c.reason.as_str());
    assert_eq!(reason, Some(DRAIN_REQUESTED));
    assert!(transitions.iter().any(|t| t.type_ == condition::DRAINING));
    assert_eq!(
        when_to_write(Some(&running), &status, at(101)),
        StatusWrite::Now
    );
    // Drained again with nothing new: nothing to write.
    let mut still = observation(Ok(&beads), Some(&status));
    still.draining = drained.draining.clone();
    let (same, _) = town_status(&still);
    assert_eq!(
        when_to_write(Some(&status), &same, at(102)),
        StatusWrite::Unchanged
    );

    let (resumed, transitions) = town_status(&observation(Ok(&beads), Some(&status)));
    assert_eq!(resumed.phase, Some(Phase::Running));
    assert_eq!(condition_status(&resumed, condition::DRAINING), Some(false));
    assert!(transitions.iter().any(|t| t.type_ == condition::DRAINING));
}

#[test]
fn every_backup_failure_is_told_and_backups_do_not_make_the_town_unready() {
    use crate::conditions::telling::tellings;
    use gastown_api::backup::{BackupFailure, BackupStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    let failure = |job: &str, second: i64| BackupFailure {
        time: Time(at(second)),
        job: job.into(),
        message: "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
    };
    let projection = |job: &str, second: i64, new: bool| BackupProjection {
        status: BackupStatus {
            last_failure: Some(failure(job, second)),
            ..BackupStatus::default()
        },
        condition: Observed::new(
            condition::BACKUP_HEALTHY,
            false,
            BACKUP_FAILED,
            format!("the backup Job {job} failed"),
        ),
        new_failure: new.then(|| failure(job, second)),
    };
    let beads = summary();
    let mut first = observation(Ok(&beads), None);
    first.backup = Some(projection("backup-1", 50, true));
    let (status, transitions) = town_status(&first);
    // A failing backup is no reason for the town not to run.
    assert_eq!(status.phase, Some(Phase::Running));
    assert_eq!(condition_status(&status, condition::READY), Some(true));
    let warned = |transitions: &[Transition]| {
        tellings(transitions)
            .into_iter()
            .filter(|t| t.warning && t.reason == BACKUP_FAILED)
            .count()
    };
    assert_eq!(warned(&transitions), 1);

    // The same failure seen again: nothing to tell.
    let mut again = observation(Ok(&beads), Some(&status));
    again.backup = Some(projection("backup-1", 50, false));
    assert_eq!(warned(&town_status(&again).1), 0);
    // A second failure while BackupHealthy is False already: told too.
    let mut second = observation(Ok(&beads), Some(&status));
    second.backup = Some(projection("backup-2", 90, true));
    let (_, transitions) = town_status(&second);
    assert_eq!(warned(&transitions), 1);

    // Backups no longer configured: no condition, no backup status.
    let (gone, _) = town_status(&observation(Ok(&beads), Some(&status)));
    assert!(gone.backup.is_none());
    assert_eq!(condition_status(&gone, condition::BACKUP_HEALTHY), None);
}
