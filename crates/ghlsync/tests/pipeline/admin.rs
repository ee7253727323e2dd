//! The admin API: authentication, DLQ listing and replay, no secrets in answers.

use ghlsync_core::JobState;
use ghlsync_store::{JobFilter, Store};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Harness, lead};

#[tokio::test]
async fn admin_needs_its_token_and_never_returns_secrets() {
    let h = Harness::start(|_| {}).await;
    let r = h
        .http
        .get(format!("{}/admin/dlq", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .get(format!("{}/admin/dlq", h.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let locations = h
        .admin(Method::GET, "/admin/locations")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(locations.contains(&h.loc.id));
    assert!(
        !locations.contains(&h.loc.token),
        "tokens are never returned"
    );
    assert!(!locations.contains("token_ciphertext"));
    h.shutdown().await;
}

#[tokio::test]
async fn dead_jobs_are_listed_and_replayed_one_at_a_time() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("new-lead", &[]).await;
    let mut bad = lead(1);
    bad["email"] = json!("broken");
    h.post_workflow("new-lead", &bad).await;
    h.drain().await;
    let list: Value = h
        .admin(Method::GET, "/admin/dlq?kind=sync_contact")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jobs = list["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    let id = jobs[0]["id"].as_i64().unwrap();
    let r: Value = h
        .admin(Method::POST, &format!("/admin/dlq/{id}/replay"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["replayed"], 1);
    // Replaying a job that is not dead is a 404 with a code.
    h.drain().await;
    let dead = h
        .app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the same input fails the same way");
    assert_eq!(
        dead[0].attempts, 1,
        "a replay starts with a fresh attempt count"
    );
    let r = h
        .admin(Method::POST, "/admin/dlq/999999/replay")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let stats: Value = h
        .admin(Method::GET, "/admin/stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["jobs"]["dead"], 1);
    h.shutdown().await;
}
