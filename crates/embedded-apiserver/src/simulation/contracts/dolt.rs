//! `dolthub/dolt-sql-server`: the image's entrypoint script and `dolt`.

use super::container::{Container, Image, program};
use super::probes::{self, Listener};
use super::{Verdict, crash};

/// D2: no `USER` (root), `WORKDIR /var/lib/dolt`; the build runs
/// `dolt version` as root, which leaves `/root/.dolt`.
const IMAGE: Image = Image {
    user: 0,
    home: "/root",
    dirs: &[
        "/var/lib/dolt",
        "/root/.dolt",
        "/docker-entrypoint-initdb.d",
    ],
    owned: &[],
};

/// D1: the entrypoint appends `--config=<file>` when exactly one `*.yaml`
/// lies here.
const SERVER_CONFIG_DIR: &str = "/etc/dolt/servercfg.d";

/// `dolt sql-server`'s options (D3, `sqlserver.go`): name, abbreviation,
/// whether it takes a value.
const OPTIONS: &[(&str, &str, bool)] = &[
    ("config", "", true),
    ("host", "H", true),
    ("port", "P", true),
    ("user", "u", true),
    ("skip-root-user-initialization", "", false),
    ("password", "p", true),
    ("timeout", "t", true),
    ("readonly", "r", false),
    ("loglevel", "l", true),
    ("logformat", "f", true),
    ("data-dir", "", true),
    ("multi-db-dir", "", true),
    ("doltcfg-dir", "", true),
    ("no-auto-commit", "", false),
    ("query-parallelism", "", true),
    ("max-connections", "", true),
    ("back-log", "", true),
    ("max-connections-timeout", "", true),
    ("privilege-file", "", true),
    ("branch-control-file", "", true),
    ("allow-cleartext-passwords", "", true),
    ("socket", "", false),
    ("remotesapi-port", "", true),
    ("remotesapi-readonly", "", false),
    ("golden", "", true),
    ("event-scheduler", "", true),
    ("mcp-port", "", true),
    ("mcp-user", "", true),
    ("mcp-password", "", true),
    ("mcp-database", "", true),
];

pub(super) fn verdict(container: &Container) -> Verdict {
    let command = container.command();
    // D1: without `command` the image's entrypoint runs; it passes the
    // container's args to `dolt sql-server`.
    let entrypoint = command.is_none();
    let argv: Vec<&str> = match &command {
        Some(command) => command.iter().chain(&container.args()).copied().collect(),
        None => Vec::new(),
    };
    if !entrypoint && program(argv[0]) != "dolt" {
        // A shell script that runs `dolt` (a backup, a restore): each run
        // loads the global config first, as below (D4). Any other program:
        // nothing known to check.
        if runs_dolt(&argv)
            && let Some(home) = dolt_home(container, false)
        {
            let file = format!("{}/.dolt/config_global.json", home.trim_end_matches('/'));
            if let Err(error) = container.create_file(&IMAGE, &file) {
                return crash(1, format!("Failed to load the global config: {error}"));
            }
        }
        return Verdict::Runs;
    }

    // D4: every `dolt` invocation first loads (creating if missing)
    // `<home>/.dolt/config_global.json`. With the entrypoint that is
    // `dolt version`, under `set -eo pipefail`, so the script exits at once.
    if let Some(home) = dolt_home(container, entrypoint) {
        let file = format!("{}/.dolt/config_global.json", home.trim_end_matches('/'));
        if let Err(error) = container.create_file(&IMAGE, &file) {
            // D4: dolt.go `createBootstrapConfig` prints
            // "Failed to load the global config: %v" and exits 1
            // (dolthub/dolt go/cmd/dolt/dolt.go, v1.81.6 and main).
            return crash(1, format!("Failed to load the global config: {error}"));
        }
    }

    let server_args: Vec<&str> = if entrypoint {
        // D1: `dolt sql-server --host=0.0.0.0 --port=3306 <args> [--config=<yaml>]`.
        let mut full = vec!["--host=0.0.0.0", "--port=3306"];
        full.extend(container.args());
        full
    } else {
        match argv.iter().position(|a| *a == "sql-server") {
            Some(at) => argv[at + 1..].to_vec(),
            // Another dolt command: only the global config applies.
            None => return Verdict::Runs,
        }
    };
    let config_flag = entrypoint
        .then(|| mounted_server_config(container))
        .flatten();
    let mut server_args: Vec<String> = server_args.iter().map(|a| a.to_string()).collect();
    if let Some(flag) = config_flag {
        server_args.push(flag);
    }

    let options = match parse(&server_args) {
        Ok(options) => options,
        Err(error) => {
            return if entrypoint {
                crash(1, entrypoint_gave_up(container, &error))
            } else {
                // D8/argparser: the parse error, then the help text
                // (omitted here), exit 1 (`cli.ParseArgsOrDie`).
                crash(1, error)
            };
        }
    };

    // D3: with `--config` every other flag is ignored and the YAML decides
    // (port 3306 unless it says otherwise; its contents are not checked).
    // Without it the defaults are `localhost:3306` (servercfg.DefaultHost).
    let (host, port) = if options.iter().any(|(name, _)| name == "config") {
        ("0.0.0.0".to_owned(), 3306)
    } else {
        let value = |name: &str| {
            options
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone())
        };
        (
            value("host").unwrap_or_else(|| "localhost".to_owned()),
            value("port").and_then(|p| p.parse().ok()).unwrap_or(3306),
        )
    };
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    let listeners = [Listener {
        port,
        loopback,
        http: None,
    }];
    match probes::failing(
        container,
        &format!("dolt sql-server ({host}:{port})"),
        &listeners,
    ) {
        Some(reason) => Verdict::NeverReady { reason },
        None => Verdict::Runs,
    }
}

/// Whether `argv` is `sh -c <script>` (or bash) whose script runs `dolt`.
fn runs_dolt(argv: &[&str]) -> bool {
    matches!(program(argv[0]), "sh" | "bash" | "dash")
        && argv.iter().position(|a| *a == "-c").is_some_and(|at| {
            argv.get(at + 1).is_some_and(|script| {
                script
                    .split(|c: char| {
                        c.is_whitespace() || matches!(c, ';' | '(' | '|' | '&' | '`' | '$')
                    })
                    .any(|word| word == "dolt")
            })
        })
}

/// Where dolt keeps its global config: `$DOLT_ROOT_PATH`, else `$HOME`
/// (D4 `paths.go`). `None` when it cannot be known from the spec.
fn dolt_home(container: &Container, entrypoint: bool) -> Option<String> {
    if entrypoint {
        // D1: the script assigns `DOLT_ROOT_PATH="/.dolt"`; that reaches
        // dolt only when the variable was already exported, i.e. set in
        // the pod's env.
        if container.env("DOLT_ROOT_PATH").is_some() {
            return Some("/.dolt".to_owned());
        }
        return Some(container.home(&IMAGE).to_owned());
    }
    match container.env("DOLT_ROOT_PATH") {
        Some(Some(path)) if !path.is_empty() => Some(if path.starts_with('/') {
            path.to_owned()
        } else {
            // `filesys.LocalFS.Abs`: relative to the working directory.
            let cwd = container.working_dir().unwrap_or("/var/lib/dolt");
            format!("{}/{path}", cwd.trim_end_matches('/'))
        }),
        Some(None) => None,
        _ => Some(container.home(&IMAGE).to_owned()),
    }
}

/// D1: `--config=<file>` when the volume at `/etc/dolt/servercfg.d` holds
/// exactly one `*.yaml`. A ConfigMap or Secret listing `items` says which
/// files it holds; otherwise the volume is taken to hold one.
fn mounted_server_config(container: &Container) -> Option<String> {
    let volume = container.volume_at(SERVER_CONFIG_DIR)?;
    let source = volume
        .get("configMap")
        .or_else(|| volume.get("secret"))
        .and_then(|s| s["items"].as_array());
    let yaml: Vec<&str> = match source {
        Some(items) => items
            .iter()
            .filter_map(|i| i["path"].as_str())
            .filter(|p| p.ends_with(".yaml") && !p.contains('/'))
            .collect(),
        None => vec!["config.yaml"],
    };
    // D1: two or more → a warning and no `--config`.
    (yaml.len() == 1).then(|| format!("--config={SERVER_CONFIG_DIR}/{}", yaml[0]))
}

/// What dolt's arg parser makes of `args`: the options given, in order,
/// with their values; or its error for a repeated option
/// (dolthub/dolt go/libraries/utils/argparser/parser.go: "error: multiple
/// values provided for `%s'", v1.81.6 and main).
fn parse(args: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    let mut seen: Vec<(String, Option<String>)> = Vec::new();
    let mut tokens = args.iter();
    while let Some(token) = tokens.next() {
        if token == "--" {
            break;
        }
        let Some(stripped) = token.strip_prefix('-') else {
            continue;
        };
        let long = stripped.strip_prefix('-');
        let (key, inline) = match long.unwrap_or(stripped).split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (long.unwrap_or(stripped), None),
        };
        let option = OPTIONS.iter().find(|(name, abbrev, _)| {
            if long.is_some() {
                *name == key
            } else {
                !abbrev.is_empty() && key.starts_with(abbrev)
            }
        });
        let Some((name, abbrev, takes_value)) = option else {
            // Unknown options are not this simulation's business.
            continue;
        };
        if seen.iter().any(|(n, _)| n == name) {
            return Err(format!("error: multiple values provided for `{name}'"));
        }
        let value = match inline {
            Some(value) => Some(value),
            // `-P3307`: the value follows the abbreviation.
            None if long.is_none() && key.len() > abbrev.len() => {
                Some(key[abbrev.len()..].to_owned())
            }
            None if *takes_value => tokens.next().cloned(),
            None => None,
        };
        seen.push(((*name).to_owned(), value));
    }
    Ok(seen)
}

/// D1: the entrypoint restarts a dying server every second until
/// `DOLT_SERVER_TIMEOUT` (300 s) has passed, then gives up with exit 1. The
/// log's last lines are dolt's error (after each attempt, followed by the
/// help text, left out here) and the script's farewell; timestamps omitted.
fn entrypoint_gave_up(container: &Container, error: &str) -> String {
    let timeout = container
        .env_literal("DOLT_SERVER_TIMEOUT")
        .unwrap_or("300");
    format!(
        "{error}\n\
         [Error] [Entrypoint] Dolt server failed to start within {timeout} seconds\n\
         [Note] [Entrypoint] Remove this container with 'docker rm -f <container_name>' before retrying"
    )
}
