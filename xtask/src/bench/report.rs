//! The run's results: JSON for tracking, a table for people, an SVG plot for the docs.

use std::fmt::Write as _;

use gastown_api::gastown::BeadsProtocol;
use serde::Serialize;

use super::churn::ChurnResult;
use super::fleet::FleetResult;
use super::growth::GrowthStep;
use super::operator::Footprint;
use super::plan::{Plan, Scenario};

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub plan: Plan,
    /// The scenarios this run measured (`--only`; default every one).
    pub scenarios: Vec<Scenario>,
    pub machine: Machine,
    /// The in-process fleets, then the bd serve runs (in process, then with
    /// the operator as a child).
    pub fleets: Vec<FleetResult>,
    pub churn: Option<ChurnResult>,
    /// The growth series, operator as a child process, smallest first.
    pub growth: Vec<GrowthStep>,
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
            "idle CPU ms/town/sync",
            "peak MiB",
            "CPU s",
        ])];
        let fleets = self
            .fleets
            .iter()
            .chain(self.growth.iter().map(|step| &step.fleet));
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
                parenthesised(
                    format!("{:.2}", fleet.idle.cpu_ms_per_town_per_sync),
                    fleet.footprint.operator_only,
                ),
                footprint_cell(&fleet.footprint, |f| f.peak_rss_mib),
                footprint_cell(&fleet.footprint, |f| f.cpu_seconds),
            ]);
        }
        let mut out = render(&rows);
        if !self.growth.is_empty() {
            out.push('\n');
            out.push_str(&growth_table(&self.growth));
        }
        if let Some(churn) = &self.churn {
            out.push('\n');
            out.push_str(&churn_table(churn));
        }
        for failure in &self.failures {
            out.push_str(&format!("\nFAILED {failure}\n"));
        }
        out
    }
    /// Two bar charts side by side: convergence seconds per in-process fleet
    /// (the bd daemon's; the bd serve rows are in the table), and churn
    /// latency percentiles; below them, when the growth series ran, its
    /// per-town seconds against towns (flat is the goal).
    pub fn svg(&self) -> String {
        let convergence: Vec<(String, f64)> = self
            .fleets
            .iter()
            .filter(|f| f.protocol == BeadsProtocol::Daemon && !f.operator_in_child)
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
        // A panel without figures (a scenario left out by --only) is left out.
        let bars = !convergence.is_empty() || !churn.is_empty();
        let growth_top: f64 = if bars { 300.0 } else { 0.0 };
        let height = growth_top + if self.growth.is_empty() { 0.0 } else { 300.0 };
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{}" font-family="sans-serif" font-size="12">"#,
            height.max(300.0)
        );
        svg.push('\n');
        if !convergence.is_empty() {
            svg.push_str(&bar_chart(
                0.0,
                "Convergence (s) by towns×rigs×crew",
                &convergence,
            ));
        }
        if !churn.is_empty() {
            svg.push_str(&bar_chart(
                380.0,
                "Churn latency (ms), bead change → pod",
                &churn,
            ));
        }
        if !self.growth.is_empty() {
            let towns = |step: &GrowthStep| step.fleet.shape.towns as f64;
            let series = [
                Series {
                    name: "operator CPU s per town, converging",
                    colour: "#4a7ebb",
                    points: self
                        .growth
                        .iter()
                        .map(|s| (towns(s), s.per_town.cpu_seconds))
                        .collect(),
                },
                Series {
                    name: "convergence s per town",
                    colour: "#d9822b",
                    points: self
                        .growth
                        .iter()
                        .map(|s| (towns(s), s.per_town.converge_seconds))
                        .collect(),
                },
            ];
            let shape = self.growth[0].fleet.shape;
            let title = format!(
                "Per town, by towns (×{}×{}, operator as a child): flat is the goal",
                shape.rigs, shape.crew
            );
            svg.push_str(&line_chart(growth_top, &title, &series));
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// The growth series: each step's figures and the same per town.
fn growth_table(steps: &[GrowthStep]) -> String {
    let mut rows = vec![row(&[
        "growth (child)",
        "converge s",
        "converge s/town",
        "CPU s converging",
        "CPU s/town",
        "peak MiB",
        "MiB/town",
        "start MiB",
        "added MiB/town",
        "idle CPU ms/town/sync",
        "bd req/town/sync",
    ])];
    for step in steps {
        let (fleet, per_town) = (&step.fleet, &step.per_town);
        let mut label = fleet.shape.label();
        if !fleet.convergence.converged {
            label.push_str(&format!(" [{} Running]", fleet.convergence.running));
        }
        rows.push(vec![
            label,
            format!("{:.1}", fleet.convergence.seconds),
            format!("{:.3}", per_town.converge_seconds),
            format!("{:.2}", fleet.cpu.converging),
            format!("{:.3}", per_town.cpu_seconds),
            format!("{:.1}", fleet.footprint.peak_rss_mib),
            format!("{:.2}", per_town.peak_rss_mib),
            format!("{:.1}", fleet.startup.peak_rss_mib),
            format!("{:.2}", per_town.added_rss_mib),
            format!("{:.2}", per_town.idle_cpu_ms_per_sync),
            format!("{:.1}", fleet.idle.beads_per_town_per_sync),
        ]);
    }
    render(&rows)
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
    parenthesised(format!("{:.1}", value(footprint)), footprint.operator_only)
}

/// A figure of the whole benchmark process (not the operator's alone) is in parentheses.
fn parenthesised(figure: String, operator_only: bool) -> String {
    if operator_only {
        figure
    } else {
        format!("({figure})")
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

/// One line of a [`line_chart`].
struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    /// `(x, y)`
    points: Vec<(f64, f64)>,
}

/// A 760×300 panel at height `y`: one line per series, both axes from 0,
/// each point labelled with its value, x ticks at the points' x.
fn line_chart(y: f64, title: &str, series: &[Series]) -> String {
    const LEFT: f64 = 50.0;
    const TOP: f64 = 50.0;
    const HEIGHT: f64 = 200.0;
    const WIDTH: f64 = 660.0;
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let max_x = points().map(|(x, _)| x).fold(0.0, f64::max).max(1.0);
    let max_y = points()
        .map(|(_, y)| y)
        .fold(0.0, f64::max)
        .max(f64::EPSILON)
        * 1.15;
    let px = |x: f64| LEFT + x / max_x * WIDTH;
    let py = |v: f64| y + TOP + HEIGHT - v / max_y * HEIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>"#,
        y + 20.0,
        escape(title)
    );
    let (x0, y0) = (px(0.0), py(0.0));
    let _ = writeln!(
        out,
        r##"<path d="M{x0:.1},{:.1} V{y0:.1} H{:.1}" fill="none" stroke="#333"/>"##,
        y + TOP,
        LEFT + WIDTH
    );
    let mut ticks: Vec<f64> = points().map(|(x, _)| x).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{x}</text>"#,
            px(x),
            y0 + 16.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">towns</text>"#,
        LEFT + WIDTH / 2.0,
        y0 + 32.0
    );
    for (
        n,
        Series {
            name,
            colour,
            points,
        },
    ) in series.iter().enumerate()
    {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, v)| format!("{:.1},{:.1}", px(x), py(v)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(x, v) in points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                px(x),
                py(v)
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{colour}">{v:.3}</text>"#,
                px(x),
                py(v) - 6.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
            LEFT + 10.0 + 330.0 * n as f64,
            y + 38.0,
            escape(name)
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
    use crate::bench::plan::{FleetShape, Size};

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
        FleetResult::example(shape, protocol, seconds)
    }

    #[test]
    fn the_serve_row_is_labelled_and_kept_out_of_the_growth_series() {
        let small = FleetShape::new(1, 1, 0);
        let report = Report {
            plan: Plan::new(Size::Smoke),
            scenarios: Scenario::ALL.to_vec(),
            machine: Machine::current(),
            fleets: vec![
                fleet(small, BeadsProtocol::Daemon, 1.0),
                fleet(FleetShape::new(2, 1, 0), BeadsProtocol::Daemon, 2.0),
                fleet(small, BeadsProtocol::Serve, 3.0),
            ],
            churn: None,
            growth: Vec::new(),
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
    fn the_growth_series_has_its_table_child_rows_and_plot() {
        let step = |towns: usize, seconds: f64, cpu: f64| {
            let mut fleet = fleet(FleetShape::new(towns, 5, 3), BeadsProtocol::Daemon, seconds);
            fleet.operator_in_child = true;
            fleet.footprint.operator_only = true;
            fleet.cpu.converging = cpu;
            fleet.cpu.operator_only = true;
            fleet.idle.cpu_ms_per_town_per_sync = 0.25;
            GrowthStep::new(fleet)
        };
        let report = Report {
            plan: Plan::new(Size::Full),
            scenarios: vec![Scenario::Growth],
            machine: Machine::current(),
            fleets: Vec::new(),
            churn: None,
            growth: vec![
                step(10, 3.0, 2.5),
                step(100, 30.0, 25.0),
                step(300, 100.0, 80.0),
            ],
            failures: Vec::new(),
        };
        let table = report.table();
        assert!(table.contains("| 100×5×3 (child) "), "{table}");
        assert!(table.contains("| growth (child) "), "{table}");
        // 30 s ÷ 100 towns, 25 CPU s ÷ 100 towns, and the idle CPU, not parenthesised.
        assert!(table.contains("| 0.300 "), "{table}");
        assert!(table.contains("| 0.250 "), "{table}");
        assert!(table.contains("| 0.25 "), "{table}");
        assert!(table.contains("| 300×5×3 "), "{table}");
        assert!(!table.contains("(0.25)"), "{table}");
        let svg = report.svg();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
        assert!(svg.contains(">0.300<") && svg.contains(">0.250<"), "{svg}");
        // Only the growth series ran: no empty bar charts above it.
        assert!(svg.contains(r#"height="300""#), "{svg}");
        assert!(
            !svg.contains("Convergence (s)") && !svg.contains("Churn"),
            "{svg}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["scenarios"], serde_json::json!(["growth"]));
        assert_eq!(json["growth"][1]["per_town"]["converge_seconds"], 0.3);
        assert_eq!(json["growth"][1]["operator_in_child"], true);
    }

    #[test]
    fn an_in_process_figure_is_parenthesised() {
        assert_eq!(parenthesised("1.5".into(), true), "1.5");
        assert_eq!(parenthesised("1.5".into(), false), "(1.5)");
    }

    #[test]
    fn proc_fields_are_found_by_name() {
        let meminfo = "MemTotal:       25165824 kB\nMemFree: 1 kB\n";
        assert_eq!(field(meminfo, "MemTotal"), Some("25165824 kB"));
        assert_eq!(field(meminfo, "Missing"), None);
    }
}
