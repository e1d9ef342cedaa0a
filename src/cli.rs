//! Command-line definitions (SPEC §2). Parsing only; commands live in `commands/`.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

/// Alerting worker for Acronis Cyber Protect Cloud.
#[derive(Debug, Parser)]
#[command(name = "acronis-watch", version, about, long_about = None)]
pub struct Cli {
    /// worker.toml to read.
    #[arg(
        long,
        global = true,
        default_value = "worker.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Log as human text or one JSON object per line (stderr).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log detail (-q warnings, -qq errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The worker: poll on schedule, deliver continuously, send digests.
    Run(RunArgs),
    /// One cycle: poll every tenant, evaluate, deliver, exit.
    Once(OnceArgs),
    /// Validate config, rule files and templates.
    Check,
    /// Run against the built-in simulated datacenter; needs no config or credentials.
    Demo(DemoArgs),
    /// Serve the simulated datacenter alone.
    Simulate(SimulateArgs),
    /// Print what a channel would receive for a rule, from sample data.
    Preview(PreviewArgs),
    /// Send one clearly marked test notification through a channel.
    TestNotify(TestNotifyArgs),
    /// Build the digest now; send it unless --dry-run.
    Digest(DigestArgs),
    /// First contact with a datacenter: run each step the worker depends on and say
    /// what it found and what it means for this config.
    Doctor(DoctorArgs),
    /// Inspect the state directory.
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Args)]
pub struct OnceArgs {
    /// Decide by this time (RFC 3339) instead of the wall clock.
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub now: Option<DateTime<Utc>>,
    /// Keep delivering for at most this long (e.g. 60s).
    #[arg(long, default_value = "60s", value_name = "D")]
    pub deliver_for: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after N poll cycles (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub cycles: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Number of machines.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub fleet: usize,
    /// Number of customer tenants.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub tenants: usize,
    /// Seed of the deterministic fleet.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// API client id the simulator accepts.
    #[arg(long, default_value = "sim-client")]
    pub client_id: String,
    /// API client secret the simulator accepts.
    #[arg(
        long,
        default_value = "sim-secret",
        env = "ACRONIS_SIM_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: String,
    /// Simulated start time (RFC 3339; default: now).
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub start: Option<DateTime<Utc>>,
    /// Token lifetime in simulated seconds.
    #[arg(long, default_value_t = 7200, value_name = "SECS")]
    pub token_lifetime: u64,
    /// Stop simulated time from flowing with real time (it moves only via /_sim/clock).
    #[arg(long)]
    pub frozen: bool,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[arg(long)]
    pub rule: String,
    #[arg(long)]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestNotifyArgs {
    #[arg(long)]
    pub channel: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Start the worker's clock at T (RFC 3339); it then moves with real time. For
    /// tests and replays against the simulator; default: the wall clock.
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, value_parser = parse_time, value_name = "T")]
    pub now: Option<DateTime<Utc>>,
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Alerts with status, since, last notified.
    Alerts(JsonFlag),
    /// Queued notifications.
    Outbox(JsonFlag),
    /// Dead letters.
    Dead(JsonFlag),
    /// Stored resources.
    Resources(ResourcesArgs),
    /// Tenants: enabled, poll mode, incremental misses, watermark, last poll, last full
    /// resync.
    Tenants(JsonFlag),
    /// Move dead letters back to the outbox.
    RetryDead,
    /// Put tenants that `incremental = "auto"` switched to full passes back on
    /// incremental polls (their miss counts stay).
    ResetIncremental(TenantArg),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Read this tenant (a customer UUID) in the resource steps; default: the first
    /// watched one.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// Only this tenant (as stored: the UUID polled with); all when omitted.
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// One JSON array of flat objects instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResourcesArgs {
    /// Only this tenant (as stored: the UUID polled with).
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// One JSON array of flat objects instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected RFC 3339, like 2026-11-23T08:00:00Z"))
}
