//! The run's results: JSON for tracking, a table for people, an SVG plot for the docs.

use std::fmt::Write as _;

use gastown_api::gastown::BeadsProtocol;
use serde::Serialize;

use super::churn::ChurnResult;
use super::fleet::FleetResult;
use super::operator::Footprint;
use super::plan::Plan;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub plan: Plan,
    pub machine: Machine,
    pub fleets: Vec<FleetResult>,
    pub churn: Option<ChurnResult>,
    /// The largest fleet, with the operator as a child process (when the plan says so).
    pub footprint: Option<FleetResult>,
    /// Scenarios that did not complete, with why.
    pub failures: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub profile: &'static str,
}

impl Machine {
    pub fn current() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: field(&cpuinfo, "model name")
                .unwrap_or("unknown")
                .to_string(),
            memory_gib: field(&meminfo, "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0 / 1024.0),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// The value of `name: value` lines (`/proc/cpuinfo`, `/proc/meminfo`).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

impl Report {
    /// The tables printed at the end of a run (also pasted into the docs).
    pub fn table(&self) -> String {
        let mut rows = vec![row(&[
            "fleet (towns×rigs×crew)",
            "converge s",
            "writes",
            "minimum",
            "ratio",
            "events",
            "ratio w/ events",
            "idle writes",
            "idle GET/LIST",
            "bd req/town/sync",
            "peak MiB",
            "CPU s",
        ])];
        let fleets = self.fleets.iter().chain(self.footprint.as_ref());
        for fleet in fleets {
            let c = &fleet.convergence;
            let mut label = fleet.shape.label();
            if fleet.protocol == BeadsProtocol::Serve {
                label.push_str(" (bd serve)");
            }
            if fleet.operator_in_child {
                label.push_str(" (child)");
            }
            if !c.converged {
                label.push_str(&format!(" [{} Running]", c.running));
            }
            rows.push(vec![
                label,
                format!("{:.1}", c.seconds),
                c.writes.objects.to_string(),
                c.minimum.total().to_string(),
                opt(c.write_ratio, 2),
                c.writes.events.to_string(),
                opt(c.write_ratio_with_events, 2),
                fleet.idle.api_writes.to_string(),
                fleet.idle.api_extra_reads.to_string(),
                format!("{:.1}", fleet.idle.beads_per_town_per_sync),
                footprint_cell(&fleet.footprint, |f| f.peak_rss_mib),
                footprint_cell(&fleet.footprint, |f| f.cpu_seconds),
            ]);
        }
        let mut out = render(&rows);
        if let Some(churn) = &self.churn {
            out.push('\n');
            out.push_str(&churn_table(churn));
        }
        for failure in &self.failures {
            out.push_str(&format!("\nFAILED {failure}\n"));
        }
        out
    }
    /// Two bar charts side by side: convergence seconds per fleet (the bd
    /// daemon's, the growth series; the bd serve row is in the table), and
    /// churn latency percentiles.
    pub fn svg(&self) -> String {
        let convergence: Vec<(String, f64)> = self
            .fleets
            .iter()
            .filter(|f| f.protocol == BeadsProtocol::Daemon)
            .map(|f| (f.shape.label(), f.convergence.seconds))
            .collect();
        let churn: Vec<(String, f64)> = self
            .churn
            .iter()
            .flat_map(|c| {
                [
                    ("create p50", c.create_p50_ms),
                    ("create p99", c.create_p99_ms),
                    ("delete p50", c.delete_p50_ms),
                    ("delete p99", c.delete_p99_ms),
                ]
            })
            .map(|(label, v)| (label.to_string(), v.unwrap_or(0.0)))
            .collect();
        let mut svg = String::from(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="760" height="300" font-family="sans-serif" font-size="12">"#,
        );
        svg.push('\n');
        svg.push_str(&bar_chart(
            0.0,
            "Convergence (s) by towns×rigs×crew",
            &convergence,
        ));
        svg.push_str(&bar_chart(
            380.0,
            "Churn latency (ms), bead change → pod",
            &churn,
        ));
        svg.push_str("</svg>\n");
        svg
    }
}

fn churn_table(churn: &ChurnResult) -> String {
    let rows = vec![
        row(&[
            "churn",
            "spawns",
            "pods created",
            "pods deleted",
            "create p50 ms",
            "create p99 ms",
            "delete p50 ms",
            "delete p99 ms",
            "timeouts",
            "seconds",
        ]),
        vec![
            format!("{} rigs × {}", churn.plan.rigs, churn.plan.per_rig),
            churn.plan.spawns.to_string(),
            churn.pods_created.to_string(),
            churn.pods_deleted.to_string(),
            opt(churn.create_p50_ms, 0),
            opt(churn.create_p99_ms, 0),
            opt(churn.delete_p50_ms, 0),
            opt(churn.delete_p99_ms, 0),
            churn.timeouts.to_string(),
            format!("{:.1}", churn.seconds),
        ],
    ];
    render(&rows)
}

fn footprint_cell(footprint: &Footprint, value: impl Fn(&Footprint) -> f64) -> String {
    let v = value(footprint);
    if footprint.operator_only {
        format!("{v:.1}")
    } else {
        format!("({v:.1})")
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_string()).collect()
}

/// A Markdown table (it reads as plain text too).
pub fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let cells = (0..columns)
            .map(|c| {
                let cell = r.get(c).map_or("", String::as_str);
                format!("{cell:<width$}", width = widths[c])
            })
            .collect();
        out.push_str(&line(cells));
        if n == 0 {
            out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
        }
    }
    out
}

/// A 360×300 panel at `x` with one labelled bar per value.
fn bar_chart(x: f64, title: &str, bars: &[(String, f64)]) -> String {
    const TOP: f64 = 40.0;
    const HEIGHT: f64 = 200.0;
    const WIDTH: f64 = 320.0;
    let max = bars
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(f64::EPSILON);
    let slot = WIDTH / bars.len().max(1) as f64;
    let mut out = String::new();
    let left = x + 30.0;
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="20" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#333"/>"##,
        y = TOP + HEIGHT,
        x2 = left + WIDTH
    );
    for (n, (label, value)) in bars.iter().enumerate() {
        let h = value / max * HEIGHT;
        let bx = left + n as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let _ = writeln!(
            out,
            r##"<rect x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="#4a7ebb"/>"##,
            TOP + HEIGHT - h
        );
        let cx = bx + bw / 2.0;
        let _ = writeln!(
            out,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{value:.1}</text>"#,
            TOP + HEIGHT - h - 4.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + HEIGHT + 16.0,
            escape(label)
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fleet::{Convergence, IdleCost};
    use crate::bench::plan::{FleetShape, Size};
    use crate::bench::stats::{MinimumWrites, Writes};

    #[test]
    fn tables_are_markdown_with_aligned_columns() {
        let table = render(&[row(&["fleet", "s"]), row(&["1×1×0", "12.5"])]);
        assert_eq!(
            table,
            "| fleet | s    |\n| ----- | ---- |\n| 1×1×0 | 12.5 |\n"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let chart = bar_chart(0.0, "a <b>", &[("x".into(), 1.0), ("y".into(), 4.0)]);
        assert!(chart.contains("a &lt;b&gt;"));
        assert!(chart.contains(r#"height="200.0""#), "{chart}");
        assert!(chart.contains(r#"height="50.0""#), "{chart}");
        assert_eq!(chart.matches("<rect").count(), 2);
    }

    fn fleet(shape: FleetShape, protocol: BeadsProtocol, seconds: f64) -> FleetResult {
        FleetResult {
            shape,
            protocol,
            operator_in_child: false,
            convergence: Convergence {
                seconds,
                converged: true,
                running: shape.towns,
                writes: Writes::default(),
                minimum: MinimumWrites::default(),
                write_ratio: None,
                write_ratio_with_events: None,
            },
            idle: IdleCost {
                window_seconds: 1.0,
                syncs: 1,
                api_by_verb: Default::default(),
                api_by_request: Default::default(),
                api_writes: 0,
                api_extra_reads: 0,
                beads_by_operation: Default::default(),
                beads_per_town_per_sync: 0.0,
            },
            footprint: Footprint {
                peak_rss_mib: 1.0,
                cpu_seconds: 1.0,
                operator_only: false,
            },
        }
    }

    #[test]
    fn the_serve_row_is_labelled_and_kept_out_of_the_growth_series() {
        let small = FleetShape::new(1, 1, 0);
        let report = Report {
            plan: Plan::new(Size::Smoke),
            machine: Machine::current(),
            fleets: vec![
                fleet(small, BeadsProtocol::Daemon, 1.0),
                fleet(FleetShape::new(2, 1, 0), BeadsProtocol::Daemon, 2.0),
                fleet(small, BeadsProtocol::Serve, 3.0),
            ],
            churn: None,
            footprint: None,
            failures: Vec::new(),
        };
        let table = report.table();
        assert!(table.contains("| 1×1×0 (bd serve) "), "{table}");
        assert_eq!(table.matches("(bd serve)").count(), 1, "{table}");
        let svg = report.svg();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(!svg.contains(">3.0<"), "{svg}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["fleets"][0]["protocol"], "daemon");
        assert_eq!(json["fleets"][2]["protocol"], "serve");
    }

    #[test]
    fn proc_fields_are_found_by_name() {
        let meminfo = "MemTotal:       25165824 kB\nMemFree: 1 kB\n";
        assert_eq!(field(meminfo, "MemTotal"), Some("25165824 kB"));
        assert_eq!(field(meminfo, "Missing"), None);
    }
}
