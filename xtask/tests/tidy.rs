//! Tidy checks on the workspace itself: the boundaries ARCHITECTURE.md promises.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// Crates that do IO; none may be reachable from the domain crate.
const IO_CRATES: &[&str] = &[
    "sqlx",
    "sqlx-core",
    "axum",
    "hyper",
    "reqwest",
    "tokio",
    "mio",
    "socket2",
    "tower",
    "rusqlite",
    "libsqlite3-sys",
];

#[test]
fn the_domain_crate_reaches_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "-p",
            "ghlsync-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"ghlsync-core"),
        "unexpected cargo tree output:\n{tree}"
    );
    let reached: Vec<&&str> = IO_CRATES.iter().filter(|c| names.contains(c)).collect();
    assert!(
        reached.is_empty(),
        "ghlsync-core reaches IO crates {reached:?}:\n{tree}"
    );
}

#[test]
fn the_code_map_names_every_crate_and_only_those() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| format!("crates/{}", e.file_name().to_string_lossy()))
        .collect();
    on_disk.push("xtask".into());
    for dir in &on_disk {
        assert!(
            text.contains(&format!("`{dir}`")),
            "ARCHITECTURE.md's code map does not describe {dir}"
        );
    }
    // Every `crates/NAME` the document names exists.
    for (i, _) in text.match_indices("`crates/") {
        let name: String = text[i + 1..].chars().take_while(|c| *c != '`').collect();
        let top: String = name.split('/').take(2).collect::<Vec<_>>().join("/");
        assert!(
            root().join(&top).exists(),
            "ARCHITECTURE.md names {name}, which does not exist"
        );
    }
}

/// sqlx-core 0.9.0 as published leaves Nagle's algorithm on, which costs PostgreSQL ~40 ms
/// per commit of more than 16 KiB (see `vendor/sqlx-core/PATCHED.md`). The build must use
/// the patched copy until a release carries the fix.
#[test]
fn postgres_connections_set_tcp_nodelay() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"sqlx-core\""))
        .expect("sqlx-core is a dependency");
    if entry.contains("version = \"0.9.0\"") {
        assert!(
            !entry.contains("source = "),
            "sqlx-core 0.9.0 comes from the registry, without the TCP_NODELAY fix:\n{entry}"
        );
        let socket = std::fs::read_to_string(root().join("vendor/sqlx-core/src/net/socket/mod.rs"))
            .expect("the patched sqlx-core");
        assert!(
            socket.contains("stream.set_nodelay(true)?"),
            "the patch is gone from vendor/sqlx-core"
        );
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Connectors do not import each other: what two outside systems exchange goes through an
/// event and the rules, so a connector can be read, changed or removed on its own.
#[test]
fn connectors_do_not_import_each_other() {
    let connectors = root().join("crates/ghlsync/src/connectors");
    let names: Vec<String> = std::fs::read_dir(&connectors)
        .expect("the connectors folder")
        .filter_map(|e| {
            let path = e.ok()?.path();
            path.is_dir()
                .then(|| path.file_name()?.to_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    assert!(
        names.len() >= 2,
        "connectors found: {names:?} (is this test looking in the right place?)"
    );
    let mut crossings = Vec::new();
    for name in &names {
        for file in rust_files(&connectors.join(name)) {
            let text = std::fs::read_to_string(&file).expect("a readable file");
            for other in names.iter().filter(|o| *o != name) {
                for path in [
                    format!("connectors::{other}"),
                    format!("super::super::{other}"),
                ] {
                    if text.contains(&path) {
                        crossings.push(format!("{} uses {path}", file.display()));
                    }
                }
            }
        }
    }
    assert!(crossings.is_empty(), "{crossings:#?}");
}
