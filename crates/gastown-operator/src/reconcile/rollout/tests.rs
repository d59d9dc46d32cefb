//! The rollout rules, tested without a server.

use super::*;
use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

const POLICY: Policy = Policy {
    max_unavailable: 1,
    max_wait_for_idle: None,
};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn wanted(name: &str, role: AgentRole, image: &str) -> AgentSlot {
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
    pod.metadata.name = Some(name.into());
    AgentSlot::running(role, pod)
}

/// The pod `slot` wanted when the image was `image`, running and Ready or not.
fn running(slot: &AgentSlot, image: &str, ready: bool) -> Pod {
    let old = wanted(&slot.pod_name, slot.role, image);
    let Want::Pod(pod) = old.want else {
        unreachable!()
    };
    let mut pod = *pod;
    pod.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

fn decision<'a>(pace: &'a Pace, name: &str) -> &'a Decision {
    &pace.decisions.iter().find(|(n, _)| n == name).unwrap().1
}

fn view<'a>(slot: &'a AgentSlot, pod: Option<&'a Pod>) -> SlotView<'a> {
    SlotView {
        slot,
        observed: pod,
        busy: None,
    }
}

#[test]
fn an_up_to_date_scope_does_nothing_and_says_so() {
    let witness = wanted("gt-r-witness", AgentRole::Witness, "agent:2");
    let pod = running(&witness, "agent:2", true);
    let pace = pace(&[view(&witness, Some(&pod))], POLICY, at(0));
    assert_eq!(decision(&pace, "gt-r-witness"), &Decision::Leave);
    assert_eq!((pace.updated, pace.declared), (1, 1));
    assert!(pace.condition.status, "{:?}", pace.condition);
}

#[test]
fn outdated_agents_are_replaced_one_at_a_time_in_name_order() {
    let slots = [
        wanted("gt-r-witness", AgentRole::Witness, "agent:2"),
        wanted("gt-r-refinery", AgentRole::Refinery, "agent:2"),
        wanted("gt-r-crew-a", AgentRole::Crew, "agent:2"),
    ];
    let pods: Vec<Pod> = slots.iter().map(|s| running(s, "agent:1", true)).collect();
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&pods)
        .map(|(s, p)| view(s, Some(p)))
        .collect();
    let first = pace(&views, POLICY, at(0));
    assert_eq!(first.replacing().collect::<Vec<_>>(), ["gt-r-crew-a"]);
    assert!(matches!(
        decision(&first, "gt-r-witness"),
        Decision::Defer { .. }
    ));
    assert_eq!(first.condition.reason, "RollingOut");
    assert!(!first.condition.status);

    // The replaced one is gone (being recreated): nobody else goes meanwhile.
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&pods)
        .map(|(s, p)| view(s, (s.pod_name != "gt-r-crew-a").then_some(p)))
        .collect();
    let second = pace(&views, POLICY, at(1));
    assert_eq!(decision(&second, "gt-r-crew-a"), &Decision::Create);
    assert_eq!(second.replacing().count(), 0);

    // Back and Ready on the new spec: the next one goes.
    let renewed = running(&slots[2], "agent:2", true);
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&pods)
        .map(|(s, p)| {
            view(
                s,
                Some(if s.pod_name == "gt-r-crew-a" {
                    &renewed
                } else {
                    p
                }),
            )
        })
        .collect();
    let third = pace(&views, POLICY, at(2));
    assert_eq!(third.replacing().collect::<Vec<_>>(), ["gt-r-refinery"]);
    assert_eq!(third.updated, 1);

    // Two may go at once when the town allows it.
    let wide = Policy {
        max_unavailable: 2,
        ..POLICY
    };
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&pods)
        .map(|(s, p)| view(s, Some(p)))
        .collect();
    assert_eq!(pace(&views, wide, at(0)).replacing().count(), 2);
}

#[test]
fn failed_and_unready_outdated_pods_are_repaired_at_once() {
    let witness = wanted("gt-r-witness", AgentRole::Witness, "agent:2");
    let refinery = wanted("gt-r-refinery", AgentRole::Refinery, "agent:2");
    let mut failed = running(&witness, "agent:2", false);
    failed.status.as_mut().unwrap().phase = Some("Failed".into());
    let unready_old = running(&refinery, "agent:1", false);
    let pace = pace(
        &[
            view(&witness, Some(&failed)),
            view(&refinery, Some(&unready_old)),
        ],
        POLICY,
        at(0),
    );
    assert_eq!(decision(&pace, "gt-r-witness"), &Decision::Repair);
    assert_eq!(decision(&pace, "gt-r-refinery"), &Decision::Repair);
}

#[test]
fn a_busy_crew_member_waits_for_idle_unless_forced_or_waited_long_enough() {
    let crew = wanted("gt-r-crew-max", AgentRole::Crew, "agent:2");
    let pod = running(&crew, "agent:1", true);
    let busy = SlotView {
        slot: &crew,
        observed: Some(&pod),
        busy: Some("working on gt-42".into()),
    };
    let waiting = pace(std::slice::from_ref(&busy), POLICY, at(0));
    assert!(matches!(
        decision(&waiting, "gt-r-crew-max"),
        Decision::Defer {
            waiting_for_idle: true,
            ..
        }
    ));
    assert_eq!(waiting.condition.reason, "WaitingForIdle");
    assert!(
        waiting.condition.message.contains("gt-42"),
        "{}",
        waiting.condition.message
    );
    assert_eq!(waiting.start_waiting, ["gt-r-crew-max"]);

    // Idle in beads: replaced.
    let idle = SlotView {
        busy: None,
        ..busy.clone()
    };
    assert_eq!(pace(&[idle], POLICY, at(0)).replacing().count(), 1);

    // Forced by annotation: replaced, busy or not.
    let mut forced_pod = pod.clone();
    forced_pod
        .annotations_mut()
        .insert(FORCE_ANNOTATION.into(), "true".into());
    let forced = SlotView {
        observed: Some(&forced_pod),
        ..busy.clone()
    };
    assert_eq!(pace(&[forced], POLICY, at(0)).replacing().count(), 1);

    // Waited maxWaitForIdle since the annotated start: replaced.
    let mut waited_pod = pod.clone();
    waited_pod
        .annotations_mut()
        .insert(WAITING_SINCE_ANNOTATION.into(), at(100).to_string());
    let waited = SlotView {
        observed: Some(&waited_pod),
        ..busy.clone()
    };
    let patient = Policy {
        max_wait_for_idle: Some(Duration::from_secs(60)),
        ..POLICY
    };
    let early = pace(std::slice::from_ref(&waited), patient, at(130));
    assert_eq!(early.replacing().count(), 0);
    assert!(early.start_waiting.is_empty(), "the wait started already");
    assert_eq!(pace(&[waited], patient, at(160)).replacing().count(), 1);

    // Patrol roles never wait for idle.
    let witness = wanted("gt-r-witness", AgentRole::Witness, "agent:2");
    let old = running(&witness, "agent:1", true);
    let patrol = SlotView {
        slot: &witness,
        observed: Some(&old),
        busy: Some("working".into()),
    };
    assert_eq!(pace(&[patrol], POLICY, at(0)).replacing().count(), 1);
}

#[test]
fn held_pods_stay_out_of_the_applier() {
    let slots = [
        wanted("gt-r-witness", AgentRole::Witness, "agent:2"),
        wanted("gt-r-refinery", AgentRole::Refinery, "agent:2"),
    ];
    let pods: Vec<Pod> = slots.iter().map(|s| running(s, "agent:1", true)).collect();
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&pods)
        .map(|(s, p)| view(s, Some(p)))
        .collect();
    let paced = pace(&views, POLICY, at(0));
    let mut desired = Objects::default();
    for slot in &slots {
        slot.add_to(&mut desired);
    }
    paced.hold_deferred(&mut desired);
    assert_eq!(desired.wanted.len(), 1, "only the one replaced now");
    assert!(
        desired.keeps("gt-r-witness"),
        "the deferred pod is not pruned"
    );

    // A pod going away counts as unavailable.
    let mut leaving = pods[0].clone();
    leaving.metadata.deletion_timestamp = Some(Time(at(0)));
    let views = [
        view(&slots[0], Some(&leaving)),
        view(&slots[1], Some(&pods[1])),
    ];
    assert_eq!(pace(&views, POLICY, at(0)).replacing().count(), 0);
}

#[test]
fn agents_down_beside_the_scope_count_against_its_budget() {
    let witness = wanted("gt-r-witness", AgentRole::Witness, "agent:2");
    let old = running(&witness, "agent:1", true);
    let views = [view(&witness, Some(&old))];
    let blocked = pace_beside(&views, &["gt-r-crew-pooled".into()], POLICY, at(0));
    assert_eq!(blocked.replacing().count(), 0);
    assert!(matches!(
        decision(&blocked, "gt-r-witness"),
        Decision::Defer { why, .. } if why.contains("gt-r-crew-pooled")
    ));
    assert_eq!(
        pace_beside(&views, &[], POLICY, at(0)).replacing().count(),
        1
    );
}
