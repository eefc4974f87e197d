//! Request bodies that must keep arriving: a gap longer than the idle timeout, or a body that
//! takes longer than the total timeout, ends the body with [`BodyTimeout`] (the handler answers
//! 408), so a client trickling a body cannot hold a request slot forever.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use crate::clock::monotonic_now;

/// The error a [`TimedBody`] ends with when the client is too slow.
#[derive(Debug, thiserror::Error)]
#[error("request body not received in time")]
pub struct BodyTimeout;

/// Whether `error`, or any error it wraps, is a [`BodyTimeout`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyTimeout>() {
            return true;
        }
        next = error.source();
    }
    false
}

#[derive(Debug, Clone, Copy)]
pub struct BodyTimeouts {
    pub idle: Duration,
    pub total: Duration,
}

/// `request` with its body under the timeouts, if it has one.
pub fn time_body(request: Request, timeouts: BodyTimeouts) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    request.map(|body| Body::new(TimedBody::new(body, timeouts)))
}

/// A body with an idle and a total deadline. The clocks start at the first read, not when the
/// head arrives: a client sending `Expect: 100-continue` waits for that read before sending.
pub struct TimedBody {
    inner: Body,
    timeouts: BodyTimeouts,
    clocks: Option<Clocks>,
    timed_out: bool,
}

struct Clocks {
    idle: Pin<Box<Sleep>>,
    total: Pin<Box<Sleep>>,
}

impl TimedBody {
    pub fn new(inner: Body, timeouts: BodyTimeouts) -> TimedBody {
        TimedBody {
            inner,
            timeouts,
            clocks: None,
            timed_out: false,
        }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(None);
        }
        let timeouts = this.timeouts;
        let clocks = this.clocks.get_or_insert_with(|| Clocks {
            idle: Box::pin(tokio::time::sleep(timeouts.idle)),
            total: Box::pin(tokio::time::sleep(timeouts.total)),
        });
        // Data already received always wins over a deadline that passed while nobody read.
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if matches!(frame, Some(Ok(_))) {
                clocks.idle.as_mut().reset(monotonic_now() + timeouts.idle);
            }
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        if clocks.total.as_mut().poll(cx).is_ready() || clocks.idle.as_mut().poll(cx).is_ready() {
            this.timed_out = true;
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use http_body_util::BodyExt;

    fn timeouts() -> BodyTimeouts {
        BodyTimeouts {
            idle: Duration::from_secs(5),
            total: Duration::from_secs(60),
        }
    }

    async fn read(body: Body) -> Result<Bytes, bool> {
        match TimedBody::new(body, timeouts()).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) => Err(is_body_timeout(&*error)),
        }
    }

    fn chunk(text: &'static str) -> Result<Bytes, std::io::Error> {
        Ok(Bytes::from_static(text.as_bytes()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_is_read_whole() {
        let body = Body::from_stream(futures_util::stream::iter([chunk("{\"a\""), chunk(":1}")]));
        assert_eq!(read(body).await, Ok(Bytes::from_static(b"{\"a\":1}")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_ends_with_body_timeout() {
        let stalled =
            futures_util::stream::iter([chunk("{\"a\"")]).chain(futures_util::stream::pending());
        assert_eq!(read(Body::from_stream(stalled)).await, Err(true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_under_the_idle_timeout_still_hits_the_total_timeout() {
        let trickle = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Some((chunk("x"), ()))
        });
        let started = monotonic_now();
        assert_eq!(read(Body::from_stream(trickle)).await, Err(true));
        assert!(started.elapsed() >= Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(65));
    }
}
