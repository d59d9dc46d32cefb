//! Kubernetes CRD structural-schema semantics as pure functions.
//!
//! A [`StructuralSchema`] is built once per CRD version from its
//! `openAPIV3Schema` and then prunes, defaults and validates custom
//! resources the way kube-apiserver 1.33 does, with the same error texts:
//!
//! - [`StructuralSchema::prune`] drops unknown fields (`x-kubernetes-preserve-unknown-fields`
//!   and `x-kubernetes-embedded-resource` honoured) and `null`s of
//!   non-nullable fields without a default;
//! - [`StructuralSchema::default`] applies `default`s;
//! - [`StructuralSchema::validate`] runs OpenAPI value validation
//!   (kube-openapi semantics), embedded-resource type-meta checks, list
//!   set/map uniqueness and, unless one of those errors blocks it, the
//!   `x-kubernetes-validations` CEL rules;
//! - [`StructuralSchema::admit`] does all of that in the apiserver's order.
//!
//! On updates (`old` given) errors in values that did not change are
//! ratcheted away, as kube-apiserver does since 1.30, and CEL transition
//! rules see `oldSelf` wherever the stored object has a correlated value.
//!
//! # Fidelity notes
//!
//! Texts follow the 1.33 sources (apimachinery `field.Error`, kube-openapi
//! `validate`, apiextensions-apiserver `schema`), including their quirks:
//! composite `anyOf`/`oneOf`/`allOf`/`not` errors and root CEL errors have
//! the field `<nil>`, map keys appear as `.key` in OpenAPI messages but as
//! `[key]` in CEL and list-type paths, non-scalar bad values print in Go's
//! `%#v` syntax. Where upstream iterates Go maps (random order) we walk
//! fields in sorted order, so error lists are deterministic.
//!
//! Known gaps:
//! - `pattern`s run on the `regex` crate, with Go's ASCII-only `\d \w \s \b`
//!   emulated; `\Q…\E` is not supported.
//! - CEL runs on the `cel`/`kube-cel` crates: runtime error texts differ
//!   from cel-go's, there is no cost budget, and the root `self.metadata`
//!   is not narrowed to `name`/`generateName`.
//! - Formats `email`, `uri` and `duration` approximate Go's parsers.
//! - Embedded resources get their `apiVersion`/`kind` checked; their
//!   `metadata` is neither coerced nor validated.

mod cel;
mod correlation;
mod defaulting;
mod embedded;
mod field;
mod formats;
mod gofmt;
mod listtype;
mod model;
mod openapi;
mod path;
mod pattern;
mod prune;

use serde_json::Value;

pub use field::{ErrorType, FieldError, FieldErrors};

/// Why a schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema violates structural-schema rules, has invalid patterns or
    /// CEL rules that do not compile; the field errors say where.
    #[error("invalid openAPIV3Schema: {0}")]
    Invalid(FieldErrors),
}

impl SchemaError {
    /// The individual problems, with paths below the schema's base path.
    pub fn field_errors(&self) -> &FieldErrors {
        match self {
            SchemaError::Invalid(errors) => errors,
        }
    }
}

/// A compiled CRD version schema. Cheap to share (`Send + Sync`), built once.
#[derive(Debug)]
pub struct StructuralSchema {
    root: model::Node,
    /// Whether any node has CEL rules; without any, kube-apiserver has no
    /// CEL validator and never reports skipped rules.
    has_rules: bool,
}

/// The message kube-apiserver adds when CEL rules were skipped because the
/// object already failed basic validation.
const CEL_SKIPPED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

impl StructuralSchema {
    /// Parses and checks `open_api_v3_schema`; error paths start at
    /// `openAPIV3Schema`.
    pub fn new(open_api_v3_schema: &Value) -> Result<Self, SchemaError> {
        Self::new_at(open_api_v3_schema, "openAPIV3Schema")
    }

    /// Like [`new`](Self::new), with error paths rooted at `base_path`
    /// (e.g. `spec.versions[0].schema.openAPIV3Schema`).
    pub fn new_at(open_api_v3_schema: &Value, base_path: &str) -> Result<Self, SchemaError> {
        let root =
            model::parse_root(open_api_v3_schema, base_path).map_err(SchemaError::Invalid)?;
        let has_rules = root.has_rules();
        Ok(Self { root, has_rules })
    }

    /// Drops fields the schema does not specify (keeping `apiVersion`,
    /// `kind` and `metadata` at the root and in embedded resources).
    pub fn prune(&self, obj: &mut Value) {
        self.prune_reporting_unknown(obj);
    }

    /// [`prune`](Self::prune), returning the sorted paths of the dropped
    /// fields (`spec.foo`, `spec.items[0].bar`) for `unknown field` warnings.
    pub fn prune_reporting_unknown(&self, obj: &mut Value) -> Vec<String> {
        let unknown = prune::prune(obj, &self.root);
        prune::prune_non_nullable_nulls(obj, Some(&self.root));
        unknown
    }

    /// Applies the schema's `default`s to missing fields.
    pub fn default(&self, obj: &mut Value) {
        defaulting::apply(obj, &self.root);
    }

    /// Validates a (pruned and defaulted) object; `old` is the stored object
    /// on updates.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.extend(openapi::validate(&self.root, obj, old));
        errors.extend(embedded::validate(&self.root, obj));
        let old_lists_valid = old.is_none_or(|o| listtype::validate(&self.root, o).is_empty());
        if old_lists_valid {
            errors.extend(listtype::validate(&self.root, obj));
        }
        self.run_cel_unless_blocked(&mut errors, obj, old);
        errors
    }

    /// CEL runs only when the schema has rules and no earlier error blocks
    /// it (`hasBlockingErr`); otherwise the apiserver says rules were skipped.
    fn run_cel_unless_blocked(&self, errors: &mut FieldErrors, obj: &Value, old: Option<&Value>) {
        if !self.has_rules {
            return;
        }
        if errors.iter().any(|e| blocks_cel(e.error_type)) {
            errors.push(FieldError::invalid("<nil>", Value::Null, CEL_SKIPPED));
        } else {
            errors.extend(cel::validate(&self.root, obj, old));
        }
    }

    /// Validates an update through the `status` subresource: only `status`
    /// is checked against its schema (paths inside messages are relative to
    /// `status`, as upstream's status validator reports them), then list
    /// uniqueness and CEL rules run over the whole object.
    pub fn validate_status_update(&self, obj: &Value, old: &Value) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if let (Some(status), Some(status_schema)) =
            (obj.get("status"), self.root.properties.get("status"))
        {
            let old_status = old.get("status");
            for mut error in openapi::validate(status_schema, status, old_status) {
                error.field = if error.field == "<nil>" {
                    "status".to_string()
                } else {
                    format!("status.{}", error.field)
                };
                errors.push(error);
            }
        }
        let new_list_errors = listtype::validate(&self.root, obj);
        if !new_list_errors.is_empty() && listtype::validate(&self.root, old).is_empty() {
            errors.extend(new_list_errors);
        }
        self.run_cel_unless_blocked(&mut errors, obj, Some(old));
        errors
    }

    /// Prunes, defaults and validates `obj` in kube-apiserver's order.
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), FieldErrors> {
        self.prune(obj);
        self.default(obj);
        let errors = self.validate(obj, old);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Errors that make kube-apiserver skip CEL rules (`hasBlockingErr`).
fn blocks_cel(error_type: ErrorType) -> bool {
    matches!(
        error_type,
        ErrorType::NotSupported
            | ErrorType::Required
            | ErrorType::TooLong
            | ErrorType::TooMany
            | ErrorType::TypeInvalid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<StructuralSchema>();
    }
}
