//! The requests the soak sends: OpenAI chat completions through the gateway, plain or streamed,
//! read whole, or abandoned part-way like a client that goes away.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The end of a complete OpenAI stream.
pub const STREAM_END: &[u8] = b"data: [DONE]\n\n";

pub fn chat_url(base: &str, gateway: &str) -> String {
    format!("{base}/v1/local/{gateway}/openai/chat/completions")
}

pub fn chat_body(prompt: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": prompt}],
    })
}

/// What came back for one request.
#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    /// `cf-aig-log-id`: the row the gateway owes for this request.
    pub log_id: Option<String>,
    pub body: Vec<u8>,
    /// The body ended normally (no transport error).
    pub clean_end: bool,
    pub elapsed: Duration,
}

impl Answer {
    pub fn complete_stream(&self) -> bool {
        self.status == 200 && self.clean_end && self.body.ends_with(STREAM_END)
    }
}

/// Sends a chat completion and reads the body; `abort_after_chunks` drops the response after
/// that many body chunks (a client that disconnects mid-stream).
pub async fn chat(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    headers: &[(&str, String)],
    abort_after_chunks: Option<usize>,
) -> reqwest::Result<Answer> {
    let started = Instant::now();
    let mut request = http
        .post(url)
        .header("authorization", "Bearer sk-soak")
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.send().await?;
    let mut answer = Answer {
        status: response.status().as_u16(),
        log_id: response
            .headers()
            .get("cf-aig-log-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Answer::default()
    };
    let mut chunks = 0;
    loop {
        if abort_after_chunks.is_some_and(|limit| chunks >= limit) {
            break;
        }
        match response.chunk().await {
            Ok(Some(chunk)) => {
                chunks += 1;
                answer.body.extend_from_slice(&chunk);
            }
            Ok(None) => {
                answer.clean_end = true;
                break;
            }
            Err(_) => break,
        }
    }
    answer.elapsed = started.elapsed();
    Ok(answer)
}

/// Percentile (0..=1) of durations, in milliseconds.
pub fn percentile_ms(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let index = crate::rank(samples.len(), q);
    samples[index.min(samples.len() - 1)].as_secs_f64() * 1000.0
}

/// A small deterministic generator: runs differ only by their seed, so a finding reproduces.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }
}
