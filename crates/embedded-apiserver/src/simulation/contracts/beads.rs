//! The beads image (`…/beads`): `bd daemon start` (the groblegark fork's
//! daemon, B1..B7) and `bd serve` (current upstream, S1..S3).
//!
//! Both are cobra commands: an unknown flag is refused before anything
//! runs, with cobra's "Error: " prefix and pflag's "unknown flag: --%s"
//! (spf13/cobra command.go `ExecuteC`, spf13/pflag errors.go), followed by
//! the command's usage (left out of the messages here). Errors returned
//! through bd's `HandleError` print `Error: <message>` and exit 1.

use super::container::{Container, Image, flag_on, flag_value, has_flag, program};
use super::probes::{self, Http, Listener, parse_listen_addr};
use super::{Verdict, crash};
use std::net::IpAddr;

/// B7: `USER beads` (uid 1000, home `/home/beads`), `WORKDIR /home/beads`.
const IMAGE: Image = Image {
    user: 1000,
    home: "/home/beads",
    dirs: &["/home/beads"],
    owned: &[("/home/beads", 1000)],
};

/// B7: `ENTRYPOINT ["bd"]` with this `CMD`, which still names the TCP flag
/// removed in February 2026.
const DEFAULT_CMD: &[&str] = &[
    "daemon",
    "start",
    "--foreground",
    "--tcp-addr=:9876",
    "--http-addr=:9877",
    "--log-json",
];

/// B4/B7: flags the TCP transport's removal (0b084b1d8) took away.
const REMOVED_DAEMON_FLAGS: &[&str] = &["tcp-addr", "tls-cert", "tls-key", "tcp-token"];

/// B5 `internal/rpc/http_server.go`: the daemon's HTTP routes (`/livez`
/// only in later daemons, 59d8e5a8; the image tags in use are later).
const DAEMON_PATHS: &[&str] = &["/health", "/healthz", "/readyz", "/livez", "/metrics"];

/// S2/S3: what `bd serve` routes that a probe could ask for.
const SERVE_PATHS: &[&str] = &[
    "/healthz",
    "/v0",
    "/v0/beads/context",
    "/v0/beads/ready",
    "/v0/beads/issues",
];

pub(super) fn verdict(container: &Container) -> Verdict {
    let args = container.args();
    let argv: Vec<&str> = match container.command() {
        Some(command) => command.into_iter().chain(args).collect(),
        None if args.is_empty() => ["bd"].iter().chain(DEFAULT_CMD).copied().collect(),
        None => ["bd"].into_iter().chain(args).collect(),
    };
    if program(argv[0]) != "bd" {
        return Verdict::Runs;
    }
    let rest = &argv[1..];
    let Some(at) = rest.iter().position(|a| !a.starts_with('-')) else {
        return Verdict::Runs;
    };
    match rest[at] {
        "daemon" => daemon(container, &rest[at + 1..]),
        "serve" => serve(container, &rest[at + 1..]),
        _ => Verdict::Runs,
    }
}

fn unknown_flag(flag: &str) -> Verdict {
    crash(1, format!("Error: unknown flag: --{flag}"))
}

/// The first of `names` that `flags` uses, in the order pflag meets them.
fn first_flag<'a>(flags: &[&str], names: &[&'a str]) -> Option<&'a str> {
    flags
        .iter()
        .take_while(|f| **f != "--")
        .find_map(|token| names.iter().find(|name| has_flag(&[token], name)).copied())
}

fn daemon(container: &Container, after: &[&str]) -> Verdict {
    let flags: Vec<&str> = match after.first() {
        Some(&"start") => after[1..].to_vec(),
        // The deprecated `bd daemon --start` runs the same checks.
        _ if flag_on(after, "start") => after.to_vec(),
        // status, stop, …: not a server.
        _ => return Verdict::Runs,
    };

    // B4/B7: no `--tcp-addr` (and friends) since 2026-02-11.
    if let Some(flag) = first_flag(&flags, REMOVED_DAEMON_FLAGS) {
        return unknown_flag(flag);
    }

    // B4: a daemon pod must not carry client env. Text from
    // cmd/bd/daemon_start.go at 5c2d7c4d (gastownhall/beads).
    if container.env_set("BD_DAEMON_HOST") {
        let host = container
            .env_literal("BD_DAEMON_HOST")
            .unwrap_or("<value from valueFrom>");
        return crash(
            1,
            format!(
                "Error: BD_DAEMON_HOST is set ({host})\n\
                 Cannot start a local daemon when configured for remote daemon.\n\
                 Hint: Use 'bd daemon status' to check the remote daemon, or unset BD_DAEMON_HOST to use a local daemon."
            ),
        );
    }
    if container.env_set("BD_DAEMON_HTTP_URL") {
        let url = container
            .env_literal("BD_DAEMON_HTTP_URL")
            .unwrap_or("<value from valueFrom>");
        // unconfirmed: B4 (f706f848) adds this refusal; the commit was not
        // available, so the text follows the BD_DAEMON_HOST one.
        return crash(
            1,
            format!(
                "Error: BD_DAEMON_HTTP_URL is set ({url})\n\
                 Cannot start a local daemon when configured for remote daemon."
            ),
        );
    }

    // B4 cmd/bd/daemon_config.go `ensureBeadsDir` (via `getPIDFilePath`),
    // printed as "Error: %v" by daemon_start.go.
    if container.env_literal("BEADS_DOLT_SERVER_MODE") == Some("1") {
        if !container.env_set("BEADS_DIR") {
            return crash(
                1,
                "Error: BEADS_DOLT_SERVER_MODE=1 requires BEADS_DIR to be set",
            );
        }
        if let Some(dir) = container.env_literal("BEADS_DIR")
            && let Err((error, _)) = container.mkdir_all(&IMAGE, dir)
        {
            return crash(1, format!("Error: cannot create beads directory: {error}"));
        }
    }

    // B4: `--local` is required (no git in the pod) and rules out
    // auto-commit and auto-push (daemon_start.go at 5c2d7c4d).
    let local = flag_on(&flags, "local");
    if local && flag_on(&flags, "auto-commit") {
        return crash(
            1,
            "Error: --auto-commit cannot be used with --local mode\n\
             Hint: --local mode runs without git, so commits are not possible",
        );
    }
    if local && flag_on(&flags, "auto-push") {
        return crash(
            1,
            "Error: --auto-push cannot be used with --local mode\n\
             Hint: --local mode runs without git, so pushes are not possible",
        );
    }
    if !local {
        return crash(
            1,
            "Error: not in a git repository\n\
             Hint: run 'git init' to initialize a repository, or use --local for local-only mode",
        );
    }

    let http_addr = match flag_value(&flags, "http-addr") {
        Some("") => container.env_literal("BD_DAEMON_HTTP_ADDR"),
        Some(addr) => Some(addr),
        // B4: the flag's default.
        None => Some(":9080"),
    };

    // B1/B4: without `--foreground` the command forks the daemon and
    // returns 0 once it answers, so the container's main process exits;
    // the runtime then kills the forked child. daemon_start.go and
    // daemon_lifecycle.go print these lines; the PID is not knowable here.
    if !flag_on(&flags, "foreground") {
        let interval = flag_value(&flags, "interval").unwrap_or("5s");
        let mut lines = vec![format!(
            "Starting bd daemon in LOCAL mode (interval: {interval}, no git sync)"
        )];
        if let Some(addr) = http_addr {
            lines.push(format!("HTTP address: {addr} (Connect-RPC style API)"));
        }
        lines.push("Daemon started (PID <pid>)".to_owned());
        return crash(0, lines.join("\n"));
    }

    let mut listeners = Vec::new();
    if let Some((port, loopback)) = http_addr.and_then(parse_listen_addr) {
        listeners.push(Listener {
            port,
            loopback,
            // B5: health endpoints are auth-exempt.
            http: Some(Http {
                paths: DAEMON_PATHS,
                auth_exempt: None,
            }),
        });
    }
    // B4/B6 nats.go: an embedded NATS server on :4222 unless an external
    // one is named or NATS is disabled.
    if !container.env_set("BD_NATS_URL")
        && container.env_literal("BD_NATS_DISABLED") != Some("true")
    {
        listeners.push(Listener {
            port: 4222,
            loopback: false,
            http: None,
        });
    }
    match probes::failing(container, "bd daemon", &listeners) {
        Some(reason) => Verdict::NeverReady { reason },
        None => dolt_unreachable(container).unwrap_or(Verdict::Runs),
    }
}

/// B6: in server mode the daemon dials Dolt at `BEADS_DOLT_SERVER_HOST`
/// (default 127.0.0.1) and `BEADS_DOLT_SERVER_PORT` (default 3307), while a
/// Dolt SQL server listens on 3306 in another pod (D1: the image's
/// entrypoint waits on 3306). Left to the defaults it reaches nothing, and
/// `/readyz` answers 503 (B5: readiness needs the database), so a readiness
/// probe on it never passes.
fn dolt_unreachable(container: &Container) -> Option<Verdict> {
    if container.env_literal("BEADS_DOLT_SERVER_MODE") != Some("1") {
        return None;
    }
    let readiness_on_readyz = container
        .probe("readinessProbe")
        .and_then(|probe| probe.pointer("/httpGet/path"))
        .and_then(serde_json::Value::as_str)
        == Some("/readyz");
    if !readiness_on_readyz {
        return None;
    }
    let reason = if !container.env_set("BEADS_DOLT_SERVER_HOST") {
        "bd daemon dials Dolt at 127.0.0.1 (BEADS_DOLT_SERVER_HOST unset), where no Dolt runs: /readyz answers 503"
    } else if !container.env_set("BEADS_DOLT_SERVER_PORT") {
        "bd daemon dials Dolt on beads' default port 3307 (BEADS_DOLT_SERVER_PORT unset), where Dolt does not listen: /readyz answers 503"
    } else {
        return None;
    };
    Some(Verdict::NeverReady {
        reason: reason.to_owned(),
    })
}

fn serve(container: &Container, flags: &[&str]) -> Verdict {
    // S1: "There is deliberately no --auth-token flag."
    if let Some(flag) = first_flag(flags, &["auth-token"]) {
        return unknown_flag(flag);
    }
    let error = |message: String| crash(1, format!("Error: {message}"));

    // S1/S3 `httpapi.ValidateBindAddr` (internal/httpapi/server.go at
    // 20c198f7, the auth-era text); default `127.0.0.1:0`.
    let addr = flag_value(flags, "addr").unwrap_or("127.0.0.1:0");
    let allow_non_loopback = flag_on(flags, "allow-non-loopback");
    let (host, port) = match split_host_port(addr) {
        Ok(parts) => parts,
        Err(why) => {
            return error(format!(
                "--addr {addr:?} must be HOST:PORT with a numeric IP literal host (unix sockets are not supported): address {addr}: {why}"
            ));
        }
    };
    let Ok(port) = port.parse::<u16>() else {
        return error(format!(
            "--addr {addr:?}: port must be a number from 0 to 65535 (0 picks an ephemeral port)"
        ));
    };
    let Ok(ip) = host.parse::<IpAddr>() else {
        return error(format!(
            "--addr {addr:?}: host must be a numeric IP literal, not a name — use 127.0.0.1 rather than localhost"
        ));
    };
    if !ip.is_loopback() && !allow_non_loopback {
        return error(format!(
            "--addr {addr:?} binds beyond loopback, which requires --allow-non-loopback (and, with it, --auth-token-file)"
        ));
    }

    // S1 `resolveServeConfig` and `httpapi.ValidateAuthPosture`
    // (internal/httpapi auth file, gastownhall/beads).
    let token_file = flag_value(flags, "auth-token-file")
        .filter(|f| !f.is_empty())
        .or_else(|| container.env_literal("BEADS_SERVE_TOKEN_FILE"));
    let has_token = token_file.is_some() || container.env_set("BEADS_SERVE_TOKEN_FILE");
    let insecure = flag_on(flags, "insecure-no-auth");
    if insecure && has_token {
        return error(
            "--insecure-no-auth contradicts --auth-token-file; pass one or the other".into(),
        );
    }
    if insecure && !allow_non_loopback {
        return error("--insecure-no-auth applies only to a bind beyond loopback; on loopback there is nothing to waive, so pass --allow-non-loopback or drop the flag".into());
    }
    if allow_non_loopback && !has_token && !insecure {
        return error("--allow-non-loopback requires --auth-token-file (or the explicit --insecure-no-auth): every peer that can reach the address gets full read and claim access".into());
    }
    // S1: the token file is read at start-up (`NewTokenFileAuth`); the
    // image ships none, so it has to come from a volume (inferred).
    if let Some(file) = token_file
        && !container.is_mounted(file)
    {
        return error(format!(
            "--auth-token-file: token file {file}: open {file}: no such file or directory"
        ));
    }

    let listeners = if port == 0 {
        // S1: port 0 takes an ephemeral port no probe can name.
        Vec::new()
    } else {
        vec![Listener {
            port: i64::from(port),
            loopback: ip.is_loopback(),
            // S1/S2: with a token every route but /healthz needs the
            // bearer header, readiness included.
            http: Some(Http {
                paths: SERVE_PATHS,
                auth_exempt: has_token.then_some(&["/healthz"][..]),
            }),
        }]
    };
    match probes::failing(container, &format!("bd serve ({addr})"), &listeners) {
        Some(reason) => Verdict::NeverReady { reason },
        None => Verdict::Runs,
    }
}

/// Go's `net.SplitHostPort`, with its error texts.
fn split_host_port(addr: &str) -> Result<(&str, &str), &'static str> {
    const MISSING_PORT: &str = "missing port in address";
    let colon = addr.rfind(':').ok_or(MISSING_PORT)?;
    let host = if let Some(bracketed) = addr.strip_prefix('[') {
        let end = bracketed.find(']').ok_or("missing ']' in address")? + 1;
        if end + 1 == addr.len() || end + 1 != colon {
            return Err(if addr.as_bytes().get(end + 1) == Some(&b':') {
                "too many colons in address"
            } else {
                MISSING_PORT
            });
        }
        &addr[1..end]
    } else {
        let host = &addr[..colon];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        host
    };
    Ok((host, &addr[colon + 1..]))
}
