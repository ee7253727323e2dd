//! A webhook receiver for tests: records every POST and answers a configurable status.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
}

#[derive(Clone, Debug)]
pub struct Receiver {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        let inner = Arc::new(Inner {
            received: Mutex::default(),
            status: AtomicU16::new(status),
        });
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { inner, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }
}

async fn record(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inner
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    StatusCode::from_u16(inner.status.load(Ordering::SeqCst)).unwrap()
}
