//! Tenants: one listener pair serving several independent daemons, told apart by their token.
//!
//! A request authenticated with a tenant's token behaves exactly as if it went to a separate daemon
//! holding that tenant's store, faults and request log. Every other request (no token, an unknown
//! token) goes to the default tenant, whose token is the daemon's `BD_DAEMON_TOKEN` — so refusals,
//! and a daemon with a single tenant, behave as before.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::faults::Faults;
use crate::ops::Backend;
use crate::requests::{RequestLog, RequestRecorder};
use crate::store::BeadStore;

/// Why a tenant could not be added. The token itself is never named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("a tenant token must not be empty (an empty token disables authentication)")]
    EmptyToken,
    #[error("the tenant token is already in use by another tenant of this daemon")]
    DuplicateToken,
}

/// A cheap-to-clone handle on one tenant: its token, beads, faults and requests.
#[derive(Clone)]
pub struct Tenant {
    backend: Arc<Backend>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("store", &self.backend.store)
            .finish_non_exhaustive()
    }
}

impl Tenant {
    pub(crate) fn new(backend: Arc<Backend>) -> Tenant {
        Tenant { backend }
    }

    /// The bearer token (HTTP, SSE) or `token` field (TCP) that reaches this tenant.
    pub fn token(&self) -> &str {
        &self.backend.token
    }

    pub fn store(&self) -> &BeadStore {
        &self.backend.store
    }

    pub fn faults(&self) -> &Faults {
        &self.backend.faults
    }

    /// A snapshot of the requests this tenant received so far.
    pub fn requests(&self) -> RequestLog {
        self.backend.requests.snapshot()
    }

    /// Forgets the requests this tenant received so far.
    pub fn reset_requests(&self) {
        self.backend.requests.reset();
    }
}

/// Every tenant of a daemon, and the routing of a request's token to one of them.
pub(crate) struct Tenants {
    default: Arc<Backend>,
    history_capacity: usize,
    /// The added tenants by token (the default tenant is not in here).
    by_token: RwLock<HashMap<String, Arc<Backend>>>,
}

impl Tenants {
    pub fn new(default: Backend, history_capacity: usize) -> Tenants {
        Tenants {
            default: Arc::new(default),
            history_capacity,
            by_token: RwLock::default(),
        }
    }

    pub fn default_backend(&self) -> &Arc<Backend> {
        &self.default
    }

    /// The tenant `token` reaches; the default tenant for no or an unknown token, which then
    /// refuses the request exactly as a single-tenant daemon would.
    pub fn route(&self, token: Option<&str>) -> Arc<Backend> {
        token
            .and_then(|token| {
                self.by_token
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(token)
                    .cloned()
            })
            .unwrap_or_else(|| Arc::clone(&self.default))
    }

    /// A new tenant with an empty store, sharing the daemon's version, address and connections.
    pub fn add(&self, token: String) -> Result<Tenant, TenantError> {
        if token.is_empty() {
            return Err(TenantError::EmptyToken);
        }
        let mut by_token = self
            .by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if token == self.default.token || by_token.contains_key(&token) {
            return Err(TenantError::DuplicateToken);
        }
        let backend = Arc::new(self.default.sibling(token.clone(), self.history_capacity));
        by_token.insert(token, Arc::clone(&backend));
        Ok(Tenant::new(backend))
    }

    pub fn get(&self, token: &str) -> Option<Tenant> {
        if token == self.default.token {
            return Some(Tenant::new(Arc::clone(&self.default)));
        }
        self.by_token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .map(|backend| Tenant::new(Arc::clone(backend)))
    }

    /// The default tenant first, then the added ones in no particular order.
    pub fn all(&self) -> Vec<Tenant> {
        let by_token = self.by_token.read().unwrap_or_else(PoisonError::into_inner);
        std::iter::once(&self.default)
            .chain(by_token.values())
            .map(|backend| Tenant::new(Arc::clone(backend)))
            .collect()
    }
}

impl Backend {
    /// A backend of the same daemon for another tenant: own store, faults and request log.
    fn sibling(&self, token: String, history_capacity: usize) -> Backend {
        let store = BeadStore::new(history_capacity);
        Backend {
            faults: Faults::new(store.clone()),
            store,
            requests: RequestRecorder::default(),
            connections: Arc::clone(&self.connections),
            version: self.version.clone(),
            token,
            http_addr: self.http_addr.clone(),
            started: self.started,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::issue::Issue;

    fn tenants(default_token: &str) -> Tenants {
        let store = BeadStore::default();
        let backend = Backend {
            faults: Faults::new(store.clone()),
            store,
            requests: RequestRecorder::default(),
            connections: Arc::default(),
            version: "1.0.0".into(),
            token: default_token.into(),
            http_addr: "127.0.0.1:1".into(),
            started: Instant::now(),
        };
        Tenants::new(backend, 10)
    }

    #[test]
    fn tokens_route_to_their_tenant_and_everything_else_to_the_default() {
        let tenants = tenants("default-token");
        let a = tenants.add("token-a".into()).unwrap();
        let b = tenants.add("token-b".into()).unwrap();
        a.store().insert(Issue::new("a-1", "of a"));
        b.store().insert(Issue::new("b-1", "of b"));

        assert_eq!(tenants.route(Some("token-a")).store.all()[0].id, "a-1");
        assert_eq!(tenants.route(Some("token-b")).store.all()[0].id, "b-1");
        for unknown in [None, Some("nope"), Some(""), Some("default-token")] {
            assert!(
                Arc::ptr_eq(&tenants.route(unknown), tenants.default_backend()),
                "{unknown:?}"
            );
        }
        assert!(tenants.default_backend().store.is_empty());
    }

    #[test]
    fn tenants_share_the_daemon_but_not_its_state() {
        let tenants = tenants("default-token");
        let a = tenants.add("token-a".into()).unwrap();
        let routed = tenants.route(Some("token-a"));
        let default = tenants.default_backend();
        assert_eq!(routed.version, default.version);
        assert_eq!(routed.http_addr, default.http_addr);
        assert!(Arc::ptr_eq(&routed.connections, &default.connections));
        a.faults().set_reject_tokens(true);
        assert!(routed.faults.rejects_tokens());
        assert!(!default.faults.rejects_tokens());
    }

    #[test]
    fn tokens_are_unique_and_never_empty() {
        let tenants = tenants("default-token");
        tenants.add("token-a".into()).unwrap();
        assert_eq!(
            tenants.add("token-a".into()).unwrap_err(),
            TenantError::DuplicateToken
        );
        assert_eq!(
            tenants.add("default-token".into()).unwrap_err(),
            TenantError::DuplicateToken
        );
        assert_eq!(
            tenants.add(String::new()).unwrap_err(),
            TenantError::EmptyToken
        );
        assert!(
            !TenantError::DuplicateToken.to_string().contains("token-a"),
            "errors never name the token"
        );
    }

    #[test]
    fn lookups_find_every_tenant_including_the_default() {
        let tenants = tenants("default-token");
        tenants.add("token-a".into()).unwrap();
        assert_eq!(tenants.get("token-a").unwrap().token(), "token-a");
        assert_eq!(
            tenants.get("default-token").unwrap().token(),
            "default-token"
        );
        assert!(tenants.get("nope").is_none());
        let all: Vec<String> = tenants.all().iter().map(|t| t.token().to_owned()).collect();
        assert_eq!(all, ["default-token", "token-a"]);
    }
}
