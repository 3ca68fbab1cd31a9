//! control::exporter: `--metrics-listen`, shipdeck's own `/metrics` for Prometheus. Owns
//! the listening socket and the HTTP/1.1 server (hyper); renders the newest published
//! snapshot on each scrape. Never holds up the controller: a scrape takes the snapshot's
//! `Arc` out of the watch at once and renders on its own task, and slow or idle
//! connections cost only their own task (bounded in number and in header time).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::exposition;
use super::snapshot::Snapshot;

/// Scrapers served at once; a connection past this is closed at once.
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request's headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// `--metrics-listen` could not be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "--metrics-listen {addr}: cannot listen there: {reason}\n  hint: give a free address and port, like `--metrics-listen 127.0.0.1:9464` (or `:9464` for every interface)"
)]
pub struct ListenError {
    addr: String,
    reason: String,
}

/// A socket bound for `/metrics`, before the controller runs.
pub struct MetricsListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl MetricsListener {
    /// Binds `addr`: `HOST:PORT`, or `:PORT` for every interface, as Prometheus's own
    /// `--web.listen-address` takes it. Port 0 picks a free one.
    pub async fn bind(addr: &str) -> Result<MetricsListener, ListenError> {
        let fail = |reason: String| ListenError {
            addr: addr.to_string(),
            reason,
        };
        let target = match addr.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => addr.to_string(),
        };
        let listener = TcpListener::bind(&target)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
        Ok(MetricsListener { listener, addr })
    }

    /// Where it listens (the port chosen, when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves `/metrics` until the controller's loop ends (its snapshots close).
pub(super) async fn serve(listener: MetricsListener, snapshots: watch::Receiver<Arc<Snapshot>>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut closed = snapshots.clone();
    loop {
        let stream = tokio::select! {
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, say: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            changed = closed.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let snapshots = snapshots.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = respond(&request, &snapshots);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

fn respond(
    request: &Request<Incoming>,
    snapshots: &watch::Receiver<Arc<Snapshot>>,
) -> Response<Full<Bytes>> {
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    match request.uri().path() {
        "/metrics" if get => {
            // The read lock is held only to clone the Arc; rendering happens after.
            let snapshot = Arc::clone(&snapshots.borrow());
            let body = exposition::render(&snapshot);
            text(StatusCode::OK, exposition::CONTENT_TYPE, body)
        }
        "/metrics" => {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "use GET\n".into(),
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        "/" if get => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "shipdeck: the release's metrics are at /metrics\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: shipdeck serves /metrics\n".into(),
        ),
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
