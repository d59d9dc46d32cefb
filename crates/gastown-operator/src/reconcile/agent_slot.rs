//! An agent the spec declares itself — the town's Mayor and Deacon, a rig's
//! Witness, Refinery and crew members: at most one pod, named by Gas Town's
//! convention, that the operator keeps current.
//!
//! Building a slot is pure: it says whether the agent is disabled, blocked
//! (its pod is held as it is) or wants a pod. The pod carries the hash of its
//! spec, so the same slot observes, also purely, whether the running pod is
//! the wanted one and ready.

use gastown_api::AgentRole;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::desired::Objects;
use crate::write::{POD_SPEC_HASH_ANNOTATION, pod_spec_hash};

/// What a declared agent wants.
#[derive(Clone, Debug)]
pub enum Want {
    /// Turned off in the spec: its pod is pruned.
    Disabled,
    /// Cannot run now (a missing Secret, a pod that cannot be built): the
    /// existing pod, if any, is left as it is.
    Blocked(String),
    /// This pod, with its spec hash.
    Pod(Box<Pod>),
}

/// One declared agent.
#[derive(Clone, Debug)]
pub struct AgentSlot {
    pub role: AgentRole,
    pub pod_name: String,
    pub want: Want,
}

/// What status shows of a declared agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentObservation {
    pub enabled: bool,
    /// The pod it runs in, when it wants one.
    pub pod_name: Option<String>,
    /// The wanted pod runs and is Ready.
    pub ready: bool,
    /// Why it cannot run now.
    pub blocked: Option<String>,
    /// Why its pod keeps failing, while a container crash-loops.
    pub crash: Option<String>,
}

impl AgentSlot {
    pub fn disabled(role: AgentRole, pod_name: String) -> Self {
        Self {
            role,
            pod_name,
            want: Want::Disabled,
        }
    }

    pub fn blocked(role: AgentRole, pod_name: String, reason: impl Into<String>) -> Self {
        Self {
            role,
            pod_name,
            want: Want::Blocked(reason.into()),
        }
    }

    /// A slot wanting `pod`, stamped with its spec hash.
    pub fn running(role: AgentRole, mut pod: Pod) -> Self {
        let hash = pod_spec_hash(&pod);
        pod.annotations_mut()
            .insert(POD_SPEC_HASH_ANNOTATION.to_string(), hash);
        Self {
            role,
            pod_name: pod.name_any(),
            want: Want::Pod(Box::new(pod)),
        }
    }

    /// Adds what the slot wants to the owner's pods.
    pub fn add_to(&self, pods: &mut Objects<Pod>) {
        match &self.want {
            Want::Disabled => {}
            Want::Blocked(_) => pods.hold(self.pod_name.clone()),
            Want::Pod(pod) => pods.want(pod.as_ref().clone()),
        }
    }

    /// The slot as status shows it, given its cached pod.
    pub fn observe(&self, observed: Option<&Pod>) -> AgentObservation {
        match &self.want {
            Want::Disabled => AgentObservation::default(),
            Want::Blocked(reason) => AgentObservation {
                enabled: true,
                pod_name: None,
                ready: false,
                blocked: Some(reason.clone()),
                crash: None,
            },
            Want::Pod(pod) => AgentObservation {
                enabled: true,
                pod_name: Some(self.pod_name.clone()),
                ready: observed.is_some_and(|observed| runs_ready(pod, observed)),
                blocked: None,
                crash: observed.and_then(crate::controllers::pod_crash),
            },
        }
    }
}

/// `observed` is the pod `wanted` describes (same spec hash), not going
/// away, not failed, and Ready: nothing about it is to be replaced.
fn runs_ready(wanted: &Pod, observed: &Pod) -> bool {
    let hash = |pod: &Pod| pod.annotations().get(POD_SPEC_HASH_ANNOTATION).cloned();
    let failed = observed.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed");
    hash(wanted).is_some()
        && hash(wanted) == hash(observed)
        && observed.metadata.deletion_timestamp.is_none()
        && !failed
        && crate::controllers::pod_ready(observed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn pod(image: &str) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "agent".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some("gt-gastown-witness".into());
        pod
    }

    fn running_ready(mut pod: Pod) -> Pod {
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn a_slot_is_ready_only_when_its_current_pod_runs_ready() {
        let slot = AgentSlot::running(AgentRole::Witness, pod("agent:1"));
        let Want::Pod(wanted) = &slot.want else {
            panic!("a running slot wants a pod")
        };
        let current = running_ready(wanted.as_ref().clone());
        assert!(slot.observe(Some(&current)).ready);
        assert_eq!(
            slot.observe(Some(&current)).pod_name.as_deref(),
            Some("gt-gastown-witness")
        );

        // An outdated spec, a failed pod, a pod going away, a missing pod: not ready.
        let outdated = running_ready(AgentSlot::running(AgentRole::Witness, pod("agent:0")).pod());
        assert!(!slot.observe(Some(&outdated)).ready);
        let mut failed = current.clone();
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        assert!(!slot.observe(Some(&failed)).ready);
        let mut leaving = current.clone();
        leaving.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!slot.observe(Some(&leaving)).ready);
        assert!(!slot.observe(None).ready);
    }

    #[test]
    fn blocked_slots_hold_their_pod_and_disabled_ones_give_it_up() {
        let mut pods = Objects::default();
        let blocked = AgentSlot::blocked(AgentRole::Mayor, "gt-prod-mayor".into(), "no Secret");
        blocked.add_to(&mut pods);
        AgentSlot::disabled(AgentRole::Deacon, "gt-prod-deacon".into()).add_to(&mut pods);
        assert!(pods.keeps("gt-prod-mayor"));
        assert!(!pods.keeps("gt-prod-deacon"));
        assert!(pods.wanted.is_empty());
        let observed = blocked.observe(None);
        assert_eq!(observed.blocked.as_deref(), Some("no Secret"));
        assert!(observed.enabled && observed.pod_name.is_none());
        assert_eq!(
            AgentSlot::disabled(AgentRole::Deacon, "x".into()).observe(None),
            AgentObservation::default()
        );
    }

    #[test]
    fn a_crash_looping_pod_says_why() {
        use k8s_openapi::api::core::v1::{
            ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
        };
        let slot = AgentSlot::running(AgentRole::Mayor, pod("agent:1"));
        let mut crashing = slot.pod();
        crashing.status = Some(PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "agent".into(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("CrashLoopBackOff".into()),
                        message: Some("back-off 10s restarting failed container".into()),
                    }),
                    ..Default::default()
                }),
                last_state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 1,
                        message: Some("Error: unknown flag: --tcp-addr\n".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let observed = slot.observe(Some(&crashing));
        assert!(!observed.ready);
        assert_eq!(
            observed.crash.as_deref(),
            Some(
                "container agent is in CrashLoopBackOff (exit code 1): Error: unknown flag: --tcp-addr"
            )
        );
        // The cache keeps what this needs.
        let mut kept = crashing.clone();
        crate::cache::keep_what_is_read_of_pod(&mut kept);
        assert_eq!(slot.observe(Some(&kept)).crash, observed.crash);
        assert!(
            slot.observe(Some(&running_ready(slot.pod())))
                .crash
                .is_none()
        );
    }

    impl AgentSlot {
        fn pod(&self) -> Pod {
            match &self.want {
                Want::Pod(pod) => pod.as_ref().clone(),
                _ => panic!("no pod"),
            }
        }
    }
}
