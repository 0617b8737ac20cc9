//! The figures of one run, the targets they are held against, and their printed and JSON forms.

use serde::Serialize;

use super::cpu::CpuUse;
use super::phases::{
    BareFigures, HotlistFigures, IngestFigures, LatencyFigures, MatcherFigures, RetentionFigures,
    Throughput,
};

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub reads: usize,
    pub expected_alerts: usize,
    pub commit_interval_ms: u64,
    pub hotlist: HotlistFigures,
    /// Filling the reads topic with ingest's producer settings.
    pub fill: Throughput,
    /// The consumer loop that only counts: the reference for the matcher.
    pub bare_consumer: BareFigures,
    pub matcher_at_least_once: MatcherFigures,
    pub matcher_exactly_once: MatcherFigures,
    pub latency: LatencyFigures,
    pub ingest: IngestFigures,
    pub retention: RetentionFigures,
}

/// One target: the figure, its bound, and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// The figures of a run with the machine it ran on and the targets checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    pub figures: Figures,
    pub targets: Vec<TargetCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_bytes: u64,
}

impl Machine {
    /// Describes this machine from `/proc`.
    pub fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split(':').nth(1))
            .map_or_else(|| "unknown".into(), |model| model.trim().to_string());
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(0, |kib| kib * 1024);
        Self {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            memory_bytes,
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Holds the figures against the targets the project set for one two-core machine.
pub fn check_targets(figures: &Figures) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let mut check = |target: &str, measured: String, met: bool| {
        checks.push(TargetCheck {
            target: target.into(),
            measured,
            met,
        });
    };
    let bare = figures.bare_consumer.throughput.per_second;
    let alo = figures.matcher_at_least_once.throughput.per_second;
    let eos = figures.matcher_exactly_once.throughput.per_second;
    check(
        "matcher at-least-once ≥ 0.9 × bare consumer",
        format!("{:.2} ×", alo / bare),
        alo >= 0.9 * bare,
    );
    check(
        "matcher exactly-once ≥ 0.9 × at-least-once",
        format!("{:.2} ×", eos / alo),
        eos >= 0.9 * alo,
    );
    check(
        "exactly-once matcher ≥ 100,000 reads/s",
        format!("{eos:.0} reads/s"),
        eos >= 100_000.0,
    );
    let bound = figures.commit_interval_ms as f64 + 20.0;
    check(
        &format!("capture-to-alert p99 ≤ {bound:.0} ms at half load"),
        format!("{:.1} ms", figures.latency.p99_ms),
        figures.latency.p99_ms <= bound,
    );
    let http = figures.ingest.http.per_second;
    let direct = figures.ingest.direct.per_second;
    check(
        &format!(
            "ingest over HTTP (batches of {}) ≥ 0.5 × direct produce",
            figures.ingest.batch
        ),
        format!("{:.2} ×", http / direct),
        http >= 0.5 * direct,
    );
    let full_size = figures.hotlist.entries >= 10_000_000;
    check(
        "10 M-entry hotlist loads in < 60 s",
        format!(
            "{:.1} s for {} entries",
            figures.hotlist.load_seconds, figures.hotlist.entries
        ),
        full_size && figures.hotlist.load_seconds < 60.0,
    );
    let matcher_peak = figures
        .matcher_exactly_once
        .peak_rss_bytes
        .max(figures.hotlist.load_peak_rss_bytes);
    check(
        "matcher peak RSS with a 10 M hotlist ≤ 1 GiB",
        format!("{:.0} MiB", matcher_peak as f64 / MIB),
        full_size && matcher_peak <= 1024 * 1024 * 1024,
    );
    check(
        "ingest peak RSS at ≥ 50,000 reads/s ≤ 256 MiB",
        format!(
            "{:.0} MiB at {http:.0} reads/s",
            figures.ingest.peak_rss_bytes as f64 / MIB
        ),
        http >= 50_000.0 && figures.ingest.peak_rss_bytes <= 256 * 1024 * 1024,
    );
    check(
        "retention state ≤ 100 bytes on disk per read",
        format!("{:.1} B", figures.retention.bytes_per_read),
        figures.retention.bytes_per_read <= 100.0,
    );
    check(
        "every matching read alerted, once",
        format!(
            "{} and {} alerts, {} expected",
            figures.matcher_at_least_once.alerts,
            figures.matcher_exactly_once.alerts,
            figures.expected_alerts
        ),
        figures.matcher_at_least_once.alerts == figures.expected_alerts
            && figures.matcher_exactly_once.alerts == figures.expected_alerts,
    );
    checks
}

impl Report {
    /// Writes the CPU time each drain took per read, and the rate that the at-least-once
    /// matcher's CPU time per read would allow with every core busy. That rate bounds the
    /// matcher's ratio to the bare consumer on this machine, however it spreads its work.
    fn cpu_table(&self, line: &mut impl FnMut(String)) {
        let f = &self.figures;
        line("| drain | CPU per read, machine | machine busy | CPU per read, process |".into());
        line("| --- | ---: | ---: | ---: |".into());
        let mut row = |drain: &str, cpu: &CpuUse, reads: usize| {
            line(format!(
                "| {drain} | {:.2} µs | {:.0} % | {} |",
                cpu.machine_micros_per(reads),
                cpu.machine_busy_share * 100.0,
                cpu.process_micros_per(reads)
                    .map_or_else(|| "–".to_string(), |micros| format!("{micros:.2} µs"))
            ));
        };

        let bare = &f.bare_consumer;
        let at_least_once = &f.matcher_at_least_once;
        row(
            "bare consumer loop (process: the harness)",
            &bare.cpu,
            bare.throughput.records,
        );
        row(
            "matcher, at-least-once",
            &at_least_once.cpu,
            at_least_once.throughput.records,
        );
        row(
            "matcher, exactly-once",
            &f.matcher_exactly_once.cpu,
            f.matcher_exactly_once.throughput.records,
        );
        line(String::new());

        let micros = at_least_once
            .cpu
            .machine_micros_per(at_least_once.throughput.records);
        let ceiling = self.machine.cpus as f64 * 1e6 / micros.max(1e-9);
        line(format!(
            "With all {} cores busy, the at-least-once matcher's CPU time per read would allow \
             at most {ceiling:.0} reads/s, {:.2} × the bare consumer's rate.",
            self.machine.cpus,
            ceiling / bare.throughput.per_second
        ));
    }

    /// Renders the report as Markdown tables, for the terminal and for BENCHMARKS.md.
    pub fn to_markdown(&self) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "Run of {}: {} reads, {} hotlist entries, {} CPUs ({}), {:.0} GiB memory.",
            self.started_at,
            f.reads,
            f.hotlist.entries,
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory_bytes as f64 / MIB / 1024.0
        ));
        line(String::new());
        line("| stage | records | seconds | records/s | peak RSS |".into());
        line("| --- | ---: | ---: | ---: | ---: |".into());
        let rss = |bytes: u64| format!("{:.0} MiB", bytes as f64 / MIB);
        let mut row = |stage: &str, throughput: &Throughput, peak: Option<u64>| {
            line(format!(
                "| {stage} | {} | {:.2} | {:.0} | {} |",
                throughput.records,
                throughput.seconds,
                throughput.per_second,
                peak.map_or_else(|| "–".to_string(), rss)
            ));
        };
        row("fill reads topic (direct produce)", &f.fill, None);
        row(
            "bare consumer loop (reference)",
            &f.bare_consumer.throughput,
            None,
        );
        row(
            "matcher, at-least-once",
            &f.matcher_at_least_once.throughput,
            Some(f.matcher_at_least_once.peak_rss_bytes),
        );
        row(
            "matcher, exactly-once",
            &f.matcher_exactly_once.throughput,
            Some(f.matcher_exactly_once.peak_rss_bytes),
        );
        row("ingest reference (direct produce)", &f.ingest.direct, None);
        row(
            &format!(
                "ingest over HTTP ({} per request, {} in flight)",
                f.ingest.batch, f.ingest.concurrency
            ),
            &f.ingest.http,
            Some(f.ingest.peak_rss_bytes),
        );
        line(String::new());
        self.cpu_table(&mut line);
        line(String::new());
        line(format!(
            "Hotlist: {} entries imported in {:.1} s; loaded by a matcher on an empty state \
             folder in {:.1} s (peak RSS {}); a restart on the loaded state took {:.1} s.",
            f.hotlist.entries,
            f.hotlist.import_seconds,
            f.hotlist.load_seconds,
            rss(f.hotlist.load_peak_rss_bytes),
            f.matcher_exactly_once.restart_seconds
        ));
        line(format!(
            "Latency at {:.0} reads/s ({:.2} × the exactly-once rate, {:.2} × the fill rate), \
             commit interval {} ms: {} reads, {} alerts, capture to alert p50 {:.1} ms, \
             p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms.",
            f.latency.target_reads_per_second,
            f.latency.target_reads_per_second / f.matcher_exactly_once.throughput.per_second,
            f.latency.target_reads_per_second / f.fill.per_second,
            f.commit_interval_ms,
            f.latency.sent,
            f.latency.alerts,
            f.latency.p50_ms,
            f.latency.p99_ms,
            f.latency.p999_ms,
            f.latency.max_ms
        ));
        line(format!(
            "While latency was measured the machine was {:.0} % busy, the matcher using {} of \
             its {} cores; the rest went to the broker and to the harness, which publishes \
             the reads with ingest's producer and reads the alerts.",
            f.latency.cpu.machine_busy_share * 100.0,
            f.latency.cpu.process_cores().map_or_else(
                || "an unknown share".to_string(),
                |cores| format!("{cores:.2}")
            ),
            self.machine.cpus
        ));
        line(format!(
            "Retention: {} reads indexed in {:.1} s; state {:.1} MiB on disk, {:.1} bytes per \
             read; peak RSS {}.",
            f.retention.tracked_reads,
            f.retention.catch_up_seconds,
            f.retention.state_bytes as f64 / MIB,
            f.retention.bytes_per_read,
            rss(f.retention.peak_rss_bytes)
        ));
        line(String::new());
        line("| target | measured | met |".into());
        line("| --- | --- | --- |".into());
        for check in &self.targets {
            line(format!(
                "| {} | {} | {} |",
                check.target,
                check.measured,
                if check.met { "yes" } else { "no" }
            ));
        }
        out
    }
}
