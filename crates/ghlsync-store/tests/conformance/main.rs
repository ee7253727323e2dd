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

pub async fn postgres() -> Option<(PgStore, ghlsync_store::testing::TestDatabase)> {
    let db = ghlsync_store::testing::postgres_database().await?;
    let store = PgStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    Some((store, db))
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
    cloudtalk_links_keep_one_twin_each_way,
    windows_grant_up_to_their_limit,
    broadcasts_keys_and_dnc_are_their_owners_alone,
    a_broadcast_queue_leases_records_and_hands_outcomes_to_ghl,
    duplicate_events_are_stored_once,
    windowed_keys_repeat_only_within_their_window,
    claims_are_exclusive,
    concurrent_claimers_never_share_an_event,
    a_dead_workers_lease_ends_and_another_takes_over,
    completion_applies_the_changeset_and_enqueues_jobs,
    failed_events_back_off_then_dead_letter_then_replay,
    jobs_are_idempotent_by_key_and_ordered_by_key,
    rescheduling_and_the_dead_letter_queue,
    concurrent_job_claims_never_overlap,
    claims_take_locations_in_turn,
    outcomes_recorded_together_apply_each_jobs_changes,
    the_mirror_keeps_the_newest_data,
    the_rate_limiter_is_atomic,
    places_asked_together_follow_the_order_asked,
    locations_and_routes_round_trip,
    api_keys_are_found_by_hash_and_revoked,
    profiles_are_versioned,
    stats_count_states,
    contact_syncs_merge_into_the_one_still_queued,
    webhook_lookups_find_the_person_the_jobs_and_the_opportunity,
);

fn event_with_key(key: &str) -> ghlsync_core::NewEvent {
    ghlsync_core::NewEvent {
        source: ghlsync_core::Source::Ghl,
        dedupe_key: Some(key.to_owned()),
        dedupe_window_ms: None,
        event_type: "ContactCreate".into(),
        location_id: None,
        route: None,
        meta: serde_json::json!({}),
        body: b"{}".to_vec(),
        received_at: ghlsync_core::time::parse_rfc3339_ms("2026-11-21T10:00:00Z").unwrap(),
    }
}

/// Only one process may store events in a SQLite file (its repeats are recognised in that
/// process's memory); a second one is refused with a clear error until the first is gone.
#[tokio::test]
async fn sqlite_refuses_a_second_ingesting_process() {
    use ghlsync_store::StoreError;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    let first = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
    first.migrate().await.unwrap();
    first
        .insert_events(&[event_with_key("ghl:a")])
        .await
        .unwrap();
    let second = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
    // Reading needs no lock.
    second.queue_stats().await.unwrap();
    let refused = second.insert_events(&[event_with_key("ghl:b")]).await;
    assert!(
        matches!(&refused, Err(StoreError::InUse(path)) if path.ends_with("ghlsync.db")),
        "{refused:?}"
    );
    drop(first);
    let taken_over = second
        .insert_events(&[event_with_key("ghl:a")])
        .await
        .unwrap();
    assert!(matches!(
        taken_over[0],
        ghlsync_store::Inserted::Duplicate(_)
    ));
}

#[tokio::test]
async fn sqlite_recognises_repeats_after_a_restart() {
    use ghlsync_store::Inserted;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    let event = event_with_key;
    let first = {
        let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
        store.migrate().await.unwrap();
        store
            .insert_events(&[event("ghl:a"), event("ghl:b")])
            .await
            .unwrap()
    };
    let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
    let again = store
        .insert_events(&[event("ghl:b"), event("ghl:c")])
        .await
        .unwrap();
    assert_eq!(
        again[0],
        Inserted::Duplicate(match first[1] {
            Inserted::New(id) => id,
            other => panic!("{other:?}"),
        })
    );
    assert!(matches!(again[1], Inserted::New(_)));
}

/// A body stored again after its window, then the process restarted: a resend is a repeat
/// of the newer event, not of the one whose window has passed.
#[tokio::test]
async fn sqlite_remembers_the_newest_event_of_a_windowed_key_after_a_restart() {
    use ghlsync_store::Inserted;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    let at = |offset: i64| ghlsync_core::NewEvent {
        dedupe_window_ms: Some(1_000),
        received_at: event_with_key("x").received_at + offset,
        ..event_with_key("wf:leads:body")
    };
    let newer = {
        let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
        store.migrate().await.unwrap();
        store.insert_events(&[at(0)]).await.unwrap();
        store.insert_events(&[at(5_000)]).await.unwrap()[0]
    };
    let Inserted::New(newer) = newer else {
        panic!("{newer:?}")
    };
    let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
    let again = store.insert_events(&[at(5_500)]).await.unwrap();
    assert_eq!(again, vec![Inserted::Duplicate(newer)]);
}

/// The ingest writer (its own connection, on a thread of its own) and the store's other
/// writes share SQLite's one write lock through the store's gate: neither fails with
/// "database is locked" and nothing is lost while both write at full speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ingest_and_other_writes_share_the_write_lock() {
    let (store, _dir) = sqlite().await;
    let ingest = store.clone();
    let writer = std::thread::spawn(move || {
        for batch in 0..50 {
            let events: Vec<_> = (0..20)
                .map(|i| event_with_key(&format!("ghl:{batch}-{i}")))
                .collect();
            ingest.insert_events_blocking(&events).unwrap();
        }
    });
    let gcra = ghlsync_core::Gcra {
        emission_ms: 1,
        tolerance_ms: 1_000_000,
    };
    for n in 0..200 {
        let request = ghlsync_store::RateRequest {
            key: "location-1".into(),
            gcra,
            max_wait: 0,
        };
        assert!(matches!(
            store.rate_reserve(&[request], n).await.unwrap()[..],
            [ghlsync_core::gcra::Decision::Allow { .. }]
        ));
    }
    writer.join().unwrap();
    assert_eq!(store.queue_stats().await.unwrap().events_pending, 1000);
}

#[tokio::test]
async fn sqlite_refuses_an_in_memory_database() {
    let refused = SqliteStore::connect("sqlite::memory:", Synchronous::Full).await;
    assert!(
        matches!(&refused, Err(ghlsync_store::StoreError::UnsupportedUrl(u)) if u == "sqlite::memory:"),
        "{refused:?}"
    );
}
