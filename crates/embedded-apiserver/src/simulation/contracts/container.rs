//! A read-only view of one container in its pod: the argv it runs, its
//! environment, its user, and which paths it may write.

use serde_json::Value;

/// The repository of an image reference: registry host, tag and digest
/// removed (`ghcr.io/groblegark/beads:0.62.5` → `groblegark/beads`,
/// `dolthub/dolt-sql-server@sha256:…` → `dolthub/dolt-sql-server`).
pub fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or_default();
    // A tag is a `:` after the last `/`; an earlier one is a registry port.
    let without_tag = match (image.rfind(':'), image.rfind('/')) {
        (Some(colon), Some(slash)) if colon > slash => &image[..colon],
        (Some(colon), None) => &image[..colon],
        _ => image,
    };
    // Docker's rule: the first component is a registry when it has a `.`
    // or a `:`, or is `localhost`.
    match without_tag.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => without_tag,
    }
}

/// What the image itself decides: its user, that user's home, and the
/// directories it ships (everything root-owned unless listed in `owned`).
pub(super) struct Image {
    /// The image's `USER` (0 when it has none).
    pub user: i64,
    /// `HOME` when the pod sets none.
    pub home: &'static str,
    /// Directories the image ships, beyond the ones every image has.
    pub dirs: &'static [&'static str],
    /// Directories owned by a non-root user: `(path, uid)`.
    pub owned: &'static [(&'static str, i64)],
}

/// Directories every Linux base image ships.
const BASE_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/etc",
    "/home",
    "/root",
    "/tmp",
    "/usr",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/var/lib",
    "/var/tmp",
];

/// Why a write fails, spelled as Go and libc spell the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Denied {
    /// EACCES.
    Permission,
    /// EROFS.
    ReadOnly,
}

impl Denied {
    /// Go's `syscall.Errno` text.
    pub fn go(self) -> &'static str {
        match self {
            Denied::Permission => "permission denied",
            Denied::ReadOnly => "read-only file system",
        }
    }

    /// libc's `strerror` text.
    pub fn libc(self) -> &'static str {
        match self {
            Denied::Permission => "Permission denied",
            Denied::ReadOnly => "Read-only file system",
        }
    }
}

pub(super) struct Mount<'a> {
    pub path: &'a str,
    pub read_only: bool,
    /// The volume source: `emptyDir`, `persistentVolumeClaim`, `configMap`, ….
    pub kind: &'a str,
}

pub(super) struct Container<'a> {
    container: &'a Value,
    pod: &'a Value,
}

impl<'a> Container<'a> {
    pub fn new(container: &'a Value, pod: &'a Value) -> Self {
        Container { container, pod }
    }

    pub fn image(&self) -> &'a str {
        self.container["image"].as_str().unwrap_or_default()
    }

    pub fn working_dir(&self) -> Option<&'a str> {
        self.container["workingDir"]
            .as_str()
            .filter(|d| !d.is_empty())
    }

    /// `command`, when set; an empty list counts as unset, as for the runtime.
    pub fn command(&self) -> Option<Vec<&'a str>> {
        let command = strings(&self.container["command"]);
        (!command.is_empty()).then_some(command)
    }

    pub fn args(&self) -> Vec<&'a str> {
        strings(&self.container["args"])
    }

    /// The last definition of `name` in `env`: `Some(Some(value))` for a
    /// literal, `Some(None)` for `valueFrom` (set, value unknown here).
    /// Variables from `envFrom` are unknowable and count as unset.
    pub fn env(&self, name: &str) -> Option<Option<&'a str>> {
        let entry = self.container["env"]
            .as_array()?
            .iter()
            .rev()
            .find(|e| e["name"] == name)?;
        Some(match entry["value"].as_str() {
            Some(value) => Some(value),
            None if entry.get("valueFrom").is_some() => None,
            None => Some(""),
        })
    }

    /// Whether `name` is set to something non-empty (`os.Getenv(name) != ""`);
    /// a `valueFrom` counts, as its source is assumed to hold a value.
    pub fn env_set(&self, name: &str) -> bool {
        match self.env(name) {
            Some(Some(value)) => !value.is_empty(),
            Some(None) => true,
            None => false,
        }
    }

    /// The literal value of `name`, when it is one and not empty.
    pub fn env_literal(&self, name: &str) -> Option<&'a str> {
        self.env(name).flatten().filter(|v| !v.is_empty())
    }

    fn security(&self, field: &str) -> Option<&'a Value> {
        self.container
            .pointer(&format!("/securityContext/{field}"))
            .or_else(|| self.pod.pointer(&format!("/securityContext/{field}")))
            .filter(|v| !v.is_null())
    }

    /// The uid the process runs as: the container's `runAsUser`, else the
    /// pod's, else the image's `USER`.
    pub fn uid(&self, image: &Image) -> i64 {
        self.security("runAsUser")
            .and_then(Value::as_i64)
            .unwrap_or(image.user)
    }

    /// `HOME` as the process sees it: the pod's, else what the runtime sets
    /// from the image's passwd. A uid the passwd does not know gets `/`
    /// (containerd and Docker default; inferred).
    pub fn home(&self, image: &Image) -> &'a str {
        if let Some(home) = self.env_literal("HOME") {
            return home;
        }
        match self.uid(image) {
            0 => "/root",
            uid if uid == image.user => image.home,
            _ => "/",
        }
    }

    fn read_only_root(&self) -> bool {
        self.container
            .pointer("/securityContext/readOnlyRootFilesystem")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn fs_group(&self) -> bool {
        self.pod
            .pointer("/securityContext/fsGroup")
            .is_some_and(|v| !v.is_null())
    }

    pub fn mounts(&self) -> Vec<Mount<'a>> {
        let volumes = self.pod["volumes"].as_array();
        let kind_of = |name: &Value| {
            volumes
                .into_iter()
                .flatten()
                .find(|v| v["name"] == *name)
                .and_then(|v| v.as_object())
                .and_then(|v| v.keys().find(|k| *k != "name"))
                .map_or("", String::as_str)
        };
        self.container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some(Mount {
                    path: m["mountPath"].as_str()?.trim_end_matches('/'),
                    read_only: m["readOnly"].as_bool().unwrap_or(false),
                    kind: kind_of(&m["name"]),
                })
            })
            .collect()
    }

    /// The volume mounted at exactly `path`, if any.
    pub fn volume_at(&self, path: &str) -> Option<&'a Value> {
        let mount = self.container["volumeMounts"]
            .as_array()?
            .iter()
            .find(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(path))?;
        self.pod["volumes"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == mount["name"])
    }

    /// Whether `path` lies on a mounted volume.
    pub fn is_mounted(&self, path: &str) -> bool {
        self.mounts().iter().any(|m| under(path, m.path))
    }

    pub fn exists(&self, image: &Image, dir: &str) -> bool {
        BASE_DIRS.contains(&dir)
            || image.dirs.contains(&dir)
            || image.owned.iter().any(|(owned, _)| *owned == dir)
            // The runtime creates every mount point and its parents.
            || self.mounts().iter().any(|m| under(m.path, dir))
    }

    /// Whether the process may create entries in the existing directory `dir`.
    pub fn writable(&self, image: &Image, dir: &str) -> Result<(), Denied> {
        let uid = self.uid(image);
        let mounts = self.mounts();
        let mount = mounts
            .iter()
            .filter(|m| under(dir, m.path))
            .max_by_key(|m| m.path.len());
        if let Some(mount) = mount {
            // Secret, ConfigMap, downward API and projected volumes are
            // always mounted read-only.
            let read_only = ["configMap", "secret", "downwardAPI", "projected"];
            return if mount.read_only || read_only.contains(&mount.kind) {
                Err(Denied::ReadOnly)
            } else if mount.kind == "emptyDir" || uid == 0 || self.fs_group() {
                // emptyDir is world-writable; other volumes are root-owned
                // unless `fsGroup` hands them to the pod's group (D1, B2).
                Ok(())
            } else {
                Err(Denied::Permission)
            };
        }
        if self.read_only_root() {
            return Err(Denied::ReadOnly);
        }
        let sticky = ["/tmp", "/var/tmp"].iter().any(|t| under(dir, t));
        let owned = image
            .owned
            .iter()
            .any(|(path, owner)| *owner == uid && under(dir, path));
        if uid == 0 || sticky || owned {
            Ok(())
        } else {
            Err(Denied::Permission)
        }
    }

    /// What Go's `os.MkdirAll(path)` does here: `Ok` when the directory
    /// exists or could be made, else the error it returns
    /// (`mkdir <first missing directory>: <errno>`), with the errno.
    pub fn mkdir_all(&self, image: &Image, path: &str) -> Result<(), (String, Denied)> {
        let path = path.trim_end_matches('/');
        let mut existing = "/";
        let mut missing = None;
        for (index, _) in path.match_indices('/').skip(1).chain([(path.len(), "")]) {
            let prefix = &path[..index];
            if self.exists(image, prefix) {
                existing = prefix;
            } else {
                missing = Some(prefix);
                break;
            }
        }
        let Some(missing) = missing else {
            return Ok(());
        };
        self.writable(image, existing)
            .map_err(|denied| (format!("mkdir {missing}: {}", denied.go()), denied))
    }

    /// Creating file `path` (its directory made first, like
    /// `os.MkdirAll(dir)` then `os.WriteFile`): the Go error, if it fails.
    pub fn create_file(&self, image: &Image, path: &str) -> Result<(), String> {
        let dir = parent(path);
        self.mkdir_all(image, dir).map_err(|(error, _)| error)?;
        if self.exists(image, dir) {
            self.writable(image, dir)
                .map_err(|denied| format!("open {path}: {}", denied.go()))?;
        }
        Ok(())
    }

    /// The container port named `name`.
    pub fn named_port(&self, name: &str) -> Option<i64> {
        self.container["ports"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)?["containerPort"]
            .as_i64()
    }

    pub fn probe(&self, kind: &str) -> Option<&'a Value> {
        self.container.get(kind).filter(|p| p.is_object())
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Whether `path` is `dir` or inside it.
pub(super) fn under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty()
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

pub(super) fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// The value of a long flag in `argv`: `--name=value` or `--name value`.
/// The last occurrence wins, as for pflag.
pub(super) fn flag_value<'a>(argv: &[&'a str], name: &str) -> Option<&'a str> {
    let long = format!("--{name}");
    let mut found = None;
    let mut tokens = argv.iter();
    while let Some(token) = tokens.next() {
        if *token == "--" {
            break;
        }
        if let Some(value) = token.strip_prefix(&long).and_then(|r| r.strip_prefix('=')) {
            found = Some(value);
        } else if *token == long {
            found = tokens.next().copied();
        }
    }
    found
}

/// Whether a boolean long flag is on: `--name` or `--name=true`.
pub(super) fn flag_on(argv: &[&str], name: &str) -> bool {
    let long = format!("--{name}");
    let mut on = false;
    for token in argv.iter().take_while(|t| **t != "--") {
        if *token == long {
            on = true;
        } else if let Some(value) = token.strip_prefix(&long).and_then(|r| r.strip_prefix('=')) {
            on = matches!(value, "true" | "1" | "t" | "T" | "TRUE" | "True");
        }
    }
    on
}

/// Whether `argv` names the long flag at all (`--name` or `--name=…`).
pub(super) fn has_flag(argv: &[&str], name: &str) -> bool {
    let long = format!("--{name}");
    argv.iter()
        .take_while(|t| **t != "--")
        .any(|t| *t == long || t.strip_prefix(&long).is_some_and(|r| r.starts_with('=')))
}

/// The program a command runs: `bd` for `bd`, `/usr/local/bin/bd`, ….
pub(super) fn program(argv0: &str) -> &str {
    argv0.rsplit('/').next().unwrap_or(argv0)
}
