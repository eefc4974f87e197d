//! One collector's export: a bounded queue of finished requests' spans in front of the OTLP/HTTP
//! exporter, drained by one task. Requests only ever `try_send`: a slow or dead collector fills
//! the queue and the spans that do not fit are dropped and counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use tokio::sync::{Notify, mpsc};

use super::target::{ContentType, ExportTarget};
use crate::tasks::Tasks;

/// Requests whose spans may wait for one collector; beyond it their spans are dropped.
const QUEUE_REQUESTS: usize = 2048;
/// The most spans sent in one export call.
const MAX_BATCH_SPANS: usize = 512;
/// One export call's limit, retries included.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Spans exported and dropped since start, for `/metrics`.
#[derive(Debug, Default)]
pub struct ExportCounts {
    pub exported: AtomicU64,
    pub dropped: AtomicU64,
    changed: Notify,
}

impl ExportCounts {
    pub fn drop_spans(&self, count: usize) {
        if count > 0 {
            self.dropped
                .fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
            self.changed.notify_waiters();
        }
    }

    fn exported(&self, count: u64) {
        self.exported.fetch_add(count, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Waits until at least `spans` spans were exported or dropped: tests wait for the export
    /// this way instead of sleeping.
    pub async fn handled_at_least(&self, spans: u64) {
        loop {
            let changed = self.changed.notified();
            let handled = self
                .exported
                .load(Ordering::Relaxed)
                .saturating_add(self.dropped.load(Ordering::Relaxed));
            if handled >= spans {
                return;
            }
            changed.await;
        }
    }
}

/// A running export to one collector.
#[derive(Debug)]
pub struct Destination {
    queue: mpsc::Sender<Vec<SpanData>>,
    pub include_bodies: bool,
    counts: Arc<ExportCounts>,
}

impl Destination {
    /// Builds the exporter and starts its task on `tasks` (it ends at shutdown).
    pub fn start(
        target: &ExportTarget,
        client: reqwest::Client,
        resource: &Resource,
        counts: Arc<ExportCounts>,
        tasks: &Tasks,
    ) -> anyhow::Result<Destination> {
        let headers = target
            .all_headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let protocol = match target.content_type {
            ContentType::Json => Protocol::HttpJson,
            ContentType::Protobuf => Protocol::HttpBinary,
        };
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(target.url.clone())
            .with_protocol(protocol)
            .with_headers(headers)
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        exporter.set_resource(resource);
        let (queue, pending) = mpsc::channel(QUEUE_REQUESTS);
        tasks.spawn_until_shutdown(drain(pending, exporter, counts.clone(), target.url.clone()));
        Ok(Destination {
            queue,
            include_bodies: target.include_bodies,
            counts,
        })
    }

    /// Queues one request's spans, or drops and counts them when the queue is full.
    pub fn send(&self, spans: Vec<SpanData>) {
        if let Err(refused) = self.queue.try_send(spans) {
            let spans = match refused {
                mpsc::error::TrySendError::Full(spans)
                | mpsc::error::TrySendError::Closed(spans) => spans,
            };
            self.counts.drop_spans(spans.len());
        }
    }
}

/// Sends what is queued, as one batch of up to [`MAX_BATCH_SPANS`] per call: while one call is
/// under way the queue fills, so batches grow with the load without a timer.
async fn drain(
    mut pending: mpsc::Receiver<Vec<SpanData>>,
    exporter: opentelemetry_otlp::SpanExporter,
    counts: Arc<ExportCounts>,
    url: String,
) {
    let failing = AtomicBool::new(false);
    while let Some(mut batch) = pending.recv().await {
        while batch.len() < MAX_BATCH_SPANS {
            match pending.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let spans = batch.len();
        let spans_u64 = u64::try_from(spans).unwrap_or(u64::MAX);
        match exporter.export(batch).await {
            Ok(()) => {
                counts.exported(spans_u64);
                if failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(collector = %url, "OpenTelemetry export works again");
                }
            }
            Err(error) => {
                counts.drop_spans(spans);
                // Once per outage, not once per batch.
                if !failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(collector = %url, %error, "OpenTelemetry export failed; spans are dropped until it works");
                }
            }
        }
    }
}
