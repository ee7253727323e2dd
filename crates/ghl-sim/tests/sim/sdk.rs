//! GHL's official Node SDK (`@gohighlevel/api-client`, pinned in `tests/sdk/package.json`)
//! against the simulator: every operation the simulator serves, called the way the SDK's
//! users call it, must answer without an error. The SDK is installed with `npm ci` into
//! the target directory on first use; `node` and `npm` come with the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::Env;

/// The SDK's files, installed once per target directory.
fn installed_sdk() -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ghl-sdk");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "package-lock.json", "calls.js"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    let marker = dir.join("node_modules/@gohighlevel/api-client/package.json");
    let pinned = |p: &Path| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["version"] == "3.1.0")
    };
    if !pinned(&marker) {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("npm is installed");
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

#[tokio::test]
async fn every_operation_the_simulator_serves_answers_ghls_own_sdk() {
    let dir = tokio::task::spawn_blocking(installed_sdk).await.unwrap();
    let env = Env::new().await;
    // A call with a transcript, so the conversation operations have something to read.
    let seed_contact = env.contact("caller@example.com").await;
    let (conversation, message) = env
        .sim
        .add_call(
            &env.loc.id,
            &ghl_sim::CallSpec {
                contact_id: seed_contact,
                direction: "inbound".into(),
                duration_s: 30,
                status: "completed".into(),
                transcript: vec![ghl_sim::Sentence {
                    media_channel: 1,
                    transcript: "Hello".into(),
                }],
            },
        )
        .unwrap();
    let config = json!({
        "base": env.sim.base_url(),
        "token": env.loc.token,
        "locationId": env.loc.id,
        "conversationId": conversation,
        "messageId": message,
    });
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(dir.join("calls.js"))
            .arg(config.to_string())
            .current_dir(&dir)
            .output()
            .expect("node is installed")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let failed: Vec<&Value> = results.iter().filter(|r| r["ok"] != true).collect();
    assert!(
        failed.is_empty(),
        "the SDK's calls that failed: {failed:#?}"
    );
    assert!(results.len() >= 30, "{} calls", results.len());
    // Each call reached GHL's routes (none was answered by a 404 fallback).
    let audit = env.sim.audit(0);
    assert!(audit.iter().all(|e| e.status != 404), "{audit:#?}");
}
