//! The side-by-side benchmark (bench/README.md, issue 11): the mock upstream direct, nginx
//! `proxy_pass` to it, and Tollgate, run through the same scenarios in one run, reported as one
//! table with Tollgate's ratios and the verdicts against the performance bars. Started by `scripts/bench`.

mod client;
mod machine;
mod procs;
mod realtime;
mod report;
mod results;
mod scenarios;
mod targets;
mod wrk;

use std::path::PathBuf;

use results::TARGET_NAMES;
use scenarios::{Plan, Scenarios};
use targets::{GOVERNED_GATEWAY, NOLOG_GATEWAY, ROUTED_GATEWAY, TRACED_GATEWAY, Target};

pub struct Options {
    pub smoke: bool,
    pub tollgate: PathBuf,
    pub mock: PathBuf,
    pub nginx: PathBuf,
    pub wrk: PathBuf,
    /// The core for nginx and Tollgate (this process, the mock and wrk stay where they are).
    pub gateway_core: Option<u32>,
    /// Where to write RESULTS.md (never in smoke mode).
    pub results: Option<PathBuf>,
}

/// Runs everything; Ok(false) when a scenario failed to run (a missed performance bar is not a failure
/// of the run: benchmarks measure, they do not assert).
pub async fn run(options: Options) -> anyhow::Result<bool> {
    let plan = if options.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    let dir = tempfile::tempdir()?;
    let mock = targets::start_mock(&options.mock, dir.path()).await?;
    let nginx =
        targets::start_nginx(&options.nginx, mock.addr, options.gateway_core, dir.path()).await?;
    let tollgate = targets::start_tollgate(
        &options.tollgate,
        mock.addr,
        options.gateway_core,
        dir.path(),
    )
    .await?;
    let black_hole = targets::start_black_hole().await?;
    targets::create_traced_gateway(tollgate.addr, black_hole).await?;
    targets::create_governed_gateway(tollgate.addr).await?;
    targets::create_routed_gateway(tollgate.addr).await?;
    let tollgate_path = |gateway: &str| format!("/v1/local/{gateway}/openai/chat/completions");
    let scenarios = Scenarios {
        plan,
        wrk: options.wrk.clone(),
        dir: dir.path().to_owned(),
        targets: [
            Target {
                name: TARGET_NAMES[0],
                addr: mock.addr,
                stream_addr: mock.addr,
                path: "/v1/chat/completions".into(),
                pid: None,
            },
            Target {
                name: TARGET_NAMES[1],
                addr: nginx.addr,
                stream_addr: nginx.stream_addr,
                path: "/v1/chat/completions".into(),
                pid: Some(nginx.process.pid()),
            },
            Target {
                name: TARGET_NAMES[2],
                addr: tollgate.addr,
                stream_addr: tollgate.addr,
                path: tollgate_path("default"),
                pid: Some(tollgate.process.pid()),
            },
        ],
        logs_off: Target {
            name: "tollgate-logs-off",
            addr: tollgate.addr,
            stream_addr: tollgate.addr,
            path: tollgate_path(NOLOG_GATEWAY),
            pid: Some(tollgate.process.pid()),
        },
        traced: Target {
            name: "tollgate-traced",
            addr: tollgate.addr,
            stream_addr: tollgate.addr,
            path: tollgate_path(TRACED_GATEWAY),
            pid: Some(tollgate.process.pid()),
        },
        governed: Target {
            name: "tollgate-governed",
            addr: tollgate.addr,
            stream_addr: tollgate.addr,
            path: tollgate_path(GOVERNED_GATEWAY),
            pid: Some(tollgate.process.pid()),
        },
        routed: Target {
            name: "tollgate-routed",
            addr: tollgate.addr,
            stream_addr: tollgate.addr,
            path: format!("/v1/local/{ROUTED_GATEWAY}/compat/chat/completions"),
            pid: Some(tollgate.process.pid()),
        },
    };
    let pinning = match options.gateway_core {
        Some(core) => format!(
            "nginx and Tollgate `taskset -c {core}`; mock, wrk and the Rust client share the other core"
        ),
        None => "unpinned (fewer than 2 cores)".to_owned(),
    };
    let machine =
        machine::Machine::describe(&options.nginx, &options.wrk, &options.tollgate, &pinning);
    let results = scenarios.run().await;
    // Both must still be alive: a crash during the run would make its numbers meaningless.
    for process in [&tollgate.process, &nginx.process, &mock.process] {
        procs::rss_bytes(process.pid())?;
    }
    let rows = report::rows(&results, &plan);
    let table = report::table(&rows);
    println!();
    print!("{}", machine.markdown());
    println!();
    print!("{table}");
    for (scenario, error) in &results.errors {
        println!("\nERROR in {scenario}: {error}");
    }
    println!(
        "\n{} line(s) below a performance bar, {} scenario error(s)",
        report::failed(&rows),
        results.errors.len()
    );
    if let (false, Some(path)) = (options.smoke, &options.results) {
        std::fs::write(path, document(&machine, &table, &results, &plan))?;
        println!("wrote {}", path.display());
    }
    Ok(results.errors.is_empty())
}

fn document(
    machine: &machine::Machine,
    table: &str,
    results: &results::Results,
    plan: &Plan,
) -> String {
    let mut out = String::from(
        "# Benchmark results (bench/README.md)\n\nGenerated by `scripts/bench`; see bench/README.md for \
         the scenarios and how to read the table.\n\n## Machine\n\n",
    );
    out.push_str(&machine.markdown());
    out.push_str(&format!(
        "\nwrk runs last {} s after a {} s warm-up; the fixed-rate run sends {} req/s for {} s; \
         {} sequential streams; {} concurrent streams; {} cache HITs.\n\n## Results\n\n",
        plan.wrk_secs,
        plan.warmup_secs,
        plan.rate_per_sec,
        plan.rate_secs,
        plan.sequential_streams,
        plan.concurrent_streams,
        plan.cache_hits
    ));
    out.push_str(table);
    out.push_str(
        "\nThe mock is not the bottleneck when direct throughput is well above both proxies' \
         (the throughput rows' verdicts say by how much). Not measured here: the 10-minute soak \
         without RSS growth.\n\nWhere the time goes (callgrind, per request) and what would \
         close the gap: bench/PROFILE.md (hand-written, not regenerated).\n",
    );
    if !results.errors.is_empty() {
        out.push_str("\n## Scenario errors\n\n");
        for (scenario, error) in &results.errors {
            out.push_str(&format!("- {scenario}: {error}\n"));
        }
    }
    out
}
