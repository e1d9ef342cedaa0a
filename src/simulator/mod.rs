//! TEMPORARY stub; the real simulator arrives from the sim branch.
#![allow(missing_docs)]
use std::time::Duration;
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub fleet: usize,
    pub tenants: usize,
    pub seed: u64,
    pub client_id: String,
    pub client_secret: String,
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub token_lifetime: Duration,
}
impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fleet: 200,
            tenants: 5,
            seed: 1,
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            start: None,
            token_lifetime: Duration::from_secs(7200),
        }
    }
}
#[derive(Clone)]
pub struct Simulator;
impl Simulator {
    pub fn new(_o: SimOptions) -> Simulator {
        Simulator
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
    pub fn advance(&self, _d: Duration) {}
    pub fn freeze(&self, _f: bool) {}
}
pub async fn serve(
    _s: Simulator,
    _l: tokio::net::TcpListener,
    _c: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    Ok(())
}
