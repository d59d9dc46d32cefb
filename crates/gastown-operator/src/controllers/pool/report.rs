//! Reporting pod states to beads: the plan's registers, status changes and
//! deregisters, sent to the town's beads server (the daemon's
//! `agent_pod_*` operations, or with `bd serve` the agent bead's metadata). The only writes to beads the
//! pool makes; never fatal, so they sit apart from the pod writes, which are.

use std::time::Instant;

use gastown_api::GasTown;

use super::plan::Report;
use crate::context::Context;

/// Sends the reports; failures are logged and counted, never fatal (the next
/// reconcile compares again and resends what beads still lacks).
pub(super) async fn send_reports(ctx: &Context, town: &GasTown, reports: &[Report]) {
    if reports.is_empty() {
        return;
    }
    let client = match ctx.beads_for(town).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "cannot report pod states to beads");
            return;
        }
    };
    for report in reports {
        let started = Instant::now();
        let (operation, result) = match report {
            Report::Register(registration) => {
                ("register_pod", client.register_pod(registration).await)
            }
            Report::Status {
                agent_id,
                status,
                current,
            } => (
                "pod_status",
                client.pod_status(agent_id, status.clone(), current).await,
            ),
            Report::Deregister { agent_id } => {
                ("deregister_pod", client.deregister_pod(agent_id).await)
            }
        };
        ctx.metrics
            .beads_request(operation, started.elapsed(), result.is_err());
        match result {
            Ok(()) => tracing::debug!(agent = report.agent_id(), operation, "reported to beads"),
            Err(error) => tracing::warn!(
                %error,
                agent = report.agent_id(),
                operation,
                "could not report pod state to beads"
            ),
        }
    }
}
