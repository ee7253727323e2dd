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
