//! Probes against what a program really listens on. The kubelet dials the
//! pod IP, so a port nothing listens on, a loopback-only bind, a path the
//! server does not route or a missing bearer token all fail the probe.

use super::container::Container;
use serde_json::Value;

/// One socket the program listens on.
pub(super) struct Listener {
    pub port: i64,
    /// Bound to loopback only, out of the kubelet's reach.
    pub loopback: bool,
    /// The HTTP it serves; `None` for a non-HTTP protocol (MySQL).
    pub http: Option<Http>,
}

pub(super) struct Http {
    /// The paths it routes (exact; a probe's query string is ignored).
    pub paths: &'static [&'static str],
    /// With authentication on: the paths answered without a bearer token.
    pub auth_exempt: Option<&'static [&'static str]>,
}

/// Which probes are checked, in the order the kubelet runs them.
const PROBES: [(&str, &str); 3] = [
    ("startupProbe", "startup"),
    ("readinessProbe", "readiness"),
    ("livenessProbe", "liveness"),
];

/// Why a probe of `container` can never pass against `listeners`, if one
/// cannot. exec and gRPC probes are assumed to pass.
///
/// A failing liveness or startup probe would really make the kubelet kill
/// and restart the container too; the simulation reports it as never ready.
pub(super) fn failing(
    container: &Container,
    program: &str,
    listeners: &[Listener],
) -> Option<String> {
    PROBES.iter().find_map(|(field, kind)| {
        let probe = container.probe(field)?;
        let problem = problem(container, program, listeners, probe)?;
        Some(format!("{kind} probe: {problem}"))
    })
}

fn problem(
    container: &Container,
    program: &str,
    listeners: &[Listener],
    probe: &Value,
) -> Option<String> {
    let (action, is_http) = if let Some(http) = probe.get("httpGet") {
        (http, true)
    } else if let Some(tcp) = probe.get("tcpSocket") {
        (tcp, false)
    } else {
        return None;
    };
    let port = match &action["port"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => match name.parse::<i64>() {
            Ok(number) => Some(number),
            Err(_) => match container.named_port(name) {
                Some(port) => Some(port),
                None => return Some(format!("the container has no port named {name:?}")),
            },
        },
        _ => None,
    }?;
    let ports: Vec<String> = listeners.iter().map(|l| l.port.to_string()).collect();
    let Some(listener) = listeners.iter().find(|l| l.port == port) else {
        return Some(format!(
            "nothing listens on port {port} ({program} listens on [{}])",
            ports.join(", ")
        ));
    };
    if listener.loopback {
        return Some(format!(
            "{program} binds port {port} on loopback only, out of the kubelet's reach"
        ));
    }
    if !is_http {
        return None;
    }
    let Some(http) = &listener.http else {
        return Some(format!("port {port} does not speak HTTP"));
    };
    if action["scheme"] == "HTTPS" {
        return Some(format!("port {port} serves plain HTTP, not HTTPS"));
    }
    let raw = action["path"].as_str().unwrap_or("/");
    let path = raw.split('?').next().unwrap_or(raw);
    if !http.paths.contains(&path) {
        return Some(format!("GET {path} on port {port} answers 404"));
    }
    let authorized = action["httpHeaders"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("Authorization"))
        });
    match http.auth_exempt {
        Some(exempt) if !exempt.contains(&path) && !authorized => Some(format!(
            "GET {path} on port {port} answers 401: it needs a bearer token and the probe sends none"
        )),
        _ => None,
    }
}

/// The port of a Go listen address (`:9080`, `0.0.0.0:9080`, `[::]:9080`)
/// and whether it binds loopback only.
pub(super) fn parse_listen_addr(addr: &str) -> Option<(i64, bool)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    Some((port.parse().ok()?, loopback))
}
