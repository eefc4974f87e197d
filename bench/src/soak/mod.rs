//! The load and soak harness behind `scripts/soak` (docs/reliability.md): the release gateway
//! and mock as separate processes, driven through stages (a)–(g), each reported as a markdown
//! table. Measures, never asserts: the figures go to docs/reliability.md.

mod churn;
mod keys;
mod kills;
mod mixed;
mod observe;
mod procs;
mod report;
mod rows;
mod slow_clients;
mod stampede;
mod streams;
mod traffic;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use procs::{Gateway, Mock};
use report::Section;
use rows::Rows;

pub struct Options {
    pub gateway_bin: PathBuf,
    pub mock_bin: PathBuf,
    /// Which stages to run, by letter (`abcdefg` for all).
    pub stages: String,
    pub minutes: f64,
    pub rps: u32,
    pub streams: usize,
    pub slowloris: usize,
    pub slow_bodies: usize,
    pub churn: usize,
    pub keys: usize,
    pub stampede: usize,
    pub kills: usize,
    pub seed: u64,
}

impl Options {
    pub fn describe(&self) -> String {
        format!(
            "stages {}, soak {} min at {} req/s, {} streams, {}+{} slow connections, {} churned \
             requests, {} rate-limit keys, {} stampeding requests, {} kills, seed {}",
            self.stages,
            self.minutes,
            self.rps,
            self.streams,
            self.slowloris,
            self.slow_bodies,
            self.churn,
            self.keys,
            self.stampede,
            self.kills,
            self.seed
        )
    }
}

/// Runs the selected stages; each finished section is also printed to stderr as it completes,
/// so a long run shows progress and a crash keeps what was measured.
pub async fn run(options: &Options) -> anyhow::Result<Vec<Section>> {
    let wants = |stage: char| options.stages.contains(stage);
    let mut sections = Vec::new();
    let done = |section: Section, sections: &mut Vec<Section>| {
        eprintln!(
            "{}",
            report::markdown("(partial)", std::slice::from_ref(&section))
        );
        sections.push(section);
    };
    let mock = Mock::start(&options.mock_bin).await?;
    let dir = tempfile::tempdir()?;
    let gateway = Gateway::start(&options.gateway_bin, dir.path(), &mock, &[]).await?;
    let started = Instant::now();
    if wants('a') {
        done(
            streams::run(&gateway, &mock, options.streams).await?,
            &mut sections,
        );
    }
    let mut soak_ids = Vec::new();
    if wants('b') {
        let outcome = mixed::run(&gateway, options.minutes, options.rps, options.seed).await?;
        soak_ids = outcome.log_ids;
        done(outcome.section, &mut sections);
    }
    if wants('c') {
        let section = slow_clients::run(&gateway, options.slowloris, options.slow_bodies).await?;
        done(section, &mut sections);
    }
    if wants('d') {
        done(churn::run(&gateway, options.churn).await?, &mut sections);
    }
    if wants('e') {
        done(keys::run(&gateway, options.keys).await?, &mut sections);
    }
    if wants('f') {
        done(
            stampede::run(&gateway, &mock, options.stampede).await?,
            &mut sections,
        );
    }
    let database = gateway.database();
    let (clean_exit, stop_took) = gateway.terminate(Duration::from_secs(120)).await?;
    let rows = Rows::read(&database)?;
    let mut stop = Section::new("Log rows of the load stages (gateway stopped with SIGTERM)");
    stop.row(
        "stages took (s)",
        format!("{:.0}", started.elapsed().as_secs_f64()),
    );
    stop.row("SIGTERM: exit 0", clean_exit);
    stop.row(
        "SIGTERM: exit took (s)",
        format!("{:.2}", stop_took.as_secs_f64()),
    );
    stop.row("rows in the database", rows.total);
    stop.row(
        "database integrity_check",
        if rows.integrity_ok { "ok" } else { "FAILED" },
    );
    if wants('b') {
        let lost = soak_ids.iter().filter(|id| !rows.ids.contains(*id)).count();
        stop.row("soak: log ids clients received", soak_ids.len());
        stop.row("soak: rows lost (log id without row)", lost);
        stop.row(
            "soak: rows duplicated (event id twice)",
            rows.duplicated("soak-"),
        );
        let incomplete = rows
            .by_event
            .iter()
            .filter(|(event, (_, completed, _))| event.starts_with("soak-") && !completed)
            .count();
        stop.row("soak: rows not completed", incomplete);
    }
    done(stop, &mut sections);
    if wants('g') {
        let section = kills::run(&options.gateway_bin, &mock, options.kills, options.seed).await?;
        done(section, &mut sections);
    }
    Ok(sections)
}

pub use report::markdown;
