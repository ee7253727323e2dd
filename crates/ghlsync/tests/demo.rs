//! The README's main command, `ghlsync demo`, completes and says so.

use std::process::Command;

#[test]
fn the_demo_completes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ghlsync"))
        .args(["demo", "--leads", "12", "--dir"])
        .arg(dir.path())
        .env("GHLSYNC_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("result: the flow completed"), "{stdout}");
    assert!(!stdout.contains("FAILED"));
    assert!(
        dir.path().join("ghlsync.db").exists(),
        "--dir keeps the database"
    );
}

/// Without GHLSYNC_LOG the report stands alone: no info lines (retries, rejections) on
/// stderr, and stages named as GHL shows them.
#[test]
fn the_demo_report_is_not_interleaved_with_logs_and_names_stages() {
    let out = Command::new(env!("CARGO_BIN_EXE_ghlsync"))
        .args(["demo", "--leads", "12"])
        .env_remove("GHLSYNC_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("INFO"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes into a pipe: {stderr}"
    );
    assert!(
        !stderr.contains("encryption key"),
        "a temporary demo keeps no key: {stderr}"
    );
    let stage = stdout
        .lines()
        .find(|l| l.contains("opportunity \"Tienda online\""))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        ghl_sim::seed::PROJECT_STAGES
            .iter()
            .any(|s| stage.contains(&format!("stage \"{s}\""))),
        "{stage}"
    );
}
