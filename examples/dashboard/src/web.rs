//! The HTTP side: the page, the event stream and the JSON snapshot.
//!
//! | Route | What |
//! |---|---|
//! | `GET /` | the page (self-contained HTML, CSS and JS) |
//! | `GET /events` | Server-Sent Events: `snapshot` (the full [`Snapshot`]) on connect and on every change, `tick` (a [`Tick`]) every second |
//! | `GET /api/snapshot` | the latest [`Snapshot`] as JSON |

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::feed::Feed;
use crate::snapshot::{Snapshot, Tick};

/// The page.
pub const PAGE: &str = include_str!("page.html");

/// How long a browser waits before reconnecting a dropped stream.
const RECONNECT: Duration = Duration::from_secs(2);

/// The dashboard's routes, reading from `feed`.
pub fn router(feed: Feed) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route("/api/snapshot", get(snapshot))
        .with_state(feed)
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}

async fn snapshot(State(feed): State<Feed>) -> Response {
    let snap = feed.snapshot();
    match serde_json::to_vec(&*snap) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the snapshot: {e}\n"),
        )
            .into_response(),
    }
}

/// Counts a connected page while it lives.
struct Connected(Gauge);

impl Connected {
    fn new(g: &Gauge) -> Connected {
        g.inc();
        Connected(g.clone())
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One page's stream.
struct Listener {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    ticks: watch::Receiver<Arc<Tick>>,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    first: bool,
    _connected: Connected,
}

fn snapshot_event(snap: &Snapshot) -> Result<Event, axum::Error> {
    Event::default().event("snapshot").json_data(snap)
}

fn tick_event(tick: &Tick) -> Result<Event, axum::Error> {
    Event::default().event("tick").json_data(tick)
}

/// The stream of one page: the current snapshot, then changes and ticks
/// until the dashboard stops (so graceful shutdown never waits on a page).
fn stream(feed: &Feed) -> impl Stream<Item = Result<Event, axum::Error>> + Send + 'static {
    let listener = Listener {
        snapshots: feed.subscribe(),
        ticks: feed.ticks(),
        stop: Box::pin(feed.cancelled()),
        first: true,
        _connected: Connected::new(&feed.metrics().clients),
    };
    futures_util::stream::unfold(listener, |mut l| async move {
        if l.first {
            l.first = false;
            let snap = Arc::clone(&l.snapshots.borrow_and_update());
            l.ticks.borrow_and_update();
            let event = snapshot_event(&snap).map(|e| e.retry(RECONNECT));
            return Some((event, l));
        }
        let event = tokio::select! {
            biased;
            _ = &mut l.stop => return None,
            r = l.snapshots.changed() => {
                r.ok()?;
                let snap = Arc::clone(&l.snapshots.borrow_and_update());
                snapshot_event(&snap)
            }
            r = l.ticks.changed() => {
                r.ok()?;
                let tick = Arc::clone(&l.ticks.borrow_and_update());
                tick_event(&tick)
            }
        };
        Some((event, l))
    })
}

async fn events(State(feed): State<Feed>) -> impl IntoResponse {
    let sse =
        Sse::new(stream(&feed)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    // Proxies such as nginx must not buffer the stream.
    (
        [(
            header::HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        sse,
    )
}
