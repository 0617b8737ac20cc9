//! CPU time spent over a measured interval, by the whole machine and by one process, read from
//! `/proc`. A rate alone cannot tell a stage that waited from one that ran out of cores. CPU
//! time per record can, and it bounds what a ratio between two stages can reach on this
//! machine: a stage that needs twice the CPU time per record of its reference cannot pass half
//! the reference's rate once the reference keeps every core busy.

use anyhow::Context;
use nix::unistd::{sysconf, SysconfVar};

/// Counters at one instant, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// Time every core spent on anything but idling or waiting for I/O.
    machine_busy: u64,
    /// Busy and idle time of every core together.
    machine_total: u64,
    /// User and system time of the process, when one was given.
    process: Option<u64>,
    taken_at: std::time::Instant,
}

impl CpuSample {
    /// Reads the machine's counters and, if `pid` is given, that process's.
    pub fn now(pid: Option<u32>) -> anyhow::Result<Self> {
        let (machine_busy, machine_total) = machine_ticks()?;
        let process = pid.map(process_ticks).transpose()?;
        Ok(Self {
            machine_busy,
            machine_total,
            process,
            taken_at: std::time::Instant::now(),
        })
    }
}

/// CPU time spent between two samples.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CpuUse {
    /// Time between the two samples.
    pub wall_seconds: f64,
    /// Busy time of every core together.
    pub machine_busy_seconds: f64,
    /// Busy time as a share of all the cores' time, from 0 to 1.
    pub machine_busy_share: f64,
    /// CPU time of the process under measurement, if one was sampled.
    pub process_seconds: Option<f64>,
}

impl CpuUse {
    pub fn between(start: &CpuSample, end: &CpuSample) -> anyhow::Result<Self> {
        let tick = tick_seconds()?;
        let busy = end.machine_busy.saturating_sub(start.machine_busy);
        let total = end.machine_total.saturating_sub(start.machine_total);
        let process = match (start.process, end.process) {
            (Some(start), Some(end)) => Some(end.saturating_sub(start) as f64 * tick),
            _ => None,
        };
        Ok(Self {
            wall_seconds: end.taken_at.duration_since(start.taken_at).as_secs_f64(),
            machine_busy_seconds: busy as f64 * tick,
            machine_busy_share: if total == 0 {
                0.0
            } else {
                busy as f64 / total as f64
            },
            process_seconds: process,
        })
    }

    /// Returns the machine's CPU time per record, in microseconds.
    pub fn machine_micros_per(&self, records: usize) -> f64 {
        self.machine_busy_seconds * 1e6 / records.max(1) as f64
    }

    /// Returns the process's CPU time as the number of cores it kept busy on average.
    pub fn process_cores(&self) -> Option<f64> {
        self.process_seconds
            .map(|seconds| seconds / self.wall_seconds.max(1e-9))
    }

    /// Returns the process's CPU time per record, in microseconds.
    pub fn process_micros_per(&self, records: usize) -> Option<f64> {
        self.process_seconds
            .map(|seconds| seconds * 1e6 / records.max(1) as f64)
    }
}

fn tick_seconds() -> anyhow::Result<f64> {
    let per_second = sysconf(SysconfVar::CLK_TCK)?.context("the clock tick rate is unknown")?;
    Ok(1.0 / per_second as f64)
}

/// Returns the busy and total ticks of all cores from the first line of `/proc/stat`: user,
/// nice, system, idle, iowait, irq, softirq, steal. Steal counts as busy: another guest held
/// the core, and this machine could not use it.
fn machine_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("failed to read /proc/stat")?;
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .context("/proc/stat has no cpu line")?;
    let fields = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse::<u64>)
        .collect::<Result<Vec<_>, _>>()
        .context("invalid counter in the cpu line of /proc/stat")?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields[..] else {
        anyhow::bail!("the cpu line of /proc/stat has fewer than 8 counters");
    };
    let busy = user + nice + system + irq + softirq + steal;
    Ok((busy, busy + idle + iowait))
}

/// Returns the user and system ticks of process `pid` from `/proc/<pid>/stat`.
fn process_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
    parse_process_ticks(&stat).with_context(|| format!("invalid process stat line in {path}"))
}

/// Sums utime and stime, fields 14 and 15 of a process's stat line. The command name, field 2,
/// is in parentheses and may contain spaces, so fields are counted from the last `)`.
fn parse_process_ticks(stat: &str) -> anyhow::Result<u64> {
    let after_name = stat
        .rfind(')')
        .map(|end| &stat[end + 1..])
        .context("missing `)` after the command name")?;
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = |name: &str| -> anyhow::Result<u64> {
        fields
            .next()
            .with_context(|| format!("missing {name} field"))?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    Ok(next("utime")? + next("stime")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ticks_follow_the_command_name() -> anyhow::Result<()> {
        let stat = "4242 (alpr matcher) S 1 4242 4242 0 -1 4194304 900 0 0 0 170 30 0 0 20 0 9";
        assert_eq!(parse_process_ticks(stat)?, 200);
        Ok(())
    }

    #[test]
    fn short_process_stat_is_an_error() {
        assert!(parse_process_ticks("4242 (alpr) S 1 4242").is_err());
    }

    #[test]
    fn this_process_uses_cpu_time() -> anyhow::Result<()> {
        let start = CpuSample::now(Some(std::process::id()))?;
        let mut sum = 0_u64;
        let spin_until = std::time::Instant::now() + std::time::Duration::from_millis(200);
        while std::time::Instant::now() < spin_until {
            sum = sum.wrapping_add(std::hint::black_box(1));
        }
        let end = CpuSample::now(Some(std::process::id()))?;
        let used = CpuUse::between(&start, &end)?;
        assert!(sum > 0);
        assert!(used.process_seconds.is_some_and(|seconds| seconds > 0.0));
        assert!(used.wall_seconds >= 0.2);
        assert!(used.process_cores().is_some_and(|cores| cores > 0.0));
        assert!(used.machine_busy_seconds > 0.0);
        assert!((0.0..=1.0).contains(&used.machine_busy_share));
        Ok(())
    }
}
