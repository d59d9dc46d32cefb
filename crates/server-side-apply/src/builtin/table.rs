//! The static type table that `generated.rs` fills in.

use crate::types::ZeroValue;

/// A Go API struct: its JSON fields sorted by name.
pub(crate) struct StructTy {
    /// `package/version.GoName`, for diagnostics.
    #[allow(dead_code)]
    pub name: &'static str,
    /// `+structType=atomic`: owned and replaced as a whole.
    pub atomic: bool,
    pub fields: &'static [Field],
}

pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// What typed objects carry for the field when their JSON lacks it.
    pub zero: Option<ZeroValue>,
    /// The `+default=` marker as a JSON literal, when it is one.
    pub default: Option<&'static str>,
}

#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Scalar,
    /// Free-form JSON (RawExtension, JSONSchemaProps' JSON): maps granular, lists atomic.
    Untyped,
    /// Index into `STRUCTS`.
    Struct(usize),
    Map(&'static MapTy),
    List(&'static ListTy),
}

pub(crate) struct MapTy {
    pub value: Ty,
    /// `+mapType=atomic`.
    pub atomic: bool,
}

pub(crate) struct ListTy {
    pub elem: Ty,
    pub ssa: SsaList,
    pub smp: Smp,
}

/// `ListType` in a form that can live in a static.
pub(crate) enum SsaList {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

/// Strategic-merge strategy of a list field.
pub(crate) enum Smp {
    Replace,
    MergeByKey(&'static str),
    MergePrimitives,
}
