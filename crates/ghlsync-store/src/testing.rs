//! Test support shared by this crate's conformance suite and ghlsync's crash tests: a fresh
//! PostgreSQL database per test on the server named by `GHLSYNC_TEST_POSTGRES_URL`.
//!
//! When that variable is unset the PostgreSQL tests are skipped with a printed reason,
//! unless `GHLSYNC_REQUIRE_POSTGRES=1` (as `.ci/run` sets it), which makes them fail.

use std::io::Write;

/// A database created for one test; dropped (with its connections) when this goes.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Dropping needs async IO; a short-lived runtime on a plain thread keeps Drop sync.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
            });
        })
        .join();
    }
}

/// Says once per process, past the test harness's output capture, why PostgreSQL tests are
/// skipped.
fn skip(reason: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "skipping PostgreSQL tests: {reason}");
    });
}

/// A fresh, empty database, or `None` (after saying why) when PostgreSQL is not configured.
/// Panics when `GHLSYNC_REQUIRE_POSTGRES=1` and the server cannot be used.
pub async fn postgres_database() -> Option<TestDatabase> {
    let required = std::env::var("GHLSYNC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Ok(admin_url) = std::env::var("GHLSYNC_TEST_POSTGRES_URL") else {
        assert!(
            !required,
            "GHLSYNC_REQUIRE_POSTGRES=1 but GHLSYNC_TEST_POSTGRES_URL is not set"
        );
        skip("GHLSYNC_TEST_POSTGRES_URL is not set");
        return None;
    };
    match create_database(&admin_url).await {
        Ok(db) => Some(db),
        Err(e) => {
            assert!(
                !required,
                "cannot use PostgreSQL at GHLSYNC_TEST_POSTGRES_URL: {e}"
            );
            skip(&format!("cannot connect: {e}"));
            None
        }
    }
}

/// Creates an empty database on the server of `admin_url` (dropped with the guard).
pub async fn create_database(admin_url: &str) -> Result<TestDatabase, sqlx::Error> {
    let pool = sqlx::PgPool::connect(admin_url).await?;
    let name = format!("ghlsync_test_{}", uuid_like());
    let sql = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
    pool.close().await;
    let (base, rest) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| sqlx::Error::Configuration("the PostgreSQL URL names no database".into()))?;
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{base}/{name}{query}");
    Ok(TestDatabase {
        admin_url: admin_url.to_owned(),
        name,
        url,
    })
}

/// A name unique enough for test databases, without a uuid dependency.
fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}_{nanos}_{n}", std::process::id())
}

/// Who runs the jobs of a PostgreSQL database now: the lease owners of its running jobs,
/// for tests that check several instances share a backlog.
#[derive(Debug)]
pub struct JobOwners(sqlx::PgPool);

impl JobOwners {
    /// Connects to the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self(sqlx::PgPool::connect(url).await?))
    }

    /// The distinct lease owners of the jobs running now.
    pub async fn running(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL",
        )
        .fetch_all(&self.0)
        .await
    }
}
