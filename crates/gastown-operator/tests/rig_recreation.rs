//! A Rig the town declares carries the Rig controller's finalizer from the
//! town's apply. Deleting it by hand runs the rig's own teardown; the town
//! leaves the terminating Rig alone — even once the rig's finalizer is gone
//! and another one still holds it, when the town's desired Rig (finalizer
//! included) no longer matches — and recreates it once it is gone.

mod common;

use common::{CONVERGE, Harness, RIG, TOWN, converged_town, eventually};
use gastown_api::{Phase, Rig};
use gastown_operator::naming;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};

const HOLD: &str = "example.com/hold";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_declared_rig_tears_down_and_comes_back_with_its_finalizer() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let rigs = harness.api::<Rig>();
    let name = naming::rig_object(TOWN, RIG);
    let before = rigs.get(&name).await.expect("the rig");
    assert_eq!(before.finalizers(), [naming::RIG_FINALIZER]);
    let kube_errors = |controller: &str| {
        harness
            .metrics()
            .reconcile_errors
            .with_label_values(&[controller, "kube"])
            .get()
    };
    let town_errors = kube_errors("gastown");
    // Someone else's finalizer keeps the Rig after the rig's teardown.
    let hold = |finalizers: &[&str]| serde_json::json!({"metadata": {"finalizers": finalizers}});
    rigs.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(hold(&[naming::RIG_FINALIZER, HOLD])),
    )
    .await
    .expect("the hold is added");

    rigs.delete(&name, &DeleteParams::background())
        .await
        .expect("the rig is deleted");
    eventually("the rig's teardown is done", CONVERGE, || async {
        let rig = rigs.get(&name).await.ok()?;
        (rig.finalizers() == [HOLD]).then_some(())
    })
    .await;
    // The town sees the rig's last change, and a sync later still leaves it be.
    let town_reconciles = harness.reconciles("gastown");
    eventually("the town reconciles twice more", CONVERGE, || async {
        (harness.reconciles("gastown") >= town_reconciles + 2).then_some(())
    })
    .await;
    let held = rigs.get(&name).await.expect("held by the other finalizer");
    assert_eq!(
        held.finalizers(),
        [HOLD],
        "nothing re-added the rig's finalizer"
    );
    assert_eq!(
        kube_errors("gastown"),
        town_errors,
        "no apply to the terminating rig"
    );

    rigs.patch(&name, &PatchParams::default(), &Patch::Merge(hold(&[])))
        .await
        .expect("the hold is released");
    let old_uid = before.uid();
    let recreated = eventually(
        "the town recreates the rig after its teardown",
        CONVERGE,
        || async {
            let rig = rigs.get(&name).await.ok()?;
            (rig.uid() != old_uid && rig.metadata.deletion_timestamp.is_none()).then_some(rig)
        },
    )
    .await;
    assert_eq!(recreated.finalizers(), [naming::RIG_FINALIZER]);
    eventually("the recreated rig runs", CONVERGE, || async {
        let rig = rigs.get(&name).await.ok()?;
        (rig.status?.phase == Some(Phase::Running)).then_some(())
    })
    .await;
    assert_eq!(
        kube_errors("gastown"),
        town_errors,
        "the town never applied to the terminating rig"
    );
    harness.shutdown().await;
}
