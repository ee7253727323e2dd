//! Fault injection through the library and the control endpoint.

use std::time::{Duration, Instant};

use ghl_sim::{Effect, FaultAction, FaultConfig, FaultRule};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

fn pipelines(env: &Env) -> reqwest::RequestBuilder {
    env.ghl(
        Method::GET,
        &format!("/opportunities/pipelines?locationId={}", env.loc.id),
    )
}

#[tokio::test]
async fn latency_is_added() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Latency { ms: 300 })],
        hang_ms: None,
    });
    let t = Instant::now();
    assert_eq!(pipelines(&env).send().await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn error_rates_per_status() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::Status { status: 500 }).with_probability(0.5),
            FaultRule::always(FaultAction::Status { status: 502 }).with_probability(0.0),
        ],
        hang_ms: None,
    });
    let mut counts = std::collections::HashMap::new();
    for _ in 0..60 {
        let s = pipelines(&env).send().await.unwrap().status().as_u16();
        *counts.entry(s).or_insert(0) += 1;
    }
    assert!(counts.get(&500).copied().unwrap_or(0) >= 10, "{counts:?}");
    assert!(counts.get(&200).copied().unwrap_or(0) >= 10, "{counts:?}");
    assert!(!counts.contains_key(&502));
}

#[tokio::test]
async fn an_outage_window_ends() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::Status { status: 503 })
                .for_duration(Duration::from_millis(400)),
        ],
        hang_ms: None,
    });
    let r = pipelines(&env).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        r.headers().contains_key("x-ratelimit-remaining"),
        "fault answers carry the headers"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(pipelines(&env).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn hanging_requests_time_out_the_caller() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Hang).times(1)],
        hang_ms: Some(5_000),
    });
    let err = pipelines(&env)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        pipelines(&env).send().await.unwrap().status(),
        200,
        "count of one"
    );
}

#[tokio::test]
async fn forced_429s() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Status { status: 429 }).times(2)],
        hang_ms: None,
    });
    for _ in 0..2 {
        let r = pipelines(&env).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    }
    assert_eq!(pipelines(&env).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn apply_then_timeout_applies_the_change_but_the_caller_sees_a_timeout() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::ApplyThenTimeout)
                .times(1)
                .on("POST", "/contacts"),
        ],
        hang_ms: Some(1_000),
    });
    let err = env
        .ghl(Method::POST, "/contacts/")
        .json(&json!({"locationId": env.loc.id, "email": "late@example.com"}))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    // The contact exists, and the audit log says the call created it.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let contacts = env.sim.contacts(&env.loc.id);
    assert_eq!(contacts.len(), 1);
    let entry = env
        .sim
        .audit(0)
        .into_iter()
        .find(|e| e.path == "/contacts/")
        .unwrap();
    assert_eq!(entry.fault.as_deref(), Some("apply_then_timeout"));
    assert!(matches!(
        entry.effects.as_slice(),
        [Effect::ContactCreated { .. }]
    ));
}

#[tokio::test]
async fn faults_through_the_control_endpoint() {
    let env = Env::new().await;
    let r = env
        .http
        .put(env.url("/_sim/faults"))
        .json(&json!({"rules": [{"action": {"kind": "status", "status": 500}, "count": 1, "path_prefix": "/opportunities"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let config: Value = env
        .http
        .get(env.url("/_sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["rules"][0]["count"], 1);
    assert_eq!(pipelines(&env).send().await.unwrap().status(), 500);
    assert_eq!(pipelines(&env).send().await.unwrap().status(), 200);
    let r = env
        .http
        .delete(env.url("/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let audit: Value = env
        .http
        .get(env.url("/_sim/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["fault"], "status 500");
}
