//! Decoding of `bd serve` answers, without a server.

use serde_json::json;

use super::IssueQuery;
use super::changes::{Frame, Refusal, after_truncation, interpret};
use super::http::{Failure, parse_retry_after};
use super::snapshot::assign_hooks;
use super::wire::*;
use crate::error::BeadsError;
use crate::model::{AgentBead, Issue, IssueStatus, Role};

#[test]
fn problems_decode_with_their_extension_members() {
    let body = br#"{"status":410,"title":"Gone","code":"events_journal_truncated",
        "detail":"pruned","request_id":"8f3a1c07-000042","since":"3","floor":120,"head":"4000","extra":[1]}"#;
    let problem = Problem::parse(body).expect("a problem");
    assert_eq!(problem.status, Some(410));
    assert_eq!(problem.code, "events_journal_truncated");
    assert_eq!(
        (problem.since, problem.floor, problem.head),
        (Some(3), Some(120), Some(4000))
    );
    assert_eq!(problem.describe(), "pruned (request_id 8f3a1c07-000042)");

    let bad_param = Problem::parse(
        br#"{"status":400,"title":"Bad Request","code":"invalid_argument","param":"type","reason":"invalid_value","request_id":"r-1"}"#,
    )
    .unwrap();
    assert_eq!(
        bad_param.describe(),
        "Bad Request (param type, reason invalid_value, request_id r-1)"
    );
    // The daemon's error shape, garbage and a code of the wrong type are not problems.
    assert!(Problem::parse(br#"{"error":"unauthorized"}"#).is_none());
    assert!(Problem::parse(b"<html>bad gateway</html>").is_none());
    assert!(Problem::parse(br#"{"code":42}"#).is_none());
}

#[test]
fn retry_after_is_seconds_and_clamped() {
    assert_eq!(
        parse_retry_after(" 2 "),
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        parse_retry_after("86400"),
        Some(super::http::MAX_RETRY_AFTER)
    );
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
}

#[test]
fn only_5xx_problems_are_transient() {
    let problem = |status| BeadsError::Problem {
        endpoint: "http://x/".into(),
        operation: "list issues",
        status,
        code: "c".into(),
        detail: String::new(),
        retry_after: None,
        body: None,
    };
    assert!(problem(503).is_transient());
    assert!(problem(500).is_transient());
    assert!(!problem(400).is_transient());
    assert!(!problem(409).is_transient());
    let missing = BeadsError::MissingCapability {
        endpoint: "http://x/".into(),
        operation: "snapshot",
        capability: "issues.list".into(),
    };
    assert!(!missing.is_transient());
    assert!(missing.to_string().contains("\"issues.list\""), "{missing}");
}

#[test]
fn refusals_are_classified_by_code() {
    let failure = |code: &str, problem: Option<Problem>| Failure {
        error: BeadsError::Problem {
            endpoint: "http://x/".into(),
            operation: "events:watch",
            status: 409,
            code: code.into(),
            detail: String::new(),
            retry_after: None,
            body: None,
        },
        problem,
    };
    assert!(matches!(
        Refusal::from_failure(failure("events_journal_disabled", None)),
        Refusal::Disabled
    ));
    assert!(matches!(
        Refusal::from_failure(failure("events_watch_saturated", None)),
        Refusal::Saturated
    ));
    let pruned = Problem {
        floor: Some(50),
        head: Some(90),
        ..Problem::default()
    };
    assert!(matches!(
        Refusal::from_failure(failure("events_journal_truncated", Some(pruned))),
        Refusal::Truncated {
            floor: Some(50),
            head: Some(90)
        }
    ));
    assert!(matches!(
        Refusal::from_failure(failure("busy", None)),
        Refusal::Other(_)
    ));
}

#[test]
fn truncation_resumes_before_the_floor_else_at_the_head() {
    assert_eq!(after_truncation(3, Some(50), Some(90)), 49);
    assert_eq!(after_truncation(3, None, Some(90)), 90);
    assert_eq!(after_truncation(3, Some(0), None), 3);
}

#[test]
fn watch_frames_are_records_truncations_or_ignored() {
    let frame = |event: &str, data: &str| eventsource_stream::Event {
        event: event.into(),
        data: data.into(),
        id: String::new(),
        retry: None,
    };
    let record = interpret(&frame(
        "message",
        r#"{"seq":7,"ts":"2026-08-01T10:00:00Z","op":"update","issue_id":"gt-1","actor":"mayor","issue":{"id":"gt-1"},"new":1}"#,
    ));
    let Frame::Record(record) = record else {
        panic!("a record: {record:?}")
    };
    assert_eq!(
        (record.seq, record.op.as_str(), record.actor.as_deref()),
        (7, "update", Some("mayor"))
    );
    let system = interpret(&frame(
        "",
        r#"{"seq":8,"op":"delete","issue_id":"gt-2","issue":null}"#,
    ));
    assert!(matches!(
        system,
        Frame::Record(EventRecord {
            seq: 8,
            actor: None,
            ..
        })
    ));
    assert_eq!(
        interpret(&frame(
            "truncated",
            r#"{"status":410,"code":"events_journal_truncated","floor":20,"head":30}"#
        )),
        Frame::Truncated {
            floor: Some(20),
            head: Some(30)
        }
    );
    assert_eq!(interpret(&frame("message", "{not json")), Frame::Ignored);
    assert_eq!(
        interpret(&frame("message", r#"{"op":"update"}"#)),
        Frame::Ignored
    );
    assert_eq!(
        interpret(&frame("surprise", r#"{"seq":9}"#)),
        Frame::Ignored
    );
}

#[test]
fn events_pages_need_a_head_and_skip_records_without_seq() {
    let page = EventsPage::from_value(&json!({
        "records": [{"seq": 4, "op": "create"}, {"op": "broken"}, {"seq": "5", "op": "update"}],
        "head": 9
    }))
    .unwrap();
    assert_eq!(
        page.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(page.head, 9);
    assert!(EventsPage::from_value(&json!({"records": []})).is_err());
    assert!(EventsPage::from_value(&json!({"records": 3, "head": 1})).is_err());
}

#[test]
fn v0_issues_with_odd_metadata_decode() {
    let base = |metadata: serde_json::Value| {
        json!({
            "id": "gt-gastown-polecat-nux", "title": "Polecat nux", "priority": 2,
            "created_at": "2026-08-01T10:00:00Z", "updated_at": "2026-08-01T11:00:00Z",
            "status": "open", "labels": ["gt:agent", 7, null], "ephemeral": false,
            "dependency_count": 0, "dependent_count": 1, "comment_count": 0, "parent": "gt-x",
            "description": "Polecat nux\n\nrole_type: polecat\nrig: gastown\nagent_state: working\nhook_bead: null",
            "metadata": metadata
        })
    };
    let pod = json!({"k8s_pod": {"name": "gt-nux", "ip": "10.0.0.7", "node": "n1", "status": "running"}, "n": 1.5, "list": [1]});
    let issue = decode_issue(&base(pod)).unwrap();
    assert_eq!(issue.labels, ["gt:agent"], "non-string labels are dropped");
    assert_eq!(issue.pod_name.as_deref(), Some("gt-nux"));
    assert_eq!(issue.pod_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(issue.pod_status.as_deref(), Some("running"));
    assert_eq!(issue.dependent_count, 1);
    assert!(issue.updated_at.is_some());
    let bead = AgentBead::from_issue(&issue).unwrap();
    assert_eq!(bead.role, Some(Role::Polecat));
    assert_eq!(bead.rig.as_deref(), Some("gastown"));
    assert_eq!(bead.state.as_ref().map(|s| s.as_str()), Some("working"));
    assert_eq!(
        bead.hook_bead, None,
        "`null` in a description line is empty"
    );
    assert_eq!(bead.pod.node.as_deref(), Some("n1"));

    for odd in [
        json!(null),
        json!("not json at all"),
        json!([1, 2]),
        json!(42),
        json!({"k8s_pod": "gt-nux"}),
        json!({"other": {"name": "x"}}),
    ] {
        let issue = decode_issue(&base(odd.clone())).unwrap_or_else(|e| panic!("{odd}: {e}"));
        assert_eq!(issue.pod_name, None, "{odd}");
    }
    // Metadata stored as an encoded JSON object, and §5's `phase` spelling.
    let encoded = json!(r#"{"k8s_pod":{"name":"gt-a","phase":"Pending"}}"#);
    let issue = decode_issue(&base(encoded)).unwrap();
    assert_eq!(
        (issue.pod_name.as_deref(), issue.pod_status.as_deref()),
        (Some("gt-a"), Some("Pending"))
    );
}

#[test]
fn v0_issues_with_wrongly_typed_members_keep_the_rest() {
    let issue = decode_issue(&json!({
        "id": "gt-1", "title": 5, "priority": "high", "status": "hooked",
        "assignee": {"who": "x"}, "created_at": "yesterday", "labels": "gt:agent",
        "agent_state": "working", "pod_name": "legacy-column"
    }))
    .unwrap();
    assert_eq!(issue.id, "gt-1");
    assert_eq!(issue.title, "");
    assert_eq!(issue.priority, None);
    assert_eq!(issue.status, IssueStatus::Hooked);
    assert_eq!(issue.assignee, None);
    assert!(issue.labels.is_empty());
    assert_eq!(issue.agent_state, None, "v0 has no agent columns (§4)");
    assert_eq!(issue.pod_name, None);
    assert!(decode_issue(&json!({"title": "no id"})).is_err());
    assert!(decode_issue(&json!("gt-1")).is_err());
}

#[test]
fn pod_metadata_holds_only_present_members() {
    let pod = crate::model::PodFields {
        name: Some("gt-nux".into()),
        status: Some("running".into()),
        ..Default::default()
    };
    assert_eq!(
        pod_metadata(&pod),
        json!({"name": "gt-nux", "status": "running"})
    );
    let back = pod_from_metadata(Some(&json!({ POD_METADATA_KEY: pod_metadata(&pod) })));
    assert_eq!(back, pod);
}

#[test]
fn context_needs_v0_members() {
    let context = ServerContext::from_value(&json!({
        "api_version": "v0", "bd_version": "0.63.0", "schema_version": 12, "backend": "dolt",
        "dolt_mode": "server", "database": "hq", "project_id": "p",
        "capabilities": ["issues.list", 3, "events.watch"]
    }))
    .unwrap();
    assert!(context.has("issues.list") && context.has("events.watch"));
    assert!(!context.has("issues.update"));
    assert_eq!(context.bd_version, "0.63.0");
    assert!(ServerContext::from_value(&json!({"status": "ok"})).is_none());
    assert!(ServerContext::from_value(&json!([])).is_none());
}

#[test]
fn list_queries_send_only_section_3_4_parameters() {
    let query = IssueQuery {
        label: vec!["gt:agent".into()],
        include_infra: true,
        ..IssueQuery::default()
    };
    let first = query.pairs(None);
    assert_eq!(
        first,
        [
            ("label", "gt:agent".to_owned()),
            ("include_infra", "true".into()),
            ("limit", "200".into())
        ]
    );
    let next = query.pairs(Some("c2"));
    assert_eq!(
        next[..first.len()],
        first[..],
        "filters identical on every page"
    );
    assert_eq!(next.last(), Some(&("cursor", "c2".to_owned())));
    let hooked = IssueQuery {
        status: vec!["hooked".into()],
        issue_type: Some("agent".into()),
        assignee: Some("gastown/polecats/nux".into()),
        include_ephemeral: true,
        ..IssueQuery::default()
    };
    let keys: Vec<&str> = hooked.pairs(None).iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        ["status", "type", "assignee", "include_ephemeral", "limit"]
    );
}

#[test]
fn paging_follows_cursors_and_refuses_loops() {
    let page = |has_more: bool, cursor: Option<&str>| IssuePage {
        items: Vec::new(),
        has_more,
        next_cursor: cursor.map(str::to_owned),
    };
    let mut pager = Pager::default();
    assert_eq!(
        pager.next_cursor(&page(true, Some("a"))),
        Ok(Some("a".into()))
    );
    assert_eq!(
        pager.next_cursor(&page(true, Some("b"))),
        Ok(Some("b".into()))
    );
    assert_eq!(pager.next_cursor(&page(false, Some("ignored"))), Ok(None));
    assert!(Pager::default().next_cursor(&page(true, None)).is_err());
    let mut looping = Pager::default();
    looping.next_cursor(&page(true, Some("a"))).unwrap();
    assert!(looping.next_cursor(&page(true, Some("a"))).is_err());

    let decoded = IssuePage::from_value(
        &json!({"items": [{"id": "a"}], "has_more": true, "next_cursor": "x"}),
    )
    .unwrap();
    assert_eq!(
        (
            decoded.items.len(),
            decoded.has_more,
            decoded.next_cursor.as_deref()
        ),
        (1, true, Some("x"))
    );
    let last = IssuePage::from_value(&json!({"items": null, "has_more": false})).unwrap();
    assert!(last.items.is_empty() && last.next_cursor.is_none());
    assert!(IssuePage::from_value(&json!({"items": {}})).is_err());
}

fn agent(id: &str, description: &str) -> Issue {
    Issue {
        id: id.into(),
        labels: vec!["gt:agent".into()],
        description: description.into(),
        ..Issue::default()
    }
}

#[test]
fn identity_paths_follow_gas_town() {
    let cases = [
        ("hq-mayor", "Mayor\n\nrole_type: mayor\nrig: null", "mayor/"),
        (
            "hq-deacon",
            "Deacon\n\nrole_type: deacon\nrig: null",
            "deacon/",
        ),
        (
            "hq-dog-alpha",
            "Dog\n\nrole_type: dog\nrig: null",
            "deacon/dogs/alpha",
        ),
        (
            "gt-gastown-witness",
            "W\n\nrole_type: witness\nrig: gastown",
            "gastown/witness",
        ),
        (
            "bd-beads-refinery",
            "R\n\nrole_type: refinery\nrig: beads",
            "beads/refinery",
        ),
        (
            "gt-gastown-polecat-nux",
            "P\n\nrole_type: polecat\nrig: gastown",
            "gastown/polecats/nux",
        ),
        (
            "ff-polecat-toast",
            "P\n\nrole_type: polecat\nrig: ff",
            "ff/polecats/toast",
        ),
        (
            "bd-beads-crew-max",
            "C\n\nrole_type: crew\nrig: beads",
            "beads/crew/max",
        ),
        (
            "ff-witness",
            "W\n\nrole_type: witness\nrig: ff",
            "ff/witness",
        ),
    ];
    for (id, description, identity) in cases {
        let bead = AgentBead::from_issue(&agent(id, description)).unwrap();
        assert_eq!(bead.identity().as_deref(), Some(identity), "{id}");
    }
    let no_rig = AgentBead::from_issue(&agent("x-1", "P\n\nrole_type: polecat")).unwrap();
    assert_eq!(no_rig.identity(), None);
}

#[test]
fn hooked_work_goes_to_the_agent_named_by_its_assignee() {
    let mut agents = vec![
        agent(
            "gt-gastown-polecat-nux",
            "P\n\nrole_type: polecat\nrig: gastown\nhook_bead: stale",
        ),
        agent("hq-mayor", "M\n\nrole_type: mayor\nrig: null"),
        agent(
            "gt-gastown-polecat-slit",
            "P\n\nrole_type: polecat\nrig: gastown\nhook_bead: from-line",
        ),
    ];
    let work = |id: &str, assignee: &str| Issue {
        id: id.into(),
        status: IssueStatus::Hooked,
        assignee: Some(assignee.into()),
        ..Issue::default()
    };
    let hooked = [
        work("gt-task-1", "gastown/polecats/nux"),
        work("gt-task-0", "gastown/polecats/nux"),
        work("hq-plan", "mayor"),
        work("bd-task", "beads/polecats/nux"),
    ];
    assign_hooks(&mut agents, &hooked);
    let hooks: Vec<Option<&str>> = agents.iter().map(|a| a.field("hook_bead")).collect();
    assert_eq!(
        hooks,
        [Some("gt-task-1"), Some("hq-plan"), Some("from-line")]
    );
}
