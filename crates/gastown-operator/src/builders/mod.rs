//! Pure builders of every object the operator manages: spec (and observed
//! facts) in, desired Kubernetes objects out. No I/O here.

pub mod agent_pod;
pub mod external_secret;
pub mod quantity;
pub mod rig;
pub mod security;
pub mod town;
