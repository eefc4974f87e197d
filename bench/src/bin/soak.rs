//! `scripts/soak`: load and soak of the release gateway (docs/reliability.md), printed as a
//! markdown summary on stdout or written to `--out FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tollgate_bench::soak::{self, Options};

const USAGE: &str = "usage: soak --gateway-bin PATH --mock-bin PATH [--minutes N] [--rps N] \
[--streams N] [--slowloris N] [--slow-bodies N] [--churn N] [--keys N] [--stampede N] \
[--kills N] [--stages abcdefg] [--seed N] [--out FILE]";

fn parse() -> anyhow::Result<(Options, Option<PathBuf>)> {
    let mut options = Options {
        gateway_bin: PathBuf::new(),
        mock_bin: PathBuf::new(),
        stages: "abcdefg".into(),
        minutes: 30.0,
        rps: 100,
        streams: 1000,
        slowloris: 300,
        slow_bodies: 100,
        churn: 5000,
        keys: 150_000,
        stampede: 500,
        kills: 20,
        seed: 0x50a4_2026,
    };
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--gateway-bin" => options.gateway_bin = value()?.into(),
            "--mock-bin" => options.mock_bin = value()?.into(),
            "--stages" => options.stages = value()?,
            "--minutes" => options.minutes = value()?.parse()?,
            "--rps" => options.rps = value()?.parse()?,
            "--streams" => options.streams = value()?.parse()?,
            "--slowloris" => options.slowloris = value()?.parse()?,
            "--slow-bodies" => options.slow_bodies = value()?.parse()?,
            "--churn" => options.churn = value()?.parse()?,
            "--keys" => options.keys = value()?.parse()?,
            "--stampede" => options.stampede = value()?.parse()?,
            "--kills" => options.kills = value()?.parse()?,
            "--seed" => options.seed = value()?.parse()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if options.gateway_bin.as_os_str().is_empty() || options.mock_bin.as_os_str().is_empty() {
        bail!("{USAGE}");
    }
    // The gateway runs in its own directory, so a relative path would not resolve there.
    options.gateway_bin = std::fs::canonicalize(&options.gateway_bin)
        .with_context(|| format!("{}", options.gateway_bin.display()))?;
    options.mock_bin = std::fs::canonicalize(&options.mock_bin)
        .with_context(|| format!("{}", options.mock_bin.display()))?;
    Ok((options, out))
}

fn main() -> ExitCode {
    let (options, out) = match parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("{error:#}");
            return ExitCode::from(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soak: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let started = tollgate_gateway::clock::monotonic_now();
    let sections = match runtime.block_on(soak::run(&options)) {
        Ok(sections) => sections,
        Err(error) => {
            eprintln!("soak: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let header = format!(
        "Machine: {cores} cores. Run took {:.1} min. Options: {}.",
        started.elapsed().as_secs_f64() / 60.0,
        options.describe()
    );
    let text = soak::markdown(&header, &sections);
    match out {
        Some(path) => {
            if let Err(error) = std::fs::write(&path, &text) {
                eprintln!("soak: cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            print!("{text}");
        }
        None => print!("{text}"),
    }
    ExitCode::SUCCESS
}
