//! Components under measurement, each started as its own `alpr` process with a generated
//! configuration file, as a deployment runs them. A process of its own gives each component a
//! peak resident set size of its own, which the memory targets are stated in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use alpr::app_config::AppConfig;

/// A running `alpr` subcommand with its admin address.
pub struct ComponentProcess {
    name: String,
    child: Child,
    admin: SocketAddr,
    http: reqwest::Client,
}

impl ComponentProcess {
    /// Writes `config` next to the log file in `folder` and starts `alpr <args…>` with it.
    pub fn start(
        alpr: &Path,
        folder: &Path,
        name: &str,
        config: &AppConfig,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let config_path = folder.join(format!("{name}.toml"));
        std::fs::write(&config_path, toml::to_string(config)?)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let log = std::fs::File::create(folder.join(format!("{name}.log")))?;
        let child = Command::new(alpr)
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", alpr.display()))?;
        Ok(Self {
            name: name.to_string(),
            child,
            admin: config.admin.listen,
            http: reqwest::Client::new(),
        })
    }

    /// Waits until `/readyz` on the admin server returns 200, and returns how long that took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = format!("http://{}/readyz", self.admin);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status} before it was ready", self.name);
            }
            if let Ok(response) = self.http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(started.elapsed());
                }
            }
            if started.elapsed() > timeout {
                bail!("{} not ready within {timeout:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Returns the sum of every series of the metric `name`, 0 when it has none yet.
    pub async fn metric_sum(&self, name: &str) -> anyhow::Result<f64> {
        let url = format!("http://{}/metrics", self.admin);
        let text = self.http.get(&url).send().await?.text().await?;
        Ok(text
            .lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Polls the metric `name` until it reaches `target`, and returns when it did.
    pub async fn wait_for_metric(
        &mut self,
        name: &str,
        target: f64,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        let started = Instant::now();
        loop {
            if self.metric_sum(name).await? >= target {
                return Ok(Instant::now());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status}", self.name);
            }
            if started.elapsed() > timeout {
                let reached = self.metric_sum(name).await?;
                bail!(
                    "{} reached {name} {reached} of {target} within {timeout:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Returns the operating system's id of the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the largest resident set size the process has had so far, in bytes.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        peak_rss_of(self.child.id())
    }

    /// Stops the process with SIGTERM, as an orchestrator does, and waits for it to exit.
    /// Returns its peak resident set size, read just before the signal.
    pub fn stop(mut self) -> anyhow::Result<u64> {
        let peak = self.peak_rss_bytes()?;
        let pid = Pid::from_raw(i32::try_from(self.child.id())?);
        kill(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("{} exited with {status}; see its log", self.name);
                }
                return Ok(peak);
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                bail!("{} did not stop within 60 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ComponentProcess {
    fn drop(&mut self) {
        // A benchmark that failed half way must not leave components running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `VmHWM`, the peak resident set size, from `/proc/<pid>/status`.
pub fn peak_rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .context("no VmHWM line in /proc status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM without a value")?
        .parse()?;
    Ok(kib * 1024)
}

/// Returns the bytes taken by the files under `path`.
pub fn folder_bytes(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut pending: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let metadata = entry.metadata()?;
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total += metadata.len();
            }
        }
    }
    Ok(total)
}

/// Returns a free port on 127.0.0.1 for a component's listener.
pub fn free_local_address() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
