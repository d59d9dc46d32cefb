//! What the server serves right now: the built-in kinds plus one entry per
//! served version of every established CustomResourceDefinition.

use crate::builtin::{self, BuiltinKind};
use crate::custom::CustomValidator;
use crate::errors::{FieldError, QualifiedResource};
use crate::names::NameRule;
use crate::resource::ResourceInfo;
use crate::scale::ScalePaths;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// Where a resource's objects are stored: one collection per group and plural,
/// shared by all versions of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub group: String,
    pub plural: String,
}

/// How writes of a resource are checked.
#[derive(Clone)]
pub enum Check {
    /// Decode into the k8s-openapi type and check required fields against its schema.
    Decode {
        decode: fn(&Value) -> Result<(), Vec<FieldError>>,
        schema: Arc<LazySchema>,
    },
    /// Validate, default and prune with the CRD version's structural schema.
    Schema(Option<Arc<CustomValidator>>),
}

/// A built-in type's JSON schema, generated on first use (a few ms each).
pub struct LazySchema {
    generate: fn() -> Value,
    schema: OnceLock<Value>,
}

impl LazySchema {
    fn new(generate: fn() -> Value) -> Self {
        Self {
            generate,
            schema: OnceLock::new(),
        }
    }

    pub fn get(&self) -> &Value {
        self.schema.get_or_init(self.generate)
    }
}

/// One served group/version/resource and its behaviour.
#[derive(Clone)]
pub struct Served {
    pub info: ResourceInfo,
    pub name_rule: NameRule,
    pub tracks_generation: bool,
    pub selectable_fields: Vec<String>,
    pub check: Check,
    /// Where the `/scale` subresource reads and writes replicas, if served.
    pub scale: Option<ScalePaths>,
}

impl Served {
    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            group: self.info.group.clone(),
            plural: self.info.plural.clone(),
        }
    }

    pub fn qualified(&self) -> QualifiedResource {
        QualifiedResource::new(&self.info.group, &self.info.plural)
    }

    /// Whether `fieldSelector` may name `field` for this resource.
    pub fn supports_field(&self, field: &str) -> bool {
        field == "metadata.name"
            || (field == "metadata.namespace" && self.info.namespaced)
            || self.selectable_fields.iter().any(|f| f == field)
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.info.group == group && self.info.kind == kind && !self.info.custom
    }
}

impl From<BuiltinKind> for Served {
    fn from(kind: BuiltinKind) -> Self {
        Served {
            scale: ScalePaths::builtin(&kind.info),
            info: kind.info,
            name_rule: kind.name_rule,
            tracks_generation: kind.tracks_generation,
            selectable_fields: kind
                .selectable_fields
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            check: Check::Decode {
                decode: kind.decode,
                schema: Arc::new(LazySchema::new(kind.schema)),
            },
        }
    }
}

#[derive(Clone)]
pub struct Registry {
    builtins: Vec<Arc<Served>>,
    /// Served versions by CRD name.
    custom: BTreeMap<String, Vec<Arc<Served>>>,
    by_path: HashMap<(String, String, String), Arc<Served>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        let builtins = builtin::kinds()
            .into_iter()
            .map(|k| Arc::new(Served::from(k)))
            .collect();
        let mut registry = Registry {
            builtins,
            custom: BTreeMap::new(),
            by_path: HashMap::new(),
        };
        registry.reindex();
        registry
    }

    fn reindex(&mut self) {
        self.by_path = self
            .all()
            .map(|s| {
                (
                    (
                        s.info.group.clone(),
                        s.info.version.clone(),
                        s.info.plural.clone(),
                    ),
                    Arc::clone(s),
                )
            })
            .collect();
    }

    /// Every served resource: built-ins first, then custom ones by CRD name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Served>> {
        self.builtins.iter().chain(self.custom.values().flatten())
    }

    pub fn infos(&self) -> Vec<ResourceInfo> {
        self.all().map(|s| s.info.clone()).collect()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Served>> {
        self.by_path
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
    }

    /// The resource whose storage (and semantics) `served` uses: core Events
    /// for `events.k8s.io` Events, else `served` itself.
    pub fn storage_of(&self, served: &Arc<Served>) -> Arc<Served> {
        if crate::events::is_v1_view(served) {
            self.find("", "v1", "events")
                .expect("core events are built in")
        } else {
            Arc::clone(served)
        }
    }

    /// Any served version of the resource stored under `key`.
    pub fn any_version(&self, key: &ResourceKey) -> Option<Arc<Served>> {
        self.all()
            .find(|s| s.info.group == key.group && s.info.plural == key.plural)
            .cloned()
    }

    /// Serves (or re-serves, after an update) the versions a CRD defines.
    pub fn serve_crd(&mut self, crd_name: &str, versions: Vec<Served>) {
        self.custom.insert(
            crd_name.to_owned(),
            versions.into_iter().map(Arc::new).collect(),
        );
        self.reindex();
    }

    /// Stops serving a CRD's kinds; returns the storage key they used.
    pub fn unserve_crd(&mut self, crd_name: &str) -> Option<ResourceKey> {
        let removed = self.custom.remove(crd_name)?;
        self.reindex();
        removed.first().map(|s| s.key())
    }

    /// The storage key of a served CRD's kinds.
    pub fn any_version_of_crd(&self, crd_name: &str) -> Option<ResourceKey> {
        self.custom.get(crd_name)?.first().map(|s| s.key())
    }

    /// Group versions in discovery order, each with its resources.
    pub fn group_versions(&self) -> Vec<(String, String, Vec<Arc<Served>>)> {
        let mut out: Vec<(String, String, Vec<Arc<Served>>)> = Vec::new();
        for served in self.all() {
            match out
                .iter_mut()
                .find(|(g, v, _)| *g == served.info.group && *v == served.info.version)
            {
                Some((_, _, list)) => list.push(Arc::clone(served)),
                None => out.push((
                    served.info.group.clone(),
                    served.info.version.clone(),
                    vec![Arc::clone(served)],
                )),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_builtins_by_path_and_kind() {
        let registry = Registry::new();
        let pods = registry.find("", "v1", "pods").unwrap();
        assert_eq!(pods.info.kind, "Pod");
        assert!(pods.supports_field("status.phase"));
        assert!(!pods.supports_field("spec.containers"));
        assert!(registry.find("apps", "v1", "pods").is_none());
        let groups: Vec<String> = registry
            .group_versions()
            .into_iter()
            .map(|(g, v, _)| format!("{g}/{v}"))
            .collect();
        assert_eq!(groups[0], "/v1");
        assert!(groups.contains(&"events.k8s.io/v1".to_owned()));
    }
}
