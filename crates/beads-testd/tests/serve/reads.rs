//! Read routes: context, ready, list, count (bd-serve-v0.md §3.2–§3.6, §4, §5).

use super::*;

// §3.3: identity and capabilities.
#[tokio::test]
async fn context_reports_identity_and_capabilities() {
    let daemon = serve().await;
    assert_eq!(daemon.personality(), Personality::Serve);
    let answer = get(&daemon, "/v0/beads/context").await;
    assert_eq!(answer.status, 200);
    let body = &answer.body;
    assert_eq!(body["api_version"], "v0");
    assert_eq!(body["bd_version"], "1.2.3");
    assert_eq!(body["backend"], "dolt");
    assert_eq!(body["dolt_mode"], "server");
    assert_eq!(body["database"], "beads");
    assert_eq!(body["project_id"], "testd-project");
    assert!(body["schema_version"].is_i64());
    let caps: Vec<&str> = body["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for wanted in [
        "issues.list",
        "issues.count",
        "issues.update",
        "issues.casMetadata",
        "events.watch",
    ] {
        assert!(caps.contains(&wanted), "{wanted}");
    }
}

// Fault: capabilities_without.
#[tokio::test]
async fn capabilities_fault_removes_tokens() {
    let daemon = serve().await;
    daemon
        .faults()
        .capabilities_without(&["issues.casMetadata", "events.watch"]);
    let caps = get(&daemon, "/v0/beads/context").await.body["capabilities"].clone();
    assert!(
        !caps
            .as_array()
            .unwrap()
            .contains(&json!("issues.casMetadata"))
    );
    assert!(!caps.as_array().unwrap().contains(&json!("events.watch")));
    assert!(caps.as_array().unwrap().contains(&json!("issues.list")));
    daemon.faults().clear();
    let caps = get(&daemon, "/v0/beads/context").await.body["capabilities"].clone();
    assert!(caps.as_array().unwrap().contains(&json!("events.watch")));
}

// §6: limit defaults 50 / 100 / 1000 and the non-loopback `limit=0` 400.
#[tokio::test]
async fn limit_defaults_and_unlimited_reads() {
    let daemon = serve().await;
    for n in 0..1100 {
        daemon
            .store()
            .insert(Issue::new(format!("gt-{n:04}"), "work"));
    }
    let list = get(&daemon, "/v0/beads/issues").await;
    assert_eq!(
        (ids(&list).len(), list.body["has_more"].clone()),
        (50, json!(true))
    );
    let ready = get(&daemon, "/v0/beads/ready").await;
    assert_eq!(ids(&ready).len(), 100);
    let events = get(&daemon, "/v0/beads/events?since=0").await;
    assert_eq!(events.body["records"].as_array().unwrap().len(), 1000);
    assert_eq!(events.body["head"], 1100);
    for path in ["/v0/beads/issues?limit=0", "/v0/beads/ready?limit=0"] {
        let answer = get(&daemon, path).await;
        assert_problem(&answer, 400, "invalid_argument");
        assert_eq!(answer.body["param"], "limit");
    }
    assert_problem(
        &get(&daemon, "/v0/beads/events?since=0&limit=0").await,
        400,
        "invalid_argument",
    );

    let loopback = serve_with(TestDaemonConfig {
        allow_non_loopback: false,
        ..config()
    })
    .await;
    for n in 0..60 {
        loopback
            .store()
            .insert(Issue::new(format!("gt-{n}"), "work"));
    }
    let all = get(&loopback, "/v0/beads/issues?limit=0").await;
    assert_eq!(
        (ids(&all).len(), all.body["has_more"].clone()),
        (60, json!(false))
    );
    assert!(all.body.get("next_cursor").is_none());
}

// §6: cursor bound to sort.
#[tokio::test]
async fn keyset_cursor_pages_and_is_bound_to_its_sort() {
    let daemon = serve().await;
    let base = jiff::Timestamp::from_second(1_700_000_000).unwrap();
    for n in 0..7 {
        daemon.store().insert(
            Issue::new(format!("gt-{n}"), "work")
                .with_priority(n % 3)
                .with_created_at(base + jiff::SignedDuration::from_secs(n / 2)),
        );
    }
    for sort in ["created", "priority"] {
        let mut seen = Vec::new();
        let mut path = format!("/v0/beads/issues?sort={sort}&limit=3");
        loop {
            let page = get(&daemon, &path).await;
            seen.extend(ids(&page));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => {
                    assert_eq!(page.body["has_more"], true);
                    path = format!("/v0/beads/issues?sort={sort}&limit=3&cursor={cursor}");
                }
                None => break,
            }
        }
        let everything = ids(&get(&daemon, &format!("/v0/beads/issues?sort={sort}")).await);
        assert_eq!(seen, everything, "{sort}");
        assert_eq!(seen.len(), 7);
    }
    // created: created_at DESC, id ASC.
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?limit=3").await),
        ["gt-6", "gt-4", "gt-5"]
    );
    let first = get(&daemon, "/v0/beads/issues?sort=created&limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let mismatched = get(
        &daemon,
        &format!("/v0/beads/issues?sort=priority&cursor={cursor}"),
    )
    .await;
    assert_problem(&mismatched, 400, "invalid_cursor");
    assert_problem(
        &get(&daemon, "/v0/beads/issues?cursor=zz").await,
        400,
        "invalid_cursor",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?sort=title").await,
        400,
        "invalid_argument",
    );
}

// §6: count includes closed, list hides it.
#[tokio::test]
async fn count_includes_closed_and_list_hides_it() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "open"));
    daemon
        .store()
        .insert(Issue::new("gt-2", "done").with_status("closed"));
    daemon
        .store()
        .insert(Issue::new("gt-3", "hooked").with_status("hooked"));
    let mut listed = ids(&get(&daemon, "/v0/beads/issues").await);
    listed.sort();
    assert_eq!(listed, ["gt-1", "gt-3"]);
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?status=closed").await),
        ["gt-2"]
    );
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?status=open,closed").await).len(),
        2
    );
    let count = get(&daemon, "/v0/beads/issues:count").await;
    assert_eq!(count.body, json!({"total": 3}));
    let count = get(&daemon, "/v0/beads/issues:count?status=closed").await;
    assert_eq!(count.body["total"], 1);
    let count = get(&daemon, "/v0/beads/issues:count?status=open,closed").await;
    assert_eq!(count.body["total"], 0, "status is ONE value; unknown ⇒ 0");
    let grouped = get(&daemon, "/v0/beads/issues:count?group_by=status").await;
    assert_eq!(
        grouped.body["groups"],
        json!({"open": 1, "closed": 1, "hooked": 1})
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues:count?group_by=colour").await,
        400,
        "invalid_argument",
    );
}

// §3.2: the ready set.
#[tokio::test]
async fn ready_is_open_unblocked_durable_work() {
    let daemon = serve().await;
    let store = daemon.store();
    store.insert(Issue::new("gt-work", "work"));
    store.insert(Issue::new("gt-blocker", "blocker"));
    let mut blocked = Issue::new("gt-blocked", "blocked");
    blocked.dependencies.push(beads_testd::Dependency {
        issue_id: "gt-blocked".into(),
        depends_on_id: "gt-blocker".into(),
        dep_type: "blocks".into(),
        created_at: blocked.created_at,
    });
    store.insert(blocked);
    store.insert(Issue::merge_request("gastown", "gt-mr-1", "open"));
    store.insert(Issue::agent(Some("gastown"), "witness", "witness", "idle").with_status("open"));
    store.insert(Issue::new("gt-wisp", "wisp").with_ephemeral(true));
    store.insert(Issue::new("gt-doing", "doing").with_status("in_progress"));
    let mut ready = ids(&get(&daemon, "/v0/beads/ready").await);
    ready.sort();
    assert_eq!(ready, ["gt-blocker", "gt-work"]);
    store.close("gt-blocker");
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/ready").await),
        ["gt-blocked", "gt-work"]
    );
    let one = get(&daemon, "/v0/beads/ready?limit=1").await;
    assert_eq!(one.body["has_more"], true);
    assert!(one.body["items"][0]["dependency_count"].is_u64());
}

// §4/§5 recipes against a town written as Gas Town writes it today.
#[tokio::test]
async fn gas_town_today_recipes() {
    let daemon = serve().await;
    let shape = TownShape {
        style: AgentStyle::GasTownToday,
        ..TownShape::default()
    };
    seed_town(daemon.store(), &["gastown"], &shape);

    let agents = get(
        &daemon,
        "/v0/beads/issues?label=gt:agent&include_infra=true&limit=200",
    )
    .await;
    let agent_ids = ids(&agents);
    assert_eq!(agent_ids.len(), 9);
    assert!(agent_ids.contains(&"hq-mayor".to_owned()));
    let nux = agents.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "gt-gastown-polecat-nux")
        .unwrap();
    assert!(
        nux["description"]
            .as_str()
            .unwrap()
            .contains("\nagent_state: working\n")
    );
    assert!(nux.get("agent_state").is_none(), "no agent columns in v0");

    // MRs are wisps: count needs include_infra.
    let queued = "/v0/beads/issues:count?label=gt:merge-request&status=open";
    assert_eq!(get(&daemon, queued).await.body["total"], 0);
    assert_eq!(
        get(&daemon, &format!("{queued}&include_infra=true"))
            .await
            .body["total"],
        2
    );
    assert!(ids(&get(&daemon, "/v0/beads/issues?label=gt:merge-request").await).is_empty());
    assert_eq!(
        ids(&get(
            &daemon,
            "/v0/beads/issues?label=gt:merge-request&include_ephemeral=true"
        )
        .await)
        .len(),
        3
    );

    let hooked = get(
        &daemon,
        "/v0/beads/issues?status=hooked&assignee=gastown/polecats/nux&include_ephemeral=true",
    )
    .await;
    assert_eq!(ids(&hooked), ["gastown-task-0"]);

    // Helpers write the description line and the hook the current way.
    assert!(
        daemon
            .store()
            .set_agent_state("gt-gastown-polecat-nux", "stuck")
    );
    let nux = get(&daemon, "/v0/beads/issues/gt-gastown-polecat-nux").await;
    assert!(
        nux.body["description"]
            .as_str()
            .unwrap()
            .contains("\nagent_state: stuck\n")
    );
    daemon
        .store()
        .insert(Issue::new("gastown-task-9", "more work"));
    assert!(
        daemon
            .store()
            .hook_work("gt-gastown-crew-max", "gastown-task-9")
    );
    let crew_hook = get(
        &daemon,
        "/v0/beads/issues?status=hooked&assignee=gastown/crew/max",
    )
    .await;
    assert_eq!(ids(&crew_hook), ["gastown-task-9"]);
}

// §3.4 filters: infra types, labels, metadata, parent.
#[tokio::test]
async fn list_filters() {
    let daemon = serve().await;
    let store = daemon.store();
    store.insert(Issue::new("gt-epic", "epic").with_type("epic"));
    store.insert(
        Issue::new("gt-a", "a")
            .with_parent("gt-epic")
            .with_labels(["x", "y"]),
    );
    store.insert(
        Issue::new("gt-b", "b")
            .with_parent("gt-a")
            .with_labels(["x"])
            .with_metadata(json!({"k": "v", "n": 3})),
    );
    store.insert(Issue::agent(Some("gastown"), "crew", "joe", "idle"));
    store.insert(Issue::new("gt-gate", "gate").with_type("gate"));
    let sorted = |answer: Answer| {
        let mut ids = ids(&answer);
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues").await),
        ["gt-a", "gt-b", "gt-epic"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?include_infra=true").await).len(),
        4
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?include_gates=true").await).len(),
        4
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?parent=gt-epic").await),
        ["gt-a", "gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label=x&label=y").await),
        ["gt-a"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label=x&exclude_label=y").await),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label_any=y&label_any=nope").await),
        ["gt-a"]
    );
    assert_eq!(
        sorted(
            get(
                &daemon,
                "/v0/beads/issues?metadata_field=k=v&metadata_field=n=3"
            )
            .await
        ),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?has_metadata_key=n").await),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?type=epic").await),
        ["gt-epic"]
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?type=spaceship").await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?metadata_field=1bad=x").await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?include_infra=maybe").await,
        400,
        "invalid_argument",
    );
}
