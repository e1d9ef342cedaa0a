//! The simulator as the benches run it: its own process (`acronis-watch simulate
//! --frozen --seed 1`), so what a bench measures of the worker is the worker's alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running simulator and its base URL.
pub struct Sim {
    _process: Proc,
    pub url: String,
}

/// Start a frozen simulator of `fleet` machines across `tenants` customer tenants.
pub fn start(fleet: usize, tenants: usize) -> Sim {
    let mut child = Command::new(BIN)
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--frozen",
            "--seed",
            "1",
        ])
        .args(["--fleet", &fleet.to_string()])
        .args(["--tenants", &tenants.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the simulator");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut line).expect("the simulator's banner");
    // Keep reading what it prints: a closed pipe would end it at its next line.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line.trim().rsplit(' ').next().unwrap_or("").to_string();
    assert!(
        url.starts_with("http://"),
        "unexpected simulator banner: {line}"
    );
    Sim {
        _process: Proc(child),
        url,
    }
}

impl Sim {
    /// The simulator's peak resident memory so far (KiB), from /proc.
    #[allow(dead_code)] // not every bench reports it
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self._process.0.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// A `worker.toml` that polls every customer of this simulator, `page` items a
    /// page, four tenants at a time, state in `./state`, no channels.
    #[allow(dead_code)] // the idle bench writes its own, with rules
    pub fn poll_config(&self, page: u32) -> String {
        format!(
            "[acronis]\ndatacenter_url = \"{}\"\nclient_id = \"sim-client\"\nclient_secret = \"sim-secret\"\n\
             tenants = \"children\"\npage_size = {page}\nmax_concurrent_tenants = 4\noverlap = \"2m\"\n\n\
             [state]\npath = \"state\"\n",
            self.url
        )
    }
}
