//! Field-path strings built like apimachinery's `field.Path`: `.name` for
//! children, `[key]` for map keys, `[i]` for list indexes.

pub(crate) fn child(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

pub(crate) fn key(base: &str, key: &str) -> String {
    format!("{base}[{key}]")
}

pub(crate) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}
