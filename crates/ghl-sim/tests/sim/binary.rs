//! The `ghl-sim` binary prints the seeded locations and tokens and serves them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn seeded_binary_prints_tokens_that_work() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ghl-sim"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--seed", "demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("control API");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let location_line = lines
        .iter()
        .find(|l| l.starts_with("location Marketplace"))
        .expect("marketplace printed");
    let words: Vec<&str> = location_line.split_whitespace().collect();
    let id = words[words.iter().position(|w| *w == "id").unwrap() + 1];
    let token = words[words.iter().position(|w| *w == "token").unwrap() + 1];
    let r = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/locations/{id}/customFields"
        ))
        .bearer_auth(token)
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fields: serde_json::Value = r.json().await.unwrap();
    assert!(fields["customFields"].as_array().unwrap().len() >= 20);
    child.kill().unwrap();
    child.wait().unwrap();
}
