//! `gastown-operator beads summary`: the operator's projection of a town, printed.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use beads_client::jiff::{SignedDuration, Timestamp};
use beads_client::{
    AgentSummary, Beads, ClientConfig, Protocol, RigSummary, Token, TownSummary, project,
};
use clap::{Args, ValueEnum};
use serde::Serialize;

use gastown_operator::text_table::Table;

/// Environment variable read for the token when no `--token-file` is given.
const TOKEN_ENV: &str = "BD_DAEMON_TOKEN";

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The beads server: `http://host:port` (the bd daemon's HTTP listener, or `bd serve`), or a bd daemon's `tcp://host:port`.
    #[arg(long, env = "BD_DAEMON_URL")]
    pub daemon: String,
    /// Which server it is; by default, asked (`bd serve` answers `/v0/beads/context`).
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// File holding the daemon token; without it, BD_DAEMON_TOKEN is read.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Show only this rig.
    #[arg(long, value_name = "NAME")]
    pub rig: Option<String>,
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// An agent last active longer ago than this is not alive (e.g. `10m`, `1h`).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub staleness: Duration,
    /// Timeout of each request to the daemon.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// The bd daemon's RPC.
    Daemon,
    /// `bd serve`, HTTP API v0.
    Serve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// The JSON document: the projection plus the daemon it came from.
#[derive(Serialize)]
struct Report<'a> {
    endpoint: String,
    #[serde(flatten)]
    summary: &'a TownSummary,
}

/// Fetches one snapshot, projects it, and writes it to `out`.
pub async fn summary(args: &SummaryArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let config = ClientConfig {
        request_timeout: args.timeout,
        actor: "gastown-operator-cli".to_owned(),
        ..ClientConfig::default()
    };
    let token = load_token(args)?;
    let client = match args.protocol {
        Some(ProtocolArg::Daemon) => Beads::connect(Protocol::Daemon, &args.daemon, token, config)?,
        Some(ProtocolArg::Serve) => Beads::connect(Protocol::Serve, &args.daemon, token, config)?,
        None => Beads::detect(&args.daemon, token, config).await?,
    };
    let snapshot = client.snapshot().await?;
    let now = Timestamp::now();
    let mut summary = project(&snapshot, now, args.staleness);
    if let Some(rig) = &args.rig {
        // A rig beads knows nothing about is shown empty rather than as an error:
        // "no agents, no merge requests" is itself the answer.
        let known = snapshot.merge_requests.is_some().then_some(0);
        let only = summary.rig(rig).cloned().unwrap_or_else(|| RigSummary {
            name: rig.clone(),
            merge_queue_depth: known,
            merge_queue_in_processing: known,
            ..RigSummary::default()
        });
        summary.rigs = vec![only];
    }

    match args.output {
        OutputFormat::Json => {
            let report = Report {
                endpoint: client.endpoint().to_string(),
                summary: &summary,
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Table => {
            let text = render_table(
                &client.endpoint().to_string(),
                &summary,
                args.rig.is_none(),
                now,
            );
            out.write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

fn load_token(args: &SummaryArgs) -> anyhow::Result<Option<Token>> {
    match &args.token_file {
        Some(path) => Ok(Token::from_file(path)?),
        None => match std::env::var(TOKEN_ENV) {
            Ok(value) => Ok(Token::new(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot read {TOKEN_ENV}")),
        },
    }
}

/// A figure beads may not have given (`bd serve` of a town's database holds
/// no rig's merge requests): unknown is `?`, never 0.
fn known(figure: Option<u32>) -> String {
    figure.map_or_else(|| "?".into(), |n| n.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: SignedDuration = text
        .parse()
        .map_err(|error| format!("{text:?} is not a duration like 90s, 10m or 1h: {error}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} is negative"))
}

fn render_table(endpoint: &str, summary: &TownSummary, with_town: bool, now: Timestamp) -> String {
    let mut daemon = Table::new(["DAEMON", "STATUS", "VERSION", "UPTIME", "ERROR"]);
    daemon.row([
        endpoint.to_owned(),
        summary.daemon.status.to_string(),
        or_dash(&summary.daemon.version),
        age(SignedDuration::try_from_secs_f64(summary.daemon.uptime_seconds).unwrap_or_default()),
        summary.daemon.error.clone().unwrap_or_else(|| "-".into()),
    ]);
    let mut sections = vec![daemon.render()];

    if with_town && !summary.town_agents.is_empty() {
        let mut town = Table::new([
            "TOWN AGENT",
            "ROLE",
            "STATE",
            "ALIVE",
            "LAST ACTIVITY",
            "POD",
        ]);
        for agent in &summary.town_agents {
            town.row([
                agent.id.clone(),
                role_text(agent),
                state_text(agent),
                alive_text(agent),
                last_activity_text(agent, now),
                pod_text(agent),
            ]);
        }
        sections.push(town.render());
    }

    let mut rigs = Table::new([
        "RIG",
        "POLECATS",
        "CREW",
        "WITNESS",
        "REFINERY",
        "MERGE QUEUE",
        "PROCESSING",
        "HOOKED",
    ]);
    for rig in &summary.rigs {
        let polecats = if rig.polecats.is_empty() {
            rig.polecat_count.to_string()
        } else {
            format!("{} ({})", rig.polecat_count, rig.polecats.join(","))
        };
        rigs.row([
            rig.name.clone(),
            polecats,
            rig.crew_count.to_string(),
            up_down(rig.witness_alive),
            up_down(rig.refinery_alive),
            known(rig.merge_queue_depth),
            known(rig.merge_queue_in_processing),
            rig.hooked_work.len().to_string(),
        ]);
    }
    sections.push(rigs.render());

    let mut agents = Table::new([
        "AGENT",
        "RIG",
        "ROLE",
        "STATE",
        "ALIVE",
        "HOOK",
        "LAST ACTIVITY",
        "POD",
    ]);
    for agent in summary.rigs.iter().flat_map(|rig| &rig.agents) {
        agents.row([
            agent.id.clone(),
            agent.rig.clone().unwrap_or_else(|| "-".into()),
            role_text(agent),
            state_text(agent),
            alive_text(agent),
            agent.hook_bead.clone().unwrap_or_else(|| "-".into()),
            last_activity_text(agent, now),
            pod_text(agent),
        ]);
    }
    sections.push(agents.render());
    sections.join("\n")
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_owned()
    }
}

fn up_down(alive: bool) -> String {
    if alive { "alive".into() } else { "down".into() }
}

fn role_text(agent: &AgentSummary) -> String {
    agent
        .role
        .as_ref()
        .map_or_else(|| "-".into(), ToString::to_string)
}

fn state_text(agent: &AgentSummary) -> String {
    agent
        .state
        .as_ref()
        .map_or_else(|| "-".into(), ToString::to_string)
}

/// `yes`, `stale` (live state, no recent activity) or `no`.
fn alive_text(agent: &AgentSummary) -> String {
    match (agent.alive, agent.live) {
        (true, _) => "yes",
        (false, true) => "stale",
        (false, false) => "no",
    }
    .into()
}

fn last_activity_text(agent: &AgentSummary, now: Timestamp) -> String {
    agent.last_activity.map_or_else(
        || "-".into(),
        |at| format!("{} ago", age(now.duration_since(at))),
    )
}

fn pod_text(agent: &AgentSummary) -> String {
    match (&agent.pod_name, &agent.pod_status) {
        (Some(name), Some(status)) => format!("{name} ({status})"),
        (Some(name), None) => name.clone(),
        (None, Some(status)) => status.clone(),
        (None, None) => "-".into(),
    }
}

/// A coarse, human age: `42s`, `7m`, `3h`, `2d`.
fn age(duration: SignedDuration) -> String {
    let seconds = duration.as_secs().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beads_testd::{TestDaemon, TestDaemonConfig, TownShape, seed_town};

    const SECRET: &str = "cli-secret-7f1e";

    struct Fixture {
        daemon: TestDaemon,
        token_file: tempfile::NamedTempFile,
    }

    async fn town() -> Fixture {
        let daemon = TestDaemon::start(TestDaemonConfig {
            token: SECRET.to_owned(),
            ..TestDaemonConfig::default()
        })
        .await
        .expect("test daemon");
        seed_town(daemon.store(), &["gastown", "beads"], &TownShape::default());
        let token_file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(token_file.path(), format!("{SECRET}\n")).expect("token written");
        Fixture { daemon, token_file }
    }

    fn args(
        fixture: &Fixture,
        url: String,
        output: OutputFormat,
        rig: Option<&str>,
    ) -> SummaryArgs {
        SummaryArgs {
            daemon: url,
            protocol: None,
            token_file: Some(fixture.token_file.path().to_owned()),
            rig: rig.map(str::to_owned),
            output,
            staleness: Duration::from_secs(600),
            timeout: Duration::from_secs(5),
        }
    }

    async fn run(args: &SummaryArgs) -> anyhow::Result<String> {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), summary(args, &mut out))
            .await
            .expect("bounded")?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    /// The whitespace-separated cells of the first line starting with `first`.
    fn row<'a>(output: &'a str, first: &str) -> Vec<&'a str> {
        output
            .lines()
            .find(|line| line.split_whitespace().next() == Some(first))
            .unwrap_or_else(|| panic!("no row {first} in:\n{output}"))
            .split_whitespace()
            .collect()
    }

    #[tokio::test]
    async fn table_over_http_shows_daemon_town_rigs_and_agents() {
        let fixture = town().await;
        let url = fixture.daemon.http_url();
        let output = run(&args(&fixture, url.clone(), OutputFormat::Table, None))
            .await
            .expect("summary");

        assert_eq!(
            row(&output, "DAEMON"),
            ["DAEMON", "STATUS", "VERSION", "UPTIME", "ERROR"]
        );
        assert_eq!(row(&output, &url)[1..3], ["healthy", "0.60.0"]);
        assert_eq!(row(&output, "gt-mayor")[1..4], ["mayor", "working", "yes"]);
        assert_eq!(row(&output, "gt-deacon")[1..3], ["deacon", "idle"]);
        // seed_town: polecats nux (working), slit (done), toast (stuck); two idle crew;
        // fresh witness; refinery last active an hour ago; 2 queued + 1 processing MRs.
        for rig in ["gastown", "beads"] {
            assert_eq!(
                row(&output, rig),
                [rig, "2", "(nux,toast)", "2", "alive", "down", "3", "1", "2"],
                "{output}"
            );
        }
        let refinery = row(&output, "gt-gastown-refinery-refinery");
        assert_eq!(refinery[1..5], ["gastown", "refinery", "idle", "stale"]);
        let slit = row(&output, "gt-gastown-polecat-slit");
        assert_eq!(slit[3..5], ["done", "no"]);
        assert!(!output.contains(SECRET));
    }

    /// `bd serve` is recognised without `--protocol`; its town database
    /// holds no rig's merge requests, so the queue shows `?`, not 0.
    #[tokio::test]
    async fn bd_serve_is_detected_and_its_unknowns_shown_as_unknown() {
        let daemon = TestDaemon::start(TestDaemonConfig {
            token: SECRET.to_owned(),
            personality: beads_testd::Personality::Serve,
            ..TestDaemonConfig::default()
        })
        .await
        .expect("test daemon");
        seed_town(
            daemon.store(),
            &["gastown"],
            &TownShape {
                style: beads_testd::AgentStyle::GasTownToday,
                ..TownShape::default()
            },
        );
        let token_file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(token_file.path(), format!("{SECRET}\n")).expect("token written");
        let fixture = Fixture { daemon, token_file };
        let url = fixture.daemon.http_url();
        let output = run(&args(&fixture, url.clone(), OutputFormat::Table, None))
            .await
            .expect("summary");
        let endpoint = output.lines().nth(1).expect("the server's row");
        assert!(endpoint.starts_with(&url), "{output}");
        assert_eq!(row(&output, "hq-mayor")[1..3], ["mayor", "working"]);
        assert!(endpoint.contains("healthy"), "{output}");
        assert_eq!(row(&output, "hq-mayor")[1..3], ["mayor", "working"]);
        let rig = row(&output, "gastown");
        assert_eq!(rig[1..3], ["2", "(nux,toast)"], "{output}");
        assert_eq!(rig[6..8], ["?", "?"], "{output}");
        assert!(!output.contains(SECRET));
        // Told it is a daemon, the same server is not understood.
        let mut as_daemon = args(&fixture, url, OutputFormat::Table, None);
        as_daemon.protocol = Some(ProtocolArg::Daemon);
        assert!(run(&as_daemon).await.is_err());
    }

    #[tokio::test]
    async fn json_over_tcp_for_one_rig() {
        let fixture = town().await;
        let url = fixture.daemon.tcp_url();
        let output = run(&args(
            &fixture,
            url.clone(),
            OutputFormat::Json,
            Some("beads"),
        ))
        .await
        .expect("summary");
        let report: serde_json::Value = serde_json::from_str(&output).expect("JSON");
        assert_eq!(report["endpoint"], url.as_str());
        assert_eq!(report["daemon"]["status"], "healthy");
        assert_eq!(report["mayor"]["state"], "working");
        let rigs = report["rigs"].as_array().expect("rigs");
        assert_eq!(rigs.len(), 1);
        assert_eq!(rigs[0]["name"], "beads");
        assert_eq!(rigs[0]["polecat_count"], 2);
        assert_eq!(rigs[0]["polecats"], serde_json::json!(["nux", "toast"]));
        assert_eq!(rigs[0]["crew_count"], 2);
        assert_eq!(rigs[0]["witness_alive"], true);
        assert_eq!(rigs[0]["refinery_alive"], false);
        assert_eq!(rigs[0]["merge_queue_depth"], 3);
        assert_eq!(rigs[0]["merge_queue_in_processing"], 1);
        assert!(!output.contains(SECRET));
    }

    #[tokio::test]
    async fn a_rig_without_beads_is_shown_empty() {
        let fixture = town().await;
        let output = run(&args(
            &fixture,
            fixture.daemon.http_url(),
            OutputFormat::Table,
            Some("nowhere"),
        ))
        .await
        .expect("summary");
        assert_eq!(
            row(&output, "nowhere"),
            ["nowhere", "0", "0", "down", "down", "0", "0", "0"]
        );
        assert!(!output.contains("gastown"), "only the asked rig:\n{output}");
    }

    #[tokio::test]
    async fn a_refused_token_is_a_typed_error_without_the_token() {
        let fixture = town().await;
        fixture.daemon.faults().set_reject_tokens(true);
        let error = run(&args(
            &fixture,
            fixture.daemon.http_url(),
            OutputFormat::Table,
            None,
        ))
        .await
        .expect_err("refused");
        let text = format!("{error:#} {error:?}");
        assert!(text.contains("refused the token"), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn durations_and_ages() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(age(SignedDuration::from_secs(42)), "42s");
        assert_eq!(age(SignedDuration::from_secs(7 * 60 + 5)), "7m");
        assert_eq!(age(SignedDuration::from_hours(3)), "3h");
        assert_eq!(age(SignedDuration::from_hours(50)), "2d");
        assert_eq!(age(SignedDuration::from_secs(-5)), "0s");
    }
}
