//! Recording of received requests: a bounded log plus a monotonic counter tests can wait on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::http::request::Parts;
use bytes::Bytes;
use tokio::sync::watch;

/// Oldest requests are dropped past this so a long benchmark cannot grow the mock without bound.
const CAPACITY: usize = 10_000;

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Raw, exactly as received (no normalisation).
    pub path_and_query: String,
    /// Lowercase names, in the order received (values lossy-UTF-8).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn from_parts(parts: &Parts, body: Bytes) -> RecordedRequest {
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path_and_query,
            headers,
            body,
        }
    }
}

pub(crate) struct Recorder {
    enabled: AtomicBool,
    log: Mutex<VecDeque<RecordedRequest>>,
    total: watch::Sender<usize>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            enabled: AtomicBool::new(true),
            log: Mutex::new(VecDeque::new()),
            total: watch::Sender::new(0),
        }
    }
}

impl Recorder {
    /// Takes a closure so that nothing is copied when recording is off.
    pub(crate) fn record(&self, make: impl FnOnce() -> RecordedRequest) {
        if self.enabled.load(Ordering::Relaxed) {
            let request = make();
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.len() >= CAPACITY {
                log.pop_front();
            }
            log.push_back(request);
        }
        // Counted after the push so a woken `wait_for` always finds the request in the log.
        self.total.send_modify(|n| *n += 1);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn total(&self) -> usize {
        *self.total.borrow()
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub(crate) async fn wait_for(&self, n: usize) {
        let mut rx = self.total.subscribe();
        // Only fails if the sender is gone, which cannot happen while `self` is borrowed.
        let _ = rx.wait_for(|total| *total >= n).await;
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn request(i: usize) -> RecordedRequest {
        RecordedRequest {
            method: "GET".to_owned(),
            path_and_query: format!("/{i}"),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    #[test]
    fn log_keeps_the_last_ten_thousand_but_counts_all() {
        let recorder = Recorder::default();
        for i in 0..CAPACITY + 5 {
            recorder.record(|| request(i));
        }
        let log = recorder.snapshot();
        assert_eq!(log.len(), CAPACITY);
        assert_eq!(log.first().unwrap().path_and_query, "/5");
        assert_eq!(
            log.last().unwrap().path_and_query,
            format!("/{}", CAPACITY + 4)
        );
        assert_eq!(recorder.total(), CAPACITY + 5);
    }
}
