//! A town's snapshot from `bd serve` (bd-serve-v0.md §4, §5 "agents of a town",
//! "hooked work of an agent").

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{IssueQuery, ServeClient, ServerContext, capability};
use crate::backend::{Protocol, ServerInfo};
use crate::error::BeadsError;
use crate::model::{AgentBead, HealthReport, HealthStatus, Issue, marks};
use crate::projection::TownSnapshot;

/// Gas Town's agents and their hooked work, concurrently:
/// - readiness, `GET /v0/beads/ready?limit=1` (§3.2), when `ready.list` is listed;
/// - agents by label: `label=gt:agent&include_infra=true` (§5), paged;
/// - legacy agents by type: `type=agent&include_infra=true` (§4 "match either");
///   a server without the custom type `agent` refuses the type (400), which
///   means no such rows;
/// - hooked work: `status=hooked&include_ephemeral=true` (§5), paged, put on the
///   hook of the agent whose identity path is its `assignee` (§4).
///
/// `merge_requests` is `None`: Gas Town keeps them as wisps in each rig's own
/// database, which a town's serve does not hold (§4, §1).
pub(crate) async fn snapshot(client: &ServeClient) -> Result<TownSnapshot, BeadsError> {
    let context = client.require(capability::ISSUES_LIST, "snapshot").await?;
    let by_label = IssueQuery {
        label: vec![marks::AGENT_LABEL.to_owned()],
        include_infra: true,
        ..IssueQuery::default()
    };
    let hooked = IssueQuery {
        status: vec!["hooked".to_owned()],
        include_ephemeral: true,
        ..IssueQuery::default()
    };
    let (health, labelled, typed, hooked) = futures::try_join!(
        health(client, &context),
        client.list_issues(&by_label),
        agents_by_type(client),
        client.list_issues(&hooked),
    )?;
    let mut seen = HashSet::new();
    let mut agents: Vec<Issue> = labelled
        .into_iter()
        .chain(typed)
        .filter(|issue| !issue.is_closed() && seen.insert(issue.id.clone()))
        .collect();
    assign_hooks(&mut agents, &hooked);
    Ok(TownSnapshot {
        health,
        agents,
        merge_requests: None,
        rig_merge_requests: BTreeMap::new(),
        server: ServerInfo {
            protocol: Protocol::Serve,
            version: context.bd_version.clone(),
            capabilities: context.capabilities.clone(),
        },
    })
}

/// Readiness as a health report: ready is healthy; not ready is unhealthy with the
/// problem's detail — an answer, not an error. Without `ready.list` the context
/// answer (no database needed, §3.3) is all there is: healthy.
async fn health(client: &ServeClient, context: &ServerContext) -> Result<HealthReport, BeadsError> {
    let mut report = HealthReport {
        status: HealthStatus::Healthy,
        version: context.bd_version.clone(),
        compatible: true,
        ..HealthReport::default()
    };
    if context.has(capability::READY_LIST) {
        let readiness = client.readiness().await?;
        if !readiness.ready {
            report.status = HealthStatus::Unhealthy;
            report.error = Some(readiness.reason.unwrap_or_else(|| "not ready".into()));
        }
    }
    Ok(report)
}

async fn agents_by_type(client: &ServeClient) -> Result<Vec<Issue>, BeadsError> {
    let by_type = IssueQuery {
        issue_type: Some(marks::AGENT_TYPE.to_owned()),
        include_infra: true,
        ..IssueQuery::default()
    };
    match client.list_issues(&by_type).await {
        Err(BeadsError::Problem {
            status: 400,
            body: Some(problem),
            ..
        }) if problem.param.as_deref() == Some("type") => {
            tracing::debug!(
                endpoint = client.endpoint(),
                "no custom type `agent` on this server"
            );
            Ok(Vec::new())
        }
        other => other,
    }
}

/// Puts each hooked bead on the hook (`hook_bead`) of the agent whose identity
/// path equals its `assignee` (bd-serve-v0.md §4 "Hooked work"); the first listed
/// (the newest, §3.4 default sort) wins. An agent with nothing hooked keeps
/// whatever its description says.
pub(crate) fn assign_hooks(agents: &mut [Issue], hooked: &[Issue]) {
    let mut by_assignee: HashMap<String, &str> = HashMap::new();
    for work in hooked {
        if let Some(assignee) = work.assignee.as_deref() {
            by_assignee
                .entry(normalise_identity(assignee))
                .or_insert(work.id.as_str());
        }
    }
    if by_assignee.is_empty() {
        return;
    }
    for agent in agents.iter_mut() {
        let identity = AgentBead::from_issue(agent).and_then(|bead| bead.identity());
        if let Some(work) = identity.and_then(|id| by_assignee.get(&normalise_identity(&id))) {
            agent.hook_bead = Some((*work).to_owned());
        }
    }
}

/// `mayor/` and `mayor` name the same agent.
fn normalise_identity(identity: &str) -> String {
    identity.trim().trim_end_matches('/').to_owned()
}
