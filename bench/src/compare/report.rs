//! The one results table: a row per metric with direct, nginx and Tollgate, Tollgate's ratios
//! to the other two, and the verdict where bench/README.md sets a bar.

use super::results::{DIRECT, NGINX, PerTarget, Results, TOLLGATE};
use super::scenarios::Plan;

pub enum Verdict {
    Pass(String),
    Fail(String),
    /// Measured for context; no bar is set for it.
    Info(String),
}

impl Verdict {
    fn text(&self) -> String {
        match self {
            Verdict::Pass(why) => format!("PASS: {why}"),
            Verdict::Fail(why) => format!("FAIL: {why}"),
            Verdict::Info(why) => why.clone(),
        }
    }

    fn bar(passed: bool, why: String) -> Verdict {
        if passed {
            Verdict::Pass(why)
        } else {
            Verdict::Fail(why)
        }
    }
}

pub struct Row {
    pub metric: String,
    pub values: [Option<f64>; 3],
    pub verdict: Verdict,
}

fn pick<T>(runs: &PerTarget<T>, value: impl Fn(&T) -> f64) -> [Option<f64>; 3] {
    [0, 1, 2].map(|i| runs[i].as_ref().map(&value))
}

/// Through each proxy minus direct, for the same percentile.
fn added(values: [Option<f64>; 3]) -> [Option<f64>; 3] {
    let direct = values[DIRECT];
    let minus = |v: Option<f64>| Some(v? - direct?);
    [None, minus(values[NGINX]), minus(values[TOLLGATE])]
}

fn not_measured() -> Verdict {
    Verdict::Fail("not measured".to_owned())
}

/// The bar: added p99 latency ≤ 1.5× nginx's. A negative nginx overhead (noise) counts as zero.
fn added_p99_verdict(values: [Option<f64>; 3]) -> Verdict {
    match (values[NGINX], values[TOLLGATE]) {
        (Some(nginx), Some(tollgate)) => {
            let bar = 1.5 * nginx.max(0.0);
            Verdict::bar(
                tollgate <= bar,
                format!("added p99 ≤ 1.5× nginx's ({bar:.0} µs)"),
            )
        }
        _ => not_measured(),
    }
}

pub fn rows(results: &Results, plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    let c1_p50 = pick(&results.c1, |r| r.p50_us);
    let c1_p99 = pick(&results.c1, |r| r.p99_us);
    rows.push(Row {
        metric: "p50 latency, concurrency 1 (µs)".into(),
        values: c1_p50,
        verdict: Verdict::Info("wrk, 0 ms upstream".into()),
    });
    rows.push(Row {
        metric: "p99 latency, concurrency 1 (µs)".into(),
        values: c1_p99,
        verdict: Verdict::Info("wrk, 0 ms upstream".into()),
    });
    rows.push(Row {
        metric: "added p50, concurrency 1 (µs)".into(),
        values: added(c1_p50),
        verdict: Verdict::Info("proxy − direct".into()),
    });
    let c1_added = added(c1_p99);
    rows.push(Row {
        metric: "added p99, concurrency 1 (µs)".into(),
        values: c1_added,
        verdict: added_p99_verdict(c1_added),
    });
    let fastest_proxy = |runs: &PerTarget<super::wrk::WrkRun>| {
        let rate = |i: usize| runs[i].as_ref().map_or(0.0, |r| r.requests_per_sec);
        (rate(DIRECT), rate(NGINX).max(rate(TOLLGATE)))
    };
    for (connections, runs) in [(32, &results.c32), (256, &results.c256)] {
        let values = pick(runs, |r| r.requests_per_sec);
        let verdict = match (values[NGINX], values[TOLLGATE]) {
            (Some(nginx), Some(tollgate)) => {
                let (direct, proxy) = fastest_proxy(runs);
                let headroom = direct / proxy.max(1.0);
                let mock = if headroom >= 1.5 {
                    format!("mock not the bottleneck (direct {headroom:.1}× the fastest proxy)")
                } else {
                    format!("WARNING: mock may be the bottleneck (direct only {headroom:.1}×)")
                };
                Verdict::bar(tollgate >= 0.8 * nginx, format!("≥ 0.8× nginx; {mock}"))
            }
            _ => not_measured(),
        };
        rows.push(Row {
            metric: format!("throughput, concurrency {connections} (req/s)"),
            values,
            verdict,
        });
        rows.push(Row {
            metric: format!("p99 latency, concurrency {connections} (µs)"),
            values: pick(runs, |r| r.p99_us),
            verdict: Verdict::Info("wrk, 0 ms upstream".into()),
        });
        let cpu = cpu_per_request(runs);
        rows.push(Row {
            metric: format!("CPU per request, concurrency {connections} (µs)"),
            values: cpu,
            verdict: cpu_verdict(cpu[TOLLGATE]),
        });
    }
    let rate = format!(
        "{} req/s, {} ms upstream",
        plan.rate_per_sec, plan.upstream_delay_ms
    );
    let rate_p99 = pick(&results.rate, |r| r.p99_us);
    rows.push(Row {
        metric: format!("p50 latency, {rate} (µs)"),
        values: pick(&results.rate, |r| r.p50_us),
        verdict: Verdict::Info("open loop, Rust client".into()),
    });
    rows.push(Row {
        metric: format!("p99 latency, {rate} (µs)"),
        values: rate_p99,
        verdict: Verdict::Info(late_note(&results.rate)),
    });
    let rate_added = added(rate_p99);
    rows.push(Row {
        metric: format!("added p99, {rate} (µs)"),
        values: rate_added,
        verdict: added_p99_verdict(rate_added),
    });
    rows.push(Row {
        metric: format!("proxy CPU, {rate} (% of a core)"),
        values: pick(&results.rate, |r| r.cpu_percent.unwrap_or(f64::NAN)),
        verdict: Verdict::Info("utime+stime from /proc/PID/stat".into()),
    });
    rows.push(Row {
        metric: format!("proxy RSS after {rate} (MiB)"),
        values: pick(&results.rate, |r| r.rss_mib.unwrap_or(f64::NAN)),
        verdict: Verdict::Info("VmRSS".into()),
    });
    let first_byte = pick(&results.stream, |r| r.first_byte_p50_us);
    rows.push(Row {
        metric: "stream time to first byte p50 (µs)".into(),
        values: first_byte,
        verdict: Verdict::Info(format!(
            "{} sequential streams, events every {} ms",
            plan.sequential_streams, plan.stream_pace_ms
        )),
    });
    let first_byte_added = added(first_byte);
    rows.push(Row {
        metric: "added stream time to first byte p50 (µs)".into(),
        values: first_byte_added,
        verdict: match first_byte_added[TOLLGATE] {
            Some(t) => Verdict::bar(t <= 300.0, "≤ 300 µs".into()),
            None => not_measured(),
        },
    });
    rows.push(Row {
        metric: "added stream time to first byte p99 (µs)".into(),
        values: added(pick(&results.stream, |r| r.first_byte_p99_us)),
        verdict: Verdict::Info("proxy − direct".into()),
    });
    rows.push(Row {
        metric: "added inter-event gap p50 (µs)".into(),
        values: added(pick(&results.stream, |r| r.gap_p50_us)),
        verdict: Verdict::Info(format!(
            "gaps between SSE events, pace {} ms",
            plan.stream_pace_ms
        )),
    });
    rows.push(Row {
        metric: "added inter-event gap p99 (µs)".into(),
        values: added(pick(&results.stream, |r| r.gap_p99_us)),
        verdict: Verdict::Info("proxy − direct".into()),
    });
    let streams = plan.concurrent_streams;
    let growth = pick(&results.many_streams, |r| {
        r.rss_growth_mib().unwrap_or(f64::NAN)
    });
    rows.push(Row {
        metric: format!("RSS growth, {streams} concurrent streams (MiB)"),
        values: [None, growth[NGINX], growth[TOLLGATE]],
        verdict: match growth[TOLLGATE] {
            Some(g) if !g.is_nan() => Verdict::bar(g <= 128.0, "≤ 128 MiB".into()),
            _ => not_measured(),
        },
    });
    rows.push(Row {
        metric: format!("stalled streams of {streams} (gap > 10× pace)"),
        values: pick(&results.many_streams, |r| r.stalled as f64),
        verdict: Verdict::Info(format!(
            "events every {} ms; every stream ended with [DONE]",
            plan.concurrent_pace_ms
        )),
    });
    let cache = results.cache.as_ref();
    rows.push(Row {
        metric: "cache HIT p50 (µs)".into(),
        values: [
            cache.map(|c| c.direct_p50_us),
            None,
            cache.map(|c| c.hit_p50_us),
        ],
        verdict: match cache {
            Some(c) => Verdict::bar(
                c.hit_p50_us <= 200.0,
                "≤ 200 µs (direct: the mock answering)".into(),
            ),
            None => not_measured(),
        },
    });
    rows.push(Row {
        metric: "cache HIT p99 (µs)".into(),
        values: [None, None, cache.map(|c| c.hit_p99_us)],
        verdict: Verdict::Info("sequential, one connection".into()),
    });
    let on = results.c32[TOLLGATE].as_ref().map(|r| r.requests_per_sec);
    let off = results.logs_off_c32.as_ref().map(|r| r.requests_per_sec);
    rows.push(Row {
        metric: "throughput, concurrency 32, Tollgate logs off (req/s)".into(),
        values: [
            results.c32[DIRECT].as_ref().map(|r| r.requests_per_sec),
            results.c32[NGINX].as_ref().map(|r| r.requests_per_sec),
            off,
        ],
        verdict: match (on, off) {
            (Some(on), Some(off)) => Verdict::Info(format!(
                "logs+analytics+cost cost {:.0}% of throughput (peer target ≤ 10%)",
                (1.0 - on / off) * 100.0
            )),
            _ => not_measured(),
        },
    });
    let logs_off_cpu = results
        .logs_off_c32
        .as_ref()
        .and_then(|r| r.cpu_us_per_request);
    rows.push(Row {
        metric: "CPU per request, concurrency 32, Tollgate logs off (µs)".into(),
        values: [None, cpu_per_request(&results.c32)[NGINX], logs_off_cpu],
        verdict: Verdict::Info(CPU_HOW.into()),
    });
    let plain = results.c32[TOLLGATE].as_ref().map(|r| r.requests_per_sec);
    let traced = results.traced_c32.as_ref().map(|r| r.requests_per_sec);
    rows.push(Row {
        metric: "throughput, concurrency 32, Tollgate traced to a black-holed collector (req/s)"
            .into(),
        values: [None, None, traced],
        verdict: match (plain, traced) {
            (Some(plain), Some(traced)) => Verdict::bar(
                traced >= plain * 0.9,
                format!(
                    "≥ 90% of untraced ({:.0}% of {plain:.0}): spans dropped, never waited for",
                    traced / plain * 100.0
                ),
            ),
            _ => not_measured(),
        },
    });
    rows.push(Row {
        metric: "CPU per request, concurrency 32, Tollgate traced (µs)".into(),
        values: [
            None,
            None,
            results
                .traced_c32
                .as_ref()
                .and_then(|r| r.cpu_us_per_request),
        ],
        verdict: Verdict::Info("spans built and dropped: the cost of tracing itself".into()),
    });
    let governed = results.governed_c32.as_ref().map(|r| r.requests_per_sec);
    rows.push(Row {
        metric: "throughput, concurrency 32, Tollgate with a spend limit and DLP (req/s)".into(),
        values: [None, None, governed],
        verdict: match (plain, governed) {
            (Some(plain), Some(governed)) => Verdict::bar(
                governed >= plain * 0.85,
                format!(
                    "≥ 85% of plain ({:.0}% of {plain:.0}): reserve-and-settle plus DLP on both ways",
                    governed / plain * 100.0
                ),
            ),
            _ => not_measured(),
        },
    });
    rows.push(Row {
        metric: "CPU per request, concurrency 32, Tollgate with a spend limit and DLP (µs)".into(),
        values: [
            None,
            None,
            results
                .governed_c32
                .as_ref()
                .and_then(|r| r.cpu_us_per_request),
        ],
        verdict: Verdict::Info("every built-in DLP profile, FLAG, requests and responses".into()),
    });
    rows.extend(routing_rows(results));
    rows.extend(realtime_rows(results, plan));
    rows.extend(mcp_rows(results));
    let on = results.c1[TOLLGATE].as_ref().map(|r| r.p50_us);
    let off = results.logs_off_c1.as_ref().map(|r| r.p50_us);
    rows.push(Row {
        metric: "p50 latency, concurrency 1, Tollgate logs off (µs)".into(),
        values: [c1_p50[DIRECT], c1_p50[NGINX], off],
        verdict: match (on, off) {
            (Some(on), Some(off)) => {
                Verdict::Info(format!("logs on add {:.0} µs at p50", on - off))
            }
            _ => not_measured(),
        },
    });
    rows
}

/// The unified endpoint with a provider/model and through a dynamic route, same requests, same
/// gateway: the difference in CPU is what routing costs (issue 22's bar: ≤ 20 µs).
fn routing_rows(results: &Results) -> Vec<Row> {
    let cpu = |run: &Option<super::wrk::WrkRun>| run.as_ref().and_then(|r| r.cpu_us_per_request);
    let (plain, routed) = (cpu(&results.compat_c32), cpu(&results.routed_c32));
    let throughput = |run: &Option<super::wrk::WrkRun>| run.as_ref().map(|r| r.requests_per_sec);
    vec![
        Row {
            metric: "CPU per request, concurrency 32, unified endpoint `openai/…` (µs)".into(),
            values: [None, None, plain],
            verdict: Verdict::Info(CPU_HOW.into()),
        },
        Row {
            metric: "CPU per request, concurrency 32, unified endpoint `dynamic/…` (µs)".into(),
            values: [None, None, routed],
            verdict: match (plain, routed) {
                (Some(plain), Some(routed)) => Verdict::bar(
                    routed - plain <= 20.0,
                    format!(
                        "routing adds ≤ 20 µs ({:+.1} µs): a condition, a 50/50 split, a model",
                        routed - plain
                    ),
                ),
                _ => not_measured(),
            },
        },
        Row {
            metric: "throughput, concurrency 32, unified endpoint `dynamic/…` (req/s)".into(),
            values: [None, None, throughput(&results.routed_c32)],
            verdict: Verdict::Info(match throughput(&results.compat_c32) {
                Some(plain) => format!("`openai/…`: {plain:.0} req/s"),
                None => "`openai/…` not measured".into(),
            }),
        },
    ]
}

/// Realtime sessions: a frame crosses the gateway twice per round trip, so half the difference
/// is what one relayed frame gains.
fn realtime_rows(results: &Results, plan: &Plan) -> Vec<Row> {
    let Some(run) = &results.realtime else {
        return vec![Row {
            metric: "WebSocket frames and idle sessions".into(),
            values: [None; 3],
            verdict: not_measured(),
        }];
    };
    let (direct, through) = (&run.frames.direct, &run.frames.through);
    let per_frame = |d: f64, t: f64| Some((t - d) / 2.0);
    vec![
        Row {
            metric: "WebSocket frame round trip p50 (µs)".into(),
            values: [Some(direct.p50_us), None, Some(through.p50_us)],
            verdict: Verdict::Info(format!("{} frames echoed on one session", through.count)),
        },
        Row {
            metric: "WebSocket frame round trip p99 (µs)".into(),
            values: [Some(direct.p99_us), None, Some(through.p99_us)],
            verdict: Verdict::Info("direct: the mock's realtime endpoint".into()),
        },
        Row {
            metric: "added per relayed WebSocket frame p50 (µs)".into(),
            values: [None, None, per_frame(direct.p50_us, through.p50_us)],
            verdict: Verdict::Info("(through − direct) ÷ 2: a round trip crosses twice".into()),
        },
        Row {
            metric: "added per relayed WebSocket frame p99 (µs)".into(),
            values: [None, None, per_frame(direct.p99_us, through.p99_us)],
            verdict: Verdict::Info("(through − direct) ÷ 2".into()),
        },
        Row {
            metric: format!(
                "RSS per idle WebSocket session, {} open (KiB)",
                plan.idle_sessions
            ),
            values: [None, None, run.kib_per_idle_session],
            verdict: Verdict::Info(
                "VmRSS growth ÷ sessions: both legs' sockets, buffers and tasks".into(),
            ),
        },
    ]
}

fn mcp_rows(results: &Results) -> Vec<Row> {
    let Some(calls) = &results.mcp else {
        return vec![Row {
            metric: "MCP tool calls".into(),
            values: [None; 3],
            verdict: not_measured(),
        }];
    };
    let (direct, through) = (&calls.direct, &calls.through);
    vec![
        Row {
            metric: "MCP tool call p50 (µs)".into(),
            values: [Some(direct.p50_us), None, Some(through.p50_us)],
            verdict: Verdict::Info(format!(
                "{} `tools/call` in sequence; direct: the mock's MCP server",
                through.count
            )),
        },
        Row {
            metric: "added per MCP tool call p50 (µs)".into(),
            values: [None, None, Some(through.p50_us - direct.p50_us)],
            verdict: Verdict::Info(
                "through − direct: admission, routing by prefix, the upstream session, the log row"
                    .into(),
            ),
        },
        Row {
            metric: "added per MCP tool call p99 (µs)".into(),
            values: [None, None, Some(through.p99_us - direct.p99_us)],
            verdict: Verdict::Info("through − direct".into()),
        },
    ]
}

/// How the CPU rows are measured.
const CPU_HOW: &str = "utime+stime from /proc/PID/stat over the run ÷ requests";

fn cpu_per_request(runs: &PerTarget<super::wrk::WrkRun>) -> [Option<f64>; 3] {
    [0, 1, 2].map(|i| runs[i].as_ref().and_then(|r| r.cpu_us_per_request))
}

/// The bar of issue 18: ≤ 30 µs of CPU per request (the goal stays ≤ 22 µs).
fn cpu_verdict(tollgate: Option<f64>) -> Verdict {
    match tollgate {
        Some(t) => Verdict::bar(t <= 30.0, format!("≤ 30 µs (goal 22); {CPU_HOW}")),
        None => not_measured(),
    }
}

fn late_note(runs: &PerTarget<super::results::RateRun>) -> String {
    let late: u64 = runs.iter().flatten().map(|r| r.late).sum();
    if late == 0 {
        "the client kept the schedule".into()
    } else {
        format!("WARNING: {late} requests started > 10 ms late")
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(v) if v.is_nan() => "—".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn ratio(tollgate: Option<f64>, other: Option<f64>) -> String {
    match (tollgate, other) {
        (Some(t), Some(o)) if !t.is_nan() && !o.is_nan() && o.abs() > f64::EPSILON => {
            format!("{:.2}×", t / o)
        }
        _ => "—".into(),
    }
}

/// A Markdown table (also what the command prints).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| metric | direct | nginx | tollgate | tollgate/direct | tollgate/nginx | verdict |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let [d, n, t] = row.values;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.metric,
            number(d),
            number(n),
            number(t),
            ratio(t, d),
            ratio(t, n),
            row.verdict.text()
        ));
    }
    out
}

pub fn failed(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail(_)))
        .count()
}
