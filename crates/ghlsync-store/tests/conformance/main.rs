//! One conformance suite for the store and the queue contract, run on SQLite always and on
//! PostgreSQL when `GHLSYNC_TEST_POSTGRES_URL` is set (required when
//! `GHLSYNC_REQUIRE_POSTGRES=1`, as `.ci/run` sets it).

mod cases;

use ghlsync_store::{PgStore, SqliteStore, Store, Synchronous};

pub async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// A fresh database on the test server, dropped when the guard goes.
#[derive(Debug)]
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Dropping needs async IO; a short-lived runtime on a plain thread keeps Drop sync.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Says once, past the test harness's output capture, why PostgreSQL cases are skipped.
fn skip(reason: &str) {
    use std::io::Write;
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipping PostgreSQL conformance cases: {reason}"
        );
    });
}

pub async fn postgres() -> Option<(PgStore, PgDatabase)> {
    let required = std::env::var("GHLSYNC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Ok(admin_url) = std::env::var("GHLSYNC_TEST_POSTGRES_URL") else {
        assert!(
            !required,
            "GHLSYNC_REQUIRE_POSTGRES=1 but GHLSYNC_TEST_POSTGRES_URL is not set"
        );
        skip("GHLSYNC_TEST_POSTGRES_URL is not set");
        return None;
    };
    let pool = match sqlx::PgPool::connect(&admin_url).await {
        Ok(p) => p,
        Err(e) => {
            assert!(
                !required,
                "cannot reach PostgreSQL at GHLSYNC_TEST_POSTGRES_URL: {e}"
            );
            skip(&format!("cannot connect: {e}"));
            return None;
        }
    };
    let name = format!("ghlsync_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let url = match admin_url.rsplit_once('/') {
        Some((base, rest)) => {
            let query = rest
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{base}/{name}{query}")
        }
        None => panic!("GHLSYNC_TEST_POSTGRES_URL has no database part: {admin_url}"),
    };
    let store = PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Some((store, PgDatabase { admin_url, name }))
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = crate::sqlite().await;
                    crate::cases::$case(&store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some((store, _db)) = crate::postgres().await else { return };
                    crate::cases::$case(&store).await;
                }
            )*
        }
    };
}

conformance!(
    migrations_are_idempotent,
    duplicate_events_are_stored_once,
    claims_are_exclusive,
    concurrent_claimers_never_share_an_event,
    a_dead_workers_lease_ends_and_another_takes_over,
    completion_applies_the_changeset_and_enqueues_jobs,
    failed_events_back_off_then_dead_letter_then_replay,
    jobs_are_idempotent_by_key_and_ordered_by_key,
    rescheduling_and_the_dead_letter_queue,
    concurrent_job_claims_never_overlap,
    the_mirror_keeps_the_newest_data,
    the_rate_limiter_is_atomic,
    locations_and_routes_round_trip,
    stats_count_states,
);
