//! Tollgate against the mock upstream direct and nginx, side by side (bench/README.md).
//!
//! Run through `scripts/bench` (it builds the binaries, installs nginx and wrk, and pins the
//! processes); `scripts/bench --smoke` runs every scenario briefly and writes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tollgate_bench::compare::{self, Options};

fn parse() -> anyhow::Result<Options> {
    let mut options = Options {
        smoke: false,
        tollgate: PathBuf::from("target/release/tollgate"),
        mock: PathBuf::from("target/release/tollgate-mock"),
        nginx: PathBuf::from("nginx"),
        wrk: PathBuf::from("wrk"),
        gateway_core: None,
        results: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => options.smoke = true,
            "--tollgate" => options.tollgate = value()?.into(),
            "--mock" => options.mock = value()?.into(),
            "--nginx" => options.nginx = value()?.into(),
            "--wrk" => options.wrk = value()?.into(),
            "--gateway-core" => options.gateway_core = Some(value()?.parse()?),
            "--results" => options.results = Some(value()?.into()),
            other => bail!(
                "unknown argument {other}; usage: compare [--smoke] [--tollgate PATH] [--mock PATH] \
                 [--nginx PATH] [--wrk PATH] [--gateway-core N] [--results FILE]"
            ),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match parse() {
        Ok(options) => compare::run(options).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
