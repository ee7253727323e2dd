//! The command line: locations, routes, the DLQ, events, print-config, migrate. Tokens and
//! secrets are read from the environment or stdin and never printed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Cli {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ghlsync.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[server]\nadmin_token = \"super-secret-admin\"\n",
                dir.path().join("ghlsync.db").display()
            ),
        )
        .unwrap();
        Self { dir, config }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ghlsync"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> String {
        let out = self.run(args, env, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn locations_are_added_listed_and_rotated_without_printing_tokens() {
    let cli = Cli::new();
    cli.ok(&["migrate"], &[], None);
    let out = cli.ok(
        &[
            "locations",
            "add",
            "--id",
            "loc1",
            "--name",
            "Acme",
            "--type",
            "client",
            "--token-env",
            "TOKEN",
        ],
        &[("TOKEN", "pit-very-secret")],
        None,
    );
    assert!(out.contains("saved"));
    assert!(!out.contains("pit-very-secret"));
    let list = cli.ok(&["locations", "list"], &[], None);
    assert!(list.contains("loc1") && list.contains("Acme") && list.contains("client"));
    assert!(!list.contains("pit-very-secret"));
    cli.ok(
        &["locations", "rotate-token", "--id", "loc1", "--token-stdin"],
        &[],
        Some("pit-rotated\n"),
    );
    let db = std::fs::read(cli.path().join("ghlsync.db")).unwrap();
    let wal = std::fs::read(cli.path().join("ghlsync.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(11).any(|w| w == b"pit-rotated"),
            "tokens are encrypted at rest"
        );
        assert!(!bytes.windows(15).any(|w| w == b"pit-very-secret"));
    }
    let missing = cli.run(
        &[
            "locations",
            "add",
            "--id",
            "x",
            "--name",
            "X",
            "--token-env",
            "NOPE",
        ],
        &[],
        None,
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NOPE"));
}

#[test]
fn routes_dlq_events_and_config() {
    let cli = Cli::new();
    cli.ok(
        &[
            "locations",
            "add",
            "--id",
            "loc1",
            "--name",
            "Acme",
            "--token-env",
            "T",
        ],
        &[("T", "pit-x")],
        None,
    );
    let out = cli.ok(
        &[
            "routes",
            "add",
            "--name",
            "new-lead",
            "--location",
            "loc1",
            "--auth",
            "hmac",
            "--tag",
            "lead",
            "--field",
            "email=$.contact.email",
            "--generate-secret",
        ],
        &[],
        None,
    );
    assert!(out.contains("/webhooks/ghl/workflow/new-lead"));
    assert!(out.contains("secret (shown once): "));
    let routes = cli.ok(&["routes", "list"], &[], None);
    assert!(
        routes.contains("new-lead")
            && routes.contains("hmac")
            && routes.contains("$.contact.email")
    );
    let bad = cli.run(
        &[
            "routes",
            "add",
            "--name",
            "bad route",
            "--location",
            "loc1",
            "--auth",
            "key",
            "--generate-secret",
        ],
        &[],
        None,
    );
    assert!(!bad.status.success());
    let no_location = cli.run(
        &[
            "routes",
            "add",
            "--name",
            "r",
            "--location",
            "nope",
            "--auth",
            "key",
            "--generate-secret",
        ],
        &[],
        None,
    );
    assert!(String::from_utf8_lossy(&no_location.stderr).contains("no location nope"));

    let dlq = cli.ok(&["dlq", "list"], &[], None);
    assert!(dlq.contains("0 dead job(s)"));
    let refused = cli.run(&["dlq", "replay"], &[], None);
    assert!(
        !refused.status.success(),
        "a bulk replay needs a filter or --all"
    );
    assert!(
        cli.ok(&["dlq", "replay", "--all"], &[], None)
            .contains("0 job(s)")
    );
    assert!(
        cli.ok(&["events", "replay", "--all"], &[], None)
            .contains("0 event(s)")
    );
    cli.ok(&["events", "list", "--state", "dead"], &[], None);

    let config = cli.ok(
        &["print-config"],
        &[("GHLSYNC_SERVER__LISTEN", "127.0.0.1:9191")],
        None,
    );
    assert!(
        config.contains("listen = \"127.0.0.1:9191\""),
        "environment overrides the file: {config}"
    );
    assert!(config.contains("[redacted]") && !config.contains("super-secret-admin"));
    let bad_env = cli.run(
        &["print-config"],
        &[("GHLSYNC_SERVER__LISTEN", "nowhere")],
        None,
    );
    assert!(!bad_env.status.success());
    let message = String::from_utf8_lossy(&bad_env.stderr).to_lowercase();
    assert!(
        message.contains("listen") && message.contains("ghlsync_"),
        "{message}"
    );
}

/// The README's `routes add`, word for word: `--field` adds to the default names, so the
/// route still finds the lead's email (it once replaced them and refused every lead);
/// `--no-default-fields` says otherwise. The dedupe settings are kept and listed.
#[tokio::test]
async fn routes_add_as_the_readme_shows_accepts_leads() {
    use ghlsync_core::process::RouteAction;
    use ghlsync_store::Store;
    let cli = Cli::new();
    cli.ok(
        &[
            "locations",
            "add",
            "--id",
            "LOCATION_ID",
            "--name",
            "Acme",
            "--token-env",
            "GHL_TOKEN",
        ],
        &[("GHL_TOKEN", "pit-x")],
        None,
    );
    let readme = [
        "routes",
        "add",
        "--name",
        "leads",
        "--location",
        "LOCATION_ID",
        "--auth",
        "hmac",
        "--generate-secret",
        "--tag",
        "new-lead",
        "--field",
        "firstName=$.first_name",
        "--custom-field",
        "lead_score=$.score",
    ];
    cli.ok(&readme, &[], None);
    let mut only = readme.to_vec();
    only[3] = "only-listed";
    only.push("--no-default-fields");
    only.extend([
        "--dedupe-field",
        "$.event_id",
        "--dedupe-window-secs",
        "600",
    ]);
    cli.ok(&only, &[], None);
    let refused = cli.run(
        &[
            "routes",
            "add",
            "--name",
            "r",
            "--location",
            "LOCATION_ID",
            "--auth",
            "key",
            "--generate-secret",
            "--dedupe-field",
            "event_id",
        ],
        &[],
        None,
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--dedupe-field is a path"),
        "{refused:?}"
    );
    let listed = cli.ok(&["routes", "list"], &[], None);
    assert!(
        listed.contains("by X-Idempotency-Key or $.event_id, else the body within 600 s")
            && listed.contains("else the body within 86400 s"),
        "{listed}"
    );
    let url = format!("sqlite://{}", cli.path().join("ghlsync.db").display());
    let store = ghlsync_store::SqliteStore::connect(&url, ghlsync_store::Synchronous::Full)
        .await
        .unwrap();
    let lead = serde_json::json!({"email": "ana@acme.es", "first_name": "Ana", "score": 7});
    let RouteAction::UpsertContact(action) = store.route("leads").await.unwrap().unwrap().action;
    let sync = action
        .build(&lead)
        .expect("the README's route takes a lead");
    assert_eq!(sync.email.as_deref(), Some("ana@acme.es"));
    assert_eq!(sync.fields["firstName"], "Ana");
    let RouteAction::UpsertContact(only) =
        store.route("only-listed").await.unwrap().unwrap().action;
    assert!(
        only.check(&lead).is_err(),
        "only the listed fields are read"
    );
}

/// SQLite serves one process: a second `serve` on the same file stops at once, saying why,
/// while the first keeps running and CLI commands still work beside it.
#[test]
fn a_second_server_on_one_sqlite_file_is_refused() {
    let cli = Cli::new();
    cli.ok(&["migrate"], &[], None);
    let mut first = Command::new(env!("CARGO_BIN_EXE_ghlsync"))
        .arg("--config")
        .arg(&cli.config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cli.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first server has its lock once it logs that it is serving.
    let mut stderr = std::io::BufReader::new(first.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "the first server exited before serving");
        if line.contains("ghlsync serving") {
            break;
        }
    }
    let second = cli.run(&["serve", "--listen", "127.0.0.1:0"], &[], None);
    cli.ok(&["dlq", "list"], &[], None);
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("another ghlsync process is receiving events"),
        "{message}"
    );
}

#[test]
fn api_keys_are_created_once_listed_without_the_key_and_revoked() {
    let cli = Cli::new();
    cli.ok(&["migrate"], &[], None);
    let refused = cli.run(&["keys", "create", "--location", "nowhere"], &[], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no location nowhere"));
    cli.ok(
        &[
            "locations",
            "add",
            "--id",
            "loc1",
            "--name",
            "Acme",
            "--token-env",
            "TOKEN",
        ],
        &[("TOKEN", "pit-secret-token")],
        None,
    );
    let out = cli.ok(
        &["keys", "create", "--location", "loc1", "--name", "backend"],
        &[],
        None,
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key (shown once): "))
        .expect("the key is printed")
        .to_owned();
    assert!(key.starts_with("ghk_") && key.len() == 44, "{key}");
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap()
        .to_owned();
    let list = cli.ok(&["keys", "list"], &[], None);
    assert!(list.contains(&id) && list.contains("backend") && list.contains(&key[..12]));
    assert!(!list.contains(&key), "the key itself is never listed");
    cli.ok(&["keys", "revoke", &id], &[], None);
    assert!(
        !cli.run(&["keys", "revoke", &id], &[], None)
            .status
            .success()
    );
    let list = cli.ok(&["keys", "list"], &[], None);
    assert!(
        !list.lines().nth(1).unwrap().trim_end().ends_with(" -"),
        "{list}"
    );
}

#[test]
fn rules_are_checked_with_file_and_line_and_an_event_is_explained() {
    let cli = Cli::new();
    let bad = cli.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"x\"\non = \"user.nope\"\nadd_tags = [\"a\"]\n",
    )
    .unwrap();
    let out = cli.run(&["rules", "check", bad.to_str().unwrap()], &[], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:1: ", bad.display())) && err.contains("user.nope"),
        "{err}"
    );
    let pack = cli.ok(&["rules", "pack", "marketplace"], &[], None);
    let good = cli.path().join("marketplace.toml");
    std::fs::write(&good, &pack).unwrap();
    let checked = cli.ok(&["rules", "check", good.to_str().unwrap()], &[], None);
    assert!(checked.contains("no problems"), "{checked}");
    std::fs::write(
        cli.path().join("ghlsync.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[rules]\npacks = [\"marketplace\"]\n",
            cli.path().join("ghlsync.db").display()
        ),
    )
    .unwrap();
    let event = cli.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"type": "user.registered", "id": "e1", "occurred_at": "2026-11-21T10:00:00Z",
            "subject": "u1", "data": {"role": "experto", "email": "e@x.es"}}"#,
    )
    .unwrap();
    let explained = cli.ok(&["rules", "explain", event.to_str().unwrap()], &[], None);
    assert!(explained.contains("add tag exp-solicitud"), "{explained}");
    assert!(
        explained.contains("skipped \"empresa: registro\""),
        "{explained}"
    );
    assert!(
        explained.contains("lead score 20 → level global"),
        "{explained}"
    );
}

/// `explain` takes a GHL webhook too: the lead-scoring pack scores a contact GHL created,
/// component by component; a rule that forwards needs `forward.url`.
#[test]
fn a_ghl_webhook_is_explained_and_forwarding_needs_a_url() {
    let cli = Cli::new();
    let config = cli.path().join("ghlsync.toml");
    let db = cli.path().join("ghlsync.db");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[rules]\npacks = [\"lead-scoring\"]\n",
            db.display()
        ),
    )
    .unwrap();
    let webhook = cli.path().join("webhook.json");
    std::fs::write(
        &webhook,
        r#"{"type": "ContactCreate", "locationId": "L1", "id": "c1", "firstName": "John",
            "email": "john@example.com", "phone": "+15551234567", "source": "website",
            "timestamp": "2026-11-21T10:00:00.000Z", "webhookId": "wh-1"}"#,
    )
    .unwrap();
    let explained = cli.ok(&["rules", "explain", webhook.to_str().unwrap()], &[], None);
    assert!(
        explained.starts_with("ContactCreate wh-1 for ghl:c1:"),
        "{explained}"
    );
    assert!(explained.contains("set ai_score = 21"), "{explained}");
    assert!(
        explained.contains("lead score 21 (cold, confidence"),
        "{explained}"
    );
    assert!(explained.contains("contact details"), "{explained}");
    let rules = cli.path().join("forward.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"out\"\non = \"ContactUpdate\"\nforward = true\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[rules]\nfiles = [\"{}\"]\n",
            db.display(),
            rules.display()
        ),
    )
    .unwrap();
    // Any command that starts the service checks it.
    let out = cli.run(&["diagnose", "u1"], &[], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("forward.url is not set"),
        "{err}"
    );
}

#[test]
fn diagnose_and_resync_name_the_location_and_the_person_they_lack() {
    let cli = Cli::new();
    let out = cli.run(&["diagnose", "u1"], &[], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no location is registered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli.run(&["resync", "u1", "--location", "loc1"], &[], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown_subject"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `explain --route` takes a bridge route's body: what seed 003's bodies do in CloudTalk
/// and in GHL.
#[test]
fn bridge_bodies_are_explained_on_both_sides() {
    let cli = Cli::new();
    std::fs::write(
        cli.path().join("ghlsync.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[rules]\npacks = [\"cloudtalk-bridge\"]\n",
            cli.path().join("ghlsync.db").display()
        ),
    )
    .unwrap();
    let status = cli.path().join("status.json");
    std::fs::write(
        &status,
        r#"{"contact": {"id": "ghl_123456", "name": "Mario Rossi"}, "status": "customer",
            "previous_status": "lead", "status_reason": "Purchase completed"}"#,
    )
    .unwrap();
    let explained = cli.ok(
        &[
            "rules",
            "explain",
            status.to_str().unwrap(),
            "--route",
            "ghl-webhooks/status-change",
        ],
        &[],
        None,
    );
    assert!(
        explained.starts_with("ghl.status_changed explain for ghl:ghl_123456:"),
        "{explained}"
    );
    assert!(
        explained.contains("cloudtalk: add tag GHL-CUSTOMER"),
        "{explained}"
    );
    assert!(
        explained.contains(
            "cloudtalk: add note \"[GHL Status Change] lead → customer (Purchase completed)"
        ),
        "{explained}"
    );
    let call = cli.path().join("call.json");
    std::fs::write(
        &call,
        r#"{"call_uuid": "u-1", "external_number": 393513416607, "agent_name": "Roberto",
            "talking_time": 125, "status": "answered"}"#,
    )
    .unwrap();
    let explained = cli.ok(
        &[
            "rules",
            "explain",
            call.to_str().unwrap(),
            "--route",
            "/api/cloudtalk-webhooks/call-ended",
        ],
        &[],
        None,
    );
    assert!(
        explained.contains("add note \"[CloudTalk] Call ended: answered, 125 s, agent Roberto"),
        "{explained}"
    );
    assert!(
        explained.contains("set last_call_duration = 125"),
        "{explained}"
    );
    let out = cli.run(
        &[
            "rules",
            "explain",
            call.to_str().unwrap(),
            "--route",
            "cloudtalk-webhooks/ringing",
        ],
        &[],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cloudtalk-webhooks/call-ended"),
        "the error lists the routes"
    );
}

/// `bridges list` shows no secret; `bridges check` reaches CloudTalk with each bridge's key
/// and says what is wrong with the others.
#[test]
fn bridges_are_listed_and_checked() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ct = runtime.block_on(cloudtalk_sim::SimHandle::start()).unwrap();
    let creds = ct.add_company("Checked Calls");
    let cli = Cli::new();
    let write = |secret: &str| {
        std::fs::write(
            cli.path().join("ghlsync.toml"),
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[cloudtalk]\nbase_url = \"{}\"\n\
                 [[cloudtalk.bridges]]\nname = \"main\"\nlocation = \"loc-1\"\nkey_id = \"{}\"\n\
                 key_secret = \"{secret}\"\nwebhook_secret = \"cloudtalk-secret-0123456\"\n\
                 ghl_secret = \"ghl-webhook-key-0123456\"\n",
                cli.path().join("ghlsync.db").display(),
                ct.base_url(),
                creds.key_id,
            ),
        )
        .unwrap();
    };
    write(&creds.secret);
    let listed = cli.ok(&["bridges", "list"], &[], None);
    assert!(
        listed.contains("main") && listed.contains("loc-1"),
        "{listed}"
    );
    assert!(!listed.contains("cloudtalk-secret") && !listed.contains(&creds.secret));
    let out = cli.run(&["bridges", "check"], &[], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the location is not registered: {text}"
    );
    assert!(text.contains("loc-1 is not registered"), "{text}");
    assert!(
        text.contains("CloudTalk takes the key: 0 contacts; limit 60 per minute"),
        "{text}"
    );
    write("wrong-secret");
    let out = cli.run(&["bridges", "check", "--name", "main"], &[], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CloudTalk refused"), "{text}");
    let out = cli.run(&["bridges", "check", "--name", "other"], &[], None);
    assert!(!out.status.success());
    drop(runtime);
}

/// Owners of seed 004: the webhook key is shown once, listed by prefix only, and a rotation
/// replaces it; broadcasts move between their statuses as allowed; Do-Not-Call numbers are
/// read in the owner's region.
#[test]
fn owners_keys_broadcasts_and_dnc_from_the_command_line() {
    let cli = Cli::new();
    cli.ok(
        &[
            "locations",
            "add",
            "--id",
            "loc1",
            "--name",
            "Acme",
            "--token-env",
            "TOKEN",
        ],
        &[("TOKEN", "pit-abc")],
        None,
    );
    let added = cli.ok(
        &[
            "owners",
            "add",
            "--name",
            "Dialer One",
            "--location",
            "loc1",
            "--region",
            "US",
        ],
        &[],
        None,
    );
    let owner = added.split_whitespace().nth(1).unwrap().to_owned();
    assert!(owner.starts_with("own_"), "{added}");
    let key = added
        .lines()
        .find_map(|l| l.strip_prefix("webhook key (shown once): "))
        .unwrap()
        .to_owned();
    assert!(key.starts_with("whk_"), "{added}");
    let listed = cli.ok(&["owners", "list"], &[], None);
    assert!(
        listed.contains(&owner) && listed.contains(&key[..12]),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the key is shown once: {listed}");
    let rotated = cli.ok(&["owners", "rotate-key", "--owner", &owner], &[], None);
    let new_key = rotated
        .lines()
        .find_map(|l| l.strip_prefix("webhook key (shown once): "))
        .unwrap();
    assert_ne!(new_key, key);
    let listed = cli.ok(&["owners", "list"], &[], None);
    assert!(
        listed.contains(&new_key[..12]) && !listed.contains(&key[..12]),
        "{listed}"
    );
    let bad = cli.run(
        &[
            "owners",
            "add",
            "--name",
            "X",
            "--location",
            "loc1",
            "--timezone",
            "Mars/Base",
        ],
        &[],
        None,
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Mars/Base"));
    let unknown = cli.run(
        &["owners", "add", "--name", "X", "--location", "nowhere"],
        &[],
        None,
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no location nowhere"));

    let created = cli.ok(
        &[
            "broadcasts",
            "create",
            "--owner",
            &owner,
            "--name",
            "Spring promo",
            "--window",
            "09:00-20:00",
        ],
        &[],
        None,
    );
    let id = created.split_whitespace().nth(1).unwrap().to_owned();
    let listed = cli.ok(&["broadcasts", "list", "--owner", &owner], &[], None);
    assert!(
        listed.contains("Spring promo")
            && listed.contains("active")
            && listed.contains("09:00-20:00"),
        "{listed}"
    );
    cli.ok(
        &["broadcasts", "set", "--owner", &owner, &id, "paused"],
        &[],
        None,
    );
    cli.ok(
        &["broadcasts", "set", "--owner", &owner, &id, "active"],
        &[],
        None,
    );
    cli.ok(
        &["broadcasts", "set", "--owner", &owner, &id, "cancelled"],
        &[],
        None,
    );
    let again = cli.run(
        &["broadcasts", "set", "--owner", &owner, &id, "active"],
        &[],
        None,
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is cancelled; it cannot become active"),
        "cancelling is final"
    );
    let other = cli.run(
        &["broadcasts", "set", "--owner", "own_other", &id, "paused"],
        &[],
        None,
    );
    assert!(String::from_utf8_lossy(&other.stderr).contains("has no broadcast"));
    let bad_window = cli.run(
        &[
            "broadcasts",
            "create",
            "--owner",
            &owner,
            "--name",
            "x",
            "--window",
            "9-5",
        ],
        &[],
        None,
    );
    assert!(!bad_window.status.success());

    let dnc = cli.ok(
        &[
            "owners",
            "dnc",
            "--owner",
            &owner,
            "(201) 555-0123",
            "+12015550123",
        ],
        &[],
        None,
    );
    assert!(
        dnc.contains("1 number(s) added") && dnc.contains("(1 already on it)"),
        "{dnc}"
    );
    let refused = cli.run(&["owners", "dnc", "--owner", &owner, "12"], &[], None);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("\"12\""));
}

/// Setup Broadcast Fields from the command line creates the six fields once; the callback
/// commands count and queue outcomes, and a broadcast's queue shows where each stands.
#[test]
fn broadcast_fields_queue_and_callbacks_from_the_command_line() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(ghl_sim::Simulator::builder().start())
        .unwrap();
    let loc = sim.add_location(ghl_sim::LocationSpec::new("Dial Smart"));
    let cli = Cli::new();
    std::fs::write(
        cli.path().join("ghlsync.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ghl]\nbase_url = \"{}\"\n",
            cli.path().join("ghlsync.db").display(),
            sim.base_url(),
        ),
    )
    .unwrap();
    let token = [("TOKEN", loc.token.as_str())];
    let add = [
        "locations",
        "add",
        "--id",
        &loc.id,
        "--name",
        "Dial Smart",
        "--token-env",
        "TOKEN",
    ];
    cli.ok(&add, &token, None);
    let first = cli.ok(&["broadcasts", "setup-fields"], &[], None);
    assert_eq!(first.matches(" created ").count(), 6, "{first}");
    assert!(first.contains("broadcast_callback_time"), "{first}");
    let second = cli.ok(
        &["broadcasts", "setup-fields", "--location", &loc.id],
        &[],
        None,
    );
    assert_eq!(second.matches(" existed ").count(), 6, "{second}");

    let added = cli.ok(
        &["owners", "add", "--name", "D", "--location", &loc.id],
        &[],
        None,
    );
    let owner = added.split_whitespace().nth(1).unwrap().to_owned();
    let created = cli.ok(
        &["broadcasts", "create", "--owner", &owner, "--name", "B"],
        &[],
        None,
    );
    let id = created.split_whitespace().nth(1).unwrap().to_owned();
    let status = cli.ok(
        &[
            "broadcasts",
            "callback",
            "status",
            "--owner",
            &owner,
            "--broadcast",
            &id,
        ],
        &[],
        None,
    );
    let counts: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(counts["total"], 0, "{status}");
    assert_eq!(counts["by_status"]["pending"], 0, "{status}");
    let run = cli.ok(&["broadcasts", "callback", "process"], &[], None);
    assert!(run.starts_with("0 final outcome(s) queued"), "{run}");
    let alone = cli.run(
        &["broadcasts", "callback", "process", "--broadcast", &id],
        &[],
        None,
    );
    assert!(
        !alone.status.success(),
        "a broadcast is named with its owner"
    );
    let queue = cli.run(
        &["broadcasts", "queue", "--owner", "own_other", &id],
        &[],
        None,
    );
    assert!(String::from_utf8_lossy(&queue.stderr).contains("has no broadcast"));
    let done = cli.ok(
        &["broadcasts", "set", "--owner", &owner, &id, "completed"],
        &[],
        None,
    );
    assert!(done.contains("0 final outcome(s) queued for GHL"), "{done}");
    drop(runtime);
}
