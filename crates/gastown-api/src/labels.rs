//! Label and annotation keys the operator puts on the objects it creates, and users may
//! select by.

/// The GasTown an object belongs to (also how a Rig applied on its own names its town).
pub const TOWN: &str = "gastown.io/town";
/// The rig an agent pod belongs to.
pub const RIG: &str = "gastown.io/rig";
/// The role of an agent pod (`polecat`, `crew`, ...).
pub const ROLE: &str = "gastown.io/role";
/// The AgentPool that created an agent pod.
pub const POOL: &str = "gastown.io/pool";
/// The agent's name (e.g. a polecat's `furiosa`).
pub const AGENT: &str = "gastown.io/agent";
/// On the pods that mount a rig's shared workspace claim (witness and refinery): the Rig
/// object's name. They select each other by it to land on one node, as a ReadWriteOnce volume
/// needs.
pub const WORKSPACE: &str = "gastown.io/workspace";
/// `app.kubernetes.io/name` on every object of the operator.
pub const APP_NAME: &str = "app.kubernetes.io/name";
/// The value of [`APP_NAME`].
pub const APP_NAME_VALUE: &str = "gastown";
/// Annotation with the ID of the bead an agent pod was created for.
pub const BEAD_ID_ANNOTATION: &str = "gastown.io/bead-id";
/// Annotation a user puts on a GasTown to drain it without deleting it: no new polecats start
/// (running ones finish) until it is removed. Its value says when and by whom (free text);
/// `kubectl gastown drain` writes it, `kubectl gastown resume` removes it.
pub const DRAIN_ANNOTATION: &str = "gastown.io/drain";
/// Annotation on a GasTown asking for one dolt backup now; each value runs once.
pub const BACKUP_NOW_ANNOTATION: &str = "gastown.io/backup-now";
