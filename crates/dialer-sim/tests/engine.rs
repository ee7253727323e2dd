//! The engine against a small stand-in for ghlsync's two dialer routes: items in memory,
//! signatures checked with `dialer::verify`, duplicates answered by `event_id`, and
//! no_answer/busy called again once (two attempts in all) after a short delay.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dialer::{
    ErrorBody, ErrorDetail, Lease, LeaseRequest, LeasedItem, Outcome, OutcomeReceipt,
    OutcomeReport, ReceiptStatus, SignatureError,
};
use dialer_sim::{Delivery, Engine, EngineConfig, Faults, MAGIC_NUMBERS, Stats};
use jiff::{SignedDuration, Timestamp};

const OWNER: &str = "engine-1";
const SECRET: &str = "engine-secret";
const BROADCAST: &str = "b_1";
/// Attempts per item for no_answer and busy.
const MAX_ATTEMPTS: u32 = 2;

#[derive(Debug)]
struct Item {
    id: String,
    phone: String,
    /// Outcomes recorded so far.
    attempts: u32,
    due_at: Timestamp,
    lease: Option<(String, Timestamp)>,
    done: bool,
    reports: Vec<OutcomeReport>,
}

#[derive(Debug)]
struct World {
    items: Vec<Item>,
    receipts: HashMap<String, OutcomeReceipt>,
    /// Every report answered 200, in order: its event id and the answer's status.
    posts: Vec<(String, ReceiptStatus)>,
    /// Every refusal of a report: status and code.
    refusals: Vec<(u16, String)>,
    leases: u32,
    /// Answer 503 to this many reports before serving them.
    fail_reports: u32,
    retry_delay: SignedDuration,
}

type Shared = Arc<Mutex<World>>;

struct Ghlsync {
    url: String,
    world: Shared,
}

impl Ghlsync {
    async fn start(phones: &[String]) -> Self {
        let now = Timestamp::now();
        let items = phones
            .iter()
            .enumerate()
            .map(|(i, phone)| Item {
                id: format!("q{i:03}"),
                phone: phone.clone(),
                attempts: 0,
                due_at: now,
                lease: None,
                done: false,
                reports: Vec::new(),
            })
            .collect();
        let world = Arc::new(Mutex::new(World {
            items,
            receipts: HashMap::new(),
            posts: Vec::new(),
            refusals: Vec::new(),
            leases: 0,
            fail_reports: 0,
            retry_delay: SignedDuration::from_millis(100),
        }));
        let app = Router::new()
            .route(dialer::LEASE_PATH, post(lease))
            .route(dialer::OUTCOMES_PATH, post(outcomes))
            .with_state(world.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, world }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    fn config(&self, seed: u64) -> EngineConfig {
        EngineConfig {
            seed,
            batch: 10,
            lease_seconds: 10,
            ..EngineConfig::new(&self.url, OWNER, SECRET, BROADCAST)
        }
    }

    /// (item, attempt) -> what was reported, without the call time.
    fn results(&self) -> BTreeMap<(String, u32), (Outcome, u32, Option<String>)> {
        let world = self.world();
        let mut results = BTreeMap::new();
        for item in &world.items {
            for (n, report) in item.reports.iter().enumerate() {
                results.insert(
                    (item.id.clone(), n as u32 + 1),
                    (
                        report.outcome,
                        report.duration_seconds,
                        report.dtmf_pressed.clone(),
                    ),
                );
            }
        }
        results
    }
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ErrorBody::from(ErrorDetail::new(code, message))),
    )
        .into_response()
}

async fn lease(State(world): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(SECRET) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "bad engine secret",
        );
    }
    let request: LeaseRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()),
    };
    if let Err(detail) = request.validate() {
        return (StatusCode::BAD_REQUEST, axum::Json(ErrorBody::from(detail))).into_response();
    }
    if request.broadcast_id != BROADCAST {
        return refuse(StatusCode::NOT_FOUND, "not_found", "no such broadcast");
    }
    let mut world = world.lock().unwrap();
    world.leases += 1;
    let lease_id = format!("l{}", world.leases);
    let now = Timestamp::now();
    let expires = now
        .checked_add(SignedDuration::from_secs(i64::from(request.lease_seconds)))
        .unwrap();
    let mut items = Vec::new();
    let mut next_due_at: Option<Timestamp> = None;
    for item in world.items.iter_mut().filter(|item| !item.done) {
        let held_until = item
            .lease
            .as_ref()
            .map(|(_, until)| *until)
            .filter(|until| *until > now);
        let free = held_until.is_none() && item.due_at <= now;
        if free && items.len() < request.limit as usize {
            item.lease = Some((lease_id.clone(), expires));
            items.push(LeasedItem {
                queue_item_id: item.id.clone(),
                phone: item.phone.clone(),
                name: None,
                email: None,
                ghl_contact_id: None,
                attempt: item.attempts + 1,
            });
        } else {
            let due = held_until.unwrap_or(item.due_at);
            next_due_at = Some(next_due_at.map_or(due, |at| at.min(due)));
        }
    }
    axum::Json(Lease {
        broadcast_id: BROADCAST.into(),
        broadcast_status: "active".into(),
        lease_id,
        lease_expires_at: expires,
        items,
        next_due_at,
    })
    .into_response()
}

async fn outcomes(State(world): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut world = world.lock().unwrap();
    let answer = record(&mut world, &headers, &body);
    match answer {
        Ok(receipt) => {
            world.posts.push((
                serde_json::from_slice::<OutcomeReport>(&body)
                    .unwrap()
                    .event_id,
                receipt.status,
            ));
            axum::Json(receipt).into_response()
        }
        Err((status, code)) => {
            world.refusals.push((status.as_u16(), code.to_owned()));
            refuse(status, code, "refused")
        }
    }
}

fn record(
    world: &mut World,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<OutcomeReceipt, (StatusCode, &'static str)> {
    if world.fail_reports > 0 {
        world.fail_reports -= 1;
        return Err((StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header(dialer::OWNER_HEADER) != Some(OWNER) {
        return Err((StatusCode::UNAUTHORIZED, "unknown_owner"));
    }
    dialer::verify(
        SECRET.as_bytes(),
        header(dialer::TIMESTAMP_HEADER),
        header(dialer::SIGNATURE_HEADER),
        body,
        Timestamp::now().as_second(),
    )
    .map_err(|e| {
        let code = match e {
            SignatureError::Stale { .. } => "stale_timestamp",
            SignatureError::Mismatch => "signature_mismatch",
            _ => "bad_signature",
        };
        (StatusCode::UNAUTHORIZED, code)
    })?;
    let report: OutcomeReport =
        serde_json::from_slice(body).map_err(|_| (StatusCode::BAD_REQUEST, "invalid_body"))?;
    if let Some(first) = world.receipts.get(&report.event_id) {
        return Ok(OutcomeReceipt {
            status: ReceiptStatus::Duplicate,
            ..first.clone()
        });
    }
    let retry_delay = world.retry_delay;
    let item = world
        .items
        .iter_mut()
        .find(|item| item.id == report.queue_item_id)
        .ok_or((StatusCode::NOT_FOUND, "not_found"))?;
    if item.done {
        return Err((StatusCode::CONFLICT, "already_final"));
    }
    item.attempts += 1;
    item.lease = None;
    let again =
        matches!(report.outcome, Outcome::NoAnswer | Outcome::Busy) && item.attempts < MAX_ATTEMPTS;
    let next_attempt_at = again.then(|| Timestamp::now().checked_add(retry_delay).unwrap());
    match next_attempt_at {
        Some(at) => item.due_at = at,
        None => item.done = true,
    }
    item.reports.push(report.clone());
    let receipt = OutcomeReceipt {
        status: ReceiptStatus::Recorded,
        queue_item_id: item.id.clone(),
        final_outcome: !again,
        next_attempt_at,
    };
    world.receipts.insert(report.event_id, receipt.clone());
    Ok(receipt)
}

fn phones(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+1415555{i:04}")).collect()
}

#[tokio::test]
async fn every_magic_number_gets_its_scripted_outcome() {
    let numbers: Vec<String> = MAGIC_NUMBERS.iter().map(|(p, _)| (*p).to_owned()).collect();
    let server = Ghlsync::start(&numbers).await;
    let mut engine = Engine::new(server.config(1));
    let stats = engine
        .run_until_idle(20, Duration::from_secs(1))
        .await
        .unwrap();

    let world = server.world();
    for (phone, script) in MAGIC_NUMBERS {
        let item = world.items.iter().find(|i| i.phone == phone).unwrap();
        let attempts = match script.outcome {
            Outcome::NoAnswer | Outcome::Busy => MAX_ATTEMPTS as usize,
            _ => 1,
        };
        assert!(item.done, "{phone}");
        assert_eq!(item.reports.len(), attempts, "{phone}");
        for report in &item.reports {
            assert_eq!(report.outcome, script.outcome, "{phone}");
            assert_eq!(report.duration_seconds, script.duration_seconds, "{phone}");
            assert_eq!(report.dtmf_pressed.as_deref(), script.dtmf, "{phone}");
            assert_eq!(report.callback_requested, script.callback, "{phone}");
            let callback = script.callback.then(|| {
                report
                    .called_at
                    .checked_add(SignedDuration::from_hours(24))
                    .unwrap()
            });
            assert_eq!(report.callback_time, callback, "{phone}");
        }
    }
    let answered = world
        .items
        .iter()
        .find(|i| i.phone == "+12015550105")
        .unwrap();
    assert_eq!(answered.reports[0].dtmf_pressed.as_deref(), Some("1"));
    assert_eq!(
        answered.reports[0].event_id,
        format!("{OWNER}-{}-1", answered.id)
    );

    let expected: BTreeMap<Outcome, u32> = [
        (Outcome::Answered, 3),
        (Outcome::Voicemail, 1),
        (Outcome::NoAnswer, 2),
        (Outcome::Busy, 2),
        (Outcome::Failed, 1),
    ]
    .into();
    assert_eq!(stats.by_outcome, expected);
    assert_eq!(stats.calls, 9);
    assert_eq!(stats.reports_sent, 9);
    assert_eq!(stats.duplicates_answered, 0);
    assert!(stats.rounds >= 3, "{stats:?}");
    assert!(world.refusals.is_empty(), "{:?}", world.refusals);
}

#[tokio::test]
async fn a_seeded_run_is_reproducible() {
    async fn run(
        seed: u64,
    ) -> (
        BTreeMap<(String, u32), (Outcome, u32, Option<String>)>,
        Stats,
    ) {
        let server = Ghlsync::start(&phones(40)).await;
        let mut engine = Engine::new(server.config(seed));
        let stats = engine
            .run_until_idle(50, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(server.world().items.iter().all(|i| i.done));
        (server.results(), stats)
    }
    let (first, first_stats) = run(42).await;
    let (again, again_stats) = run(42).await;
    let (other, _) = run(43).await;
    assert_eq!(first, again);
    assert_eq!(first_stats.by_outcome, again_stats.by_outcome);
    assert_eq!(first_stats.calls, again_stats.calls);
    assert_ne!(first, other, "another seed draws otherwise");
    assert!(first.len() >= 40);
    assert!(first_stats.by_outcome.len() >= 3, "{first_stats:?}");
}

#[tokio::test]
async fn repeat_rate_one_sends_each_event_twice() {
    let server = Ghlsync::start(&phones(5)).await;
    let mut engine = Engine::new(EngineConfig {
        faults: Faults {
            repeat_rate: 1.0,
            ..Faults::default()
        },
        ..server.config(3)
    });
    let round = engine.run_round().await.unwrap();
    assert_eq!(round.calls.len(), 5);
    for call in &round.calls {
        let Delivery::Sent {
            receipt,
            repeat: Some(Ok(repeat)),
        } = &call.delivery
        else {
            panic!("sent twice: {:?}", call.delivery);
        };
        assert_eq!(receipt.status, ReceiptStatus::Recorded);
        assert_eq!(repeat.status, ReceiptStatus::Duplicate);
        assert_eq!(repeat.final_outcome, receipt.final_outcome);
        assert_eq!(repeat.next_attempt_at, receipt.next_attempt_at);
    }

    let world = server.world();
    let mut by_event: BTreeMap<&str, Vec<ReceiptStatus>> = BTreeMap::new();
    for (event, status) in &world.posts {
        by_event.entry(event).or_default().push(*status);
    }
    assert_eq!(by_event.len(), 5);
    for statuses in by_event.values() {
        assert_eq!(
            statuses,
            &[ReceiptStatus::Recorded, ReceiptStatus::Duplicate]
        );
    }
    assert!(
        world.items.iter().all(|i| i.reports.len() == 1),
        "recorded once"
    );
    let stats = engine.stats();
    assert_eq!(
        (
            stats.reports_sent,
            stats.reports_repeated,
            stats.duplicates_answered
        ),
        (5, 5, 5)
    );
}

#[tokio::test]
async fn drop_rate_one_sends_nothing_and_the_items_wait_for_the_lease() {
    let server = Ghlsync::start(&phones(5)).await;
    let mut engine = Engine::new(EngineConfig {
        faults: Faults {
            drop_rate: 1.0,
            ..Faults::default()
        },
        ..server.config(3)
    });
    let round = engine.run_round().await.unwrap();
    assert_eq!(round.calls.len(), 5);
    assert!(
        round
            .calls
            .iter()
            .all(|c| matches!(c.delivery, Delivery::Dropped))
    );
    let stats = engine.stats().clone();
    assert_eq!(
        (stats.calls, stats.reports_dropped, stats.reports_sent),
        (5, 5, 0)
    );
    assert!(server.world().posts.is_empty());
    assert!(server.world().refusals.is_empty());

    // The items stay leased: nothing is handed out, and they are due when the lease ends.
    let next = engine.run_round().await.unwrap();
    assert!(next.calls.is_empty());
    assert_eq!(next.lease.next_due_at, Some(round.lease.lease_expires_at));
}

#[tokio::test]
async fn transient_failures_are_retried_and_counted() {
    let server = Ghlsync::start(&phones(1)).await;
    server.world().fail_reports = 2;
    let mut engine = Engine::new(EngineConfig {
        faults: Faults {
            delay_ms: 50,
            ..Faults::default()
        },
        ..server.config(3)
    });
    let started = Instant::now();
    let round = engine.run_round().await.unwrap();
    // The delay, then backoffs of 100 ms and 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert!(matches!(round.calls[0].delivery, Delivery::Sent { .. }));
    let stats = engine.stats();
    assert_eq!(
        (
            stats.report_retries,
            stats.reports_sent,
            stats.reports_failed
        ),
        (2, 1, 0)
    );
    assert_eq!(server.world().posts.len(), 1);
}

#[tokio::test]
async fn bad_secret_is_a_401_and_bad_signatures_are_refused() {
    let server = Ghlsync::start(&phones(1)).await;
    let mut wrong = Engine::new(EngineConfig {
        secret: "not-the-secret".into(),
        ..server.config(3)
    });
    let err = wrong.run_round().await.unwrap_err();
    assert!(
        matches!(&err, dialer::Error::Api { status: 401, code, .. } if code == "unauthorized"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(wrong.stats().rounds, 0);

    // Reports the item with the right secret but a stale timestamp, then a tampered body.
    let client = dialer::Client::new(&server.url, OWNER, SECRET);
    let lease = client.lease(&LeaseRequest::new(BROADCAST)).await.unwrap();
    let report = OutcomeReport {
        event_id: "manual-1".into(),
        queue_item_id: lease.items[0].queue_item_id.clone(),
        lease_id: Some(lease.lease_id.clone()),
        outcome: Outcome::Answered,
        duration_seconds: 12,
        called_at: Timestamp::now(),
        dtmf_pressed: None,
        callback_requested: false,
        callback_time: None,
    };
    let body = serde_json::to_vec(&report).unwrap();
    let stale = Timestamp::now().as_second() - 301;
    let err = client.report_raw(body.clone(), stale).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("stale_timestamp"))
    );

    let now = Timestamp::now().as_second();
    let signature = dialer::sign(SECRET.as_bytes(), now, &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace(r#""duration_seconds":12"#, r#""duration_seconds":92"#)
        .into_bytes();
    assert_ne!(tampered, body);
    let err = client
        .report_signed(tampered, &now.to_string(), &signature)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("signature_mismatch"))
    );

    let other = dialer::Client::new(&server.url, OWNER, "not-the-secret");
    let err = other.report(&report).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("signature_mismatch"))
    );

    // The genuine report still goes through, once.
    let receipt = client.report(&report).await.unwrap();
    assert_eq!(receipt.status, ReceiptStatus::Recorded);
    assert!(receipt.final_outcome);
    let again = client.report(&report).await.unwrap();
    assert_eq!(again.status, ReceiptStatus::Duplicate);
    assert_eq!(server.world().items[0].reports.len(), 1);
}
