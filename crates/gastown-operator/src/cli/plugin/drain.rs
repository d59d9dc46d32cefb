//! `drain` and `resume`: the `gastown.io/drain` annotation on a GasTown,
//! written with a JSON merge patch. The operator does the rest: it marks the
//! town's rigs draining (no new polecats; running ones finish) and shows it
//! in status, and undoes it when the annotation goes.

use anyhow::Context as _;
use gastown_api::{GasTown, labels};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::cluster::Cluster;
use gastown_operator::relations::drain_requested;

/// The field manager of the plugin's writes.
const FIELD_MANAGER: &str = "kubectl-gastown";

/// The annotation's value: when, and by whom when known.
pub fn drain_value(now: Timestamp, who: Option<&str>) -> String {
    let when = Timestamp::from_second(now.as_second()).unwrap_or(now);
    match who {
        Some(who) if !who.is_empty() => format!("{when} by {who}"),
        _ => when.to_string(),
    }
}

/// The merge patch that sets (`Some`) or removes (`None`) the annotation.
pub fn drain_patch(value: Option<&str>) -> Value {
    json!({"metadata": {"annotations": {labels::DRAIN_ANNOTATION: value}}})
}

async fn patch(cluster: &Cluster, town: &str, value: Option<&str>) -> anyhow::Result<()> {
    cluster
        .api::<GasTown>()
        .patch(
            town,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            },
            &Patch::Merge(drain_patch(value)),
        )
        .await
        .with_context(|| format!("cannot annotate GasTown {town}"))?;
    Ok(())
}

fn polecats(n: usize) -> String {
    match n {
        1 => "1 running polecat finishes".to_string(),
        n => format!("{n} running polecats finish"),
    }
}

/// Drains `town`; returns what to tell the user.
pub async fn drain(cluster: &Cluster, town: &str) -> anyhow::Result<String> {
    let object = cluster.town(town).await?;
    if let Some(since) = drain_requested(&object) {
        return Ok(format!(
            "gastown.gastown.io/{town} is already drained ({since})"
        ));
    }
    let who = std::env::var("USER").ok();
    patch(
        cluster,
        town,
        Some(&drain_value(Timestamp::now(), who.as_deref())),
    )
    .await?;
    let running = cluster.running_polecats(town).await?;
    Ok(format!(
        "gastown.gastown.io/{town} drained: no new polecats start, {}; `kubectl gastown resume {town}` undoes it",
        polecats(running)
    ))
}

/// Resumes `town`; returns what to tell the user.
pub async fn resume(cluster: &Cluster, town: &str) -> anyhow::Result<String> {
    let object = cluster.town(town).await?;
    if drain_requested(&object).is_none() {
        return Ok(format!(
            "gastown.gastown.io/{town} is not drained: nothing to resume"
        ));
    }
    patch(cluster, town, None).await?;
    Ok(format!(
        "gastown.gastown.io/{town} resumed: new polecats start again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotation_says_when_and_who_and_resume_removes_it() {
        let now = Timestamp::from_second(1_796_378_400).unwrap();
        assert_eq!(drain_value(now, Some("ann")), "2026-12-04T10:00:00Z by ann");
        assert_eq!(drain_value(now, None), "2026-12-04T10:00:00Z");
        assert_eq!(
            drain_patch(Some("x")),
            json!({"metadata": {"annotations": {"gastown.io/drain": "x"}}})
        );
        // A merge patch removes a key set to null.
        assert_eq!(
            drain_patch(None),
            json!({"metadata": {"annotations": {"gastown.io/drain": null}}})
        );
    }
}
