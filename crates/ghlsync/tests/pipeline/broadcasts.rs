//! Seed 004 end to end: a GHL workflow fills a broadcast through the trigger, the dialer
//! simulator leases and calls inside the calling window (an injected clock), reports signed
//! outcomes, and the outcomes land in GHL as tags, fields and notes, once.

use std::collections::BTreeMap;
use std::time::Duration;

use dialer_sim::{Engine, EngineConfig, MAGIC_NUMBERS};
use ghl::ContactId;
use ghl::contacts::{ContactFields, NewContact};
use ghlsync_core::broadcast::{CallingWindow, Owner, normalize_phone};
use ghlsync_store::Store;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::{ADMIN_TOKEN, Harness};

struct Dialer {
    owner: Owner,
    webhook_key: String,
    engine_secret: String,
}

async fn owner(h: &Harness, name: &str) -> Dialer {
    let (owner, key) = ghlsync::registry::add_owner(
        h.app.store(),
        name,
        &h.loc.id.as_str().into(),
        Some("US"),
        "America/New_York",
    )
    .await
    .unwrap();
    let engine = ghlsync::registry::rotate_engine_secret(h.app.store(), h.app.cipher(), &owner.id)
        .await
        .unwrap();
    Dialer {
        owner,
        webhook_key: key.secret.expose_secret().to_owned(),
        engine_secret: engine.secret.expose_secret().to_owned(),
    }
}

async fn trigger(h: &Harness, body: Value) -> (u16, Value) {
    let r = h
        .http
        .post(format!("{}/functions/v1/ghl-webhook-trigger", h.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn callback(h: &Harness, body: Value) -> Value {
    h.http
        .post(format!("{}/functions/v1/ghl-batch-callback", h.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Moves the broadcasts' clock to `hour`:00 tomorrow in New York (ahead of every number
/// queued now).
fn set_new_york_hour(h: &Harness, hour: i8) {
    let now = h.app.broadcast_now();
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let local = jiff::Timestamp::from_millisecond(now).unwrap().to_zoned(tz);
    let target = local
        .date()
        .tomorrow()
        .unwrap()
        .to_datetime(jiff::civil::Time::constant(hour, 0, 0, 0))
        .to_zoned(local.time_zone().clone())
        .unwrap();
    h.app
        .shift_broadcast_clock(target.timestamp().as_millisecond() - now);
}

#[tokio::test]
async fn a_workflow_fills_a_broadcast_the_dialer_calls_it_and_outcomes_land_in_ghl() {
    let h = Harness::start(|c| c.broadcasts.callback_linger_ms = 100).await;
    let ghl = h.app.ghl().with_token(h.loc.token.clone());

    // Setup Broadcast Fields: created once, found the second time.
    let setup = |_: ()| {
        h.http
            .post(format!(
                "{}/admin/locations/{}/broadcast-fields",
                h.base, h.loc.id
            ))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let first: Value = setup(()).await.unwrap().json().await.unwrap();
    assert_eq!(first["created"].as_array().unwrap().len(), 6, "{first}");
    let second: Value = setup(()).await.unwrap().json().await.unwrap();
    assert_eq!(second["existed"].as_array().unwrap().len(), 6, "{second}");
    let field_ids: BTreeMap<String, String> = first["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[1].as_str().unwrap().to_owned(),
                p[0].as_str().unwrap().to_owned(),
            )
        })
        .collect();

    let d = owner(&h, "Dial Smart").await;
    let other = owner(&h, "Someone else").await;
    let broadcast = ghlsync::registry::create_broadcast(
        h.app.store(),
        &d.owner.id,
        "Friday Campaign",
        2,
        0,
        CallingWindow::default(),
    )
    .await
    .unwrap();

    // The magic numbers as GHL contacts, one DND'd contact and one number on the DNC list.
    let mut contacts: BTreeMap<String, ContactId> = BTreeMap::new();
    for (i, (phone, _)) in MAGIC_NUMBERS.iter().enumerate() {
        let mut c = NewContact::new(h.loc.id.as_str());
        c.fields = ContactFields {
            phone: Some((*phone).to_owned()),
            email: Some(format!("p{i}@example.com")),
            ..ContactFields::default()
        };
        let created = ghl.create_contact(&c).await.unwrap().into_data();
        contacts.insert((*phone).to_owned(), created.id);
    }
    let mut dnd = NewContact::new(h.loc.id.as_str());
    dnd.fields = ContactFields {
        phone: Some("+12015550107".into()),
        dnd: Some(true),
        ..ContactFields::default()
    };
    let dnd = ghl.create_contact(&dnd).await.unwrap().into_data();
    h.app
        .store()
        .add_dnc(
            &d.owner.id,
            &[normalize_phone("201-555-0108", Some("US")).unwrap()],
            0,
        )
        .await
        .unwrap();

    let add = |phone: &str, contact: Option<&ContactId>| {
        json!({
            "action": "add_to_broadcast", "webhook_key": d.webhook_key,
            "broadcast_id": broadcast.id, "phone": phone, "name": "Pat Doe",
            "ghl_contact_id": contact.map(ToString::to_string).unwrap_or_default(),
            "email": "",
        })
    };
    let mut positions = Vec::new();
    for (phone, id) in &contacts {
        // National spelling: read in the owner's region.
        let national = &phone[2..];
        let (status, body) = trigger(&h, add(national, Some(id))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true, "{body}");
        assert_eq!(body["broadcast_name"], "Friday Campaign");
        assert_eq!(body["message"], "Contact added to broadcast queue");
        positions.push(body["position"].as_i64().unwrap());
    }
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
    // A GHL retry of the same request adds nothing.
    let first_phone = contacts.keys().next().unwrap().clone();
    let (_, again) = trigger(&h, add(&first_phone, contacts.get(&first_phone))).await;
    assert_eq!(
        (again["duplicate"].clone(), again["position"].clone()),
        (json!(true), json!(1)),
        "{again}"
    );
    let (status, body) = trigger(&h, add("+12015550107", Some(&dnd.id))).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("dnd")),
        "{body}"
    );
    let (_, body) = trigger(&h, add("(201) 555-0108", None)).await;
    assert_eq!(body["reason"], "dnc", "{body}");
    let (status, body) = trigger(&h, add("call me", None)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("phone")),
        "{body}"
    );
    let mut wrong = add("+12015550100", None);
    wrong["webhook_key"] = json!("whk_wrong");
    assert_eq!(trigger(&h, wrong).await.0, 401);
    // Another owner's key does not see this broadcast: 404, not 403.
    let mut foreign = add("+12015550100", None);
    foreign["webhook_key"] = json!(other.webhook_key);
    let (status, body) = trigger(&h, foreign).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("broadcast_not_found"))
    );
    let (_, listed) = trigger(
        &h,
        json!({"action": "list_broadcasts", "webhook_key": d.webhook_key}),
    )
    .await;
    assert_eq!(
        listed["broadcasts"][0]["id"],
        json!(broadcast.id),
        "{listed}"
    );
    let (_, test) = trigger(&h, json!({"action": "test", "webhook_key": d.webhook_key})).await;
    assert_eq!(test["success"], true);

    // 03:00 in New York: every number waits, none is dropped.
    set_new_york_hour(&h, 3);
    let mut engine = Engine::new(EngineConfig {
        batch: 20,
        ..EngineConfig::new(
            &h.base,
            d.owner.id.as_str(),
            &d.engine_secret,
            broadcast.id.as_str(),
        )
    });
    let night = engine.run_round().await.unwrap();
    assert!(night.lease.items.is_empty(), "{:?}", night.lease.items);
    let opens = night.lease.next_due_at.expect("the numbers wait for 08:00");
    let wait_h = (opens.as_millisecond() - h.app.broadcast_now()) as f64 / 3_600_000.0;
    assert!((4.9..=5.1).contains(&wait_h), "opens in {wait_h} h");
    // The other owner's engine cannot lease this broadcast.
    let mut intruder = Engine::new(EngineConfig::new(
        &h.base,
        other.owner.id.as_str(),
        &other.engine_secret,
        broadcast.id.as_str(),
    ));
    assert_eq!(intruder.run_round().await.unwrap_err().status(), Some(404));

    // Noon (a day on): called; no-answer and busy once more (2 attempts), then final.
    set_new_york_hour(&h, 12);
    h.sim.clear_audit();
    let stats = engine
        .run_until_idle(20, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(stats.calls, 9, "{stats:?}");

    // Outcomes reach GHL as they arrive.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = callback(
            &h,
            json!({"action": "get_status", "broadcast_id": broadcast.id}),
        )
        .await;
        if status["counts"]["sent"] == 7 || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["counts"]["sent"], 7, "{status}");
    // The callback's jobs start together and miss the field cache together: one read.
    let reads = h
        .sim
        .audit(0)
        .iter()
        .filter(|a| a.method == "GET" && a.path.ends_with("/customFields"))
        .count();
    assert_eq!(reads, 1, "the location's fields read once");
    for (phone, scripted) in MAGIC_NUMBERS {
        let id = &contacts[phone];
        let c = ghl.get_contact(id).await.unwrap().into_data();
        let tag = ghlsync_core::broadcast::CallOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == scripted.outcome.as_str())
            .unwrap()
            .tag();
        assert!(c.tags.iter().any(|t| t == tag), "{phone}: {:?}", c.tags);
        let values: BTreeMap<&str, &Value> = c
            .custom_fields
            .iter()
            .filter_map(|f| Some((field_ids.get(f.id.as_str())?.as_str(), &f.value)))
            .collect();
        assert_eq!(
            values["broadcast_outcome"],
            &json!(scripted.outcome.as_str()),
            "{phone}"
        );
        assert_eq!(values["broadcast_name"], &json!("Friday Campaign"));
        let notes = ghl.list_notes(id).await.unwrap().into_data();
        assert_eq!(notes.len(), 1, "{phone}: one note, {notes:?}");
        let body = notes[0].body.clone().unwrap_or_default();
        assert!(body.contains("Friday Campaign"), "{body}");
        if matches!(scripted.outcome.as_str(), "no_answer" | "busy") {
            assert!(body.contains("(max retries)"), "{body}");
        }
    }
    // A second run has nothing left to send.
    let again = callback(
        &h,
        json!({"action": "process_broadcast", "broadcast_id": broadcast.id}),
    )
    .await;
    assert_eq!(again["processed"], 0, "{again}");
}

#[tokio::test]
async fn reports_are_verified_and_recorded_once_and_the_trigger_has_its_limit() {
    let h = Harness::start(|c| c.broadcasts.trigger_per_minute = 3).await;
    let d = owner(&h, "Dial Smart").await;
    let broadcast = ghlsync::registry::create_broadcast(
        h.app.store(),
        &d.owner.id,
        "Limits",
        1,
        0,
        CallingWindow {
            start: jiff::civil::Time::constant(0, 0, 0, 0),
            end: jiff::civil::Time::constant(23, 59, 59, 0),
        },
    )
    .await
    .unwrap();
    let add = json!({
        "action": "add_to_broadcast", "webhook_key": d.webhook_key,
        "broadcast_id": broadcast.id, "phone": "+12015550100",
    });
    // Seed 004's limit per key, here 3 per minute: the fourth is a 429 with Retry-After.
    let mut answers = Vec::new();
    for _ in 0..4 {
        let r = h
            .http
            .post(format!("{}/api/v1/broadcasts/trigger", h.base))
            .json(&add)
            .send()
            .await
            .unwrap();
        answers.push((
            r.status().as_u16(),
            r.headers().get("retry-after").is_some(),
        ));
    }
    assert_eq!(
        answers,
        vec![(200, false), (200, false), (200, false), (429, true)]
    );

    // Noon in New York, so the item is due whatever the hour here.
    set_new_york_hour(&h, 12);
    let client = dialer::Client::new(&h.base, d.owner.id.as_str(), &d.engine_secret);
    let lease = client
        .lease(&dialer::LeaseRequest::new(broadcast.id.as_str()))
        .await
        .unwrap();
    assert_eq!(lease.items.len(), 1);
    let report = dialer::OutcomeReport {
        event_id: "evt-1".into(),
        queue_item_id: lease.items[0].queue_item_id.clone(),
        lease_id: Some(lease.lease_id.clone()),
        outcome: dialer::Outcome::Answered,
        duration_seconds: 12,
        called_at: jiff::Timestamp::now(),
        dtmf_pressed: None,
        callback_requested: false,
        callback_time: None,
    };
    let body = serde_json::to_vec(&report).unwrap();
    let now = jiff::Timestamp::now().as_second();
    // Stale, tampered and wrongly keyed reports are refused before anything is read.
    let stale = client
        .report_raw(body.clone(), now - 301)
        .await
        .unwrap_err();
    assert_eq!(stale.status(), Some(401), "{stale}");
    let signature = dialer::sign(d.engine_secret.as_bytes(), now, &body);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'1').unwrap();
    tampered[at] = b'9';
    let err = client
        .report_signed(tampered, &now.to_string(), &signature)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let wrong = dialer::Client::new(&h.base, d.owner.id.as_str(), "dsk_wrong");
    assert_eq!(wrong.report(&report).await.unwrap_err().status(), Some(401));
    // The genuine report once; its repeat is a duplicate and changes nothing.
    let first = client.report(&report).await.unwrap();
    assert_eq!(first.status, dialer::ReceiptStatus::Recorded);
    assert!(first.final_outcome);
    let again = client.report(&report).await.unwrap();
    assert_eq!(again.status, dialer::ReceiptStatus::Duplicate);
    // Another event for a final item is refused as such.
    let late = dialer::OutcomeReport {
        event_id: "evt-2".into(),
        ..report.clone()
    };
    assert_eq!(client.report(&late).await.unwrap_err().status(), Some(409));
    // The item is final and has no GHL contact: nothing waits for GHL.
    let status = callback(
        &h,
        json!({"action": "get_status", "broadcast_id": broadcast.id}),
    )
    .await;
    assert_eq!(status["total"], 0, "{status}");
    // The engine secret acts for its owner alone on the batch callback.
    let r = h
        .http
        .post(format!("{}/functions/v1/ghl-batch-callback", h.base))
        .bearer_auth(&d.engine_secret)
        .json(&json!({"action": "get_status", "broadcast_id": "bc_not_mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

async fn admin(
    h: &Harness,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = h
        .http
        .request(method, format!("{}/admin{path}", h.base))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn owners_and_broadcasts_are_managed_on_the_admin_api_and_completing_calls_back() {
    use reqwest::Method;
    let h = Harness::start(|c| c.broadcasts.callback = ghlsync::config::CallbackMode::Manual).await;
    let ghl = h.app.ghl().with_token(h.loc.token.clone());
    let post = |path: String, body: Value| admin(&h, Method::POST, path, Some(body));

    // Owners: bad input names its field; the key and secret are shown once, on creation.
    let (status, body) = post(
        "/owners".into(),
        json!({"name": "Dial Smart", "location_id": "nope"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (404, Some("location_id")),
        "{body}"
    );
    let loc = h.loc.id.to_string();
    let (status, body) = post(
        "/owners".into(),
        json!({"name": "Dial Smart", "location_id": loc, "timezone": "Mars/Olympus"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("timezone")),
        "{body}"
    );
    let (status, body) = post(
        "/owners".into(),
        json!({"name": "Dial Smart", "location_id": loc, "colour": 1}),
    )
    .await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (status, created) = post(
        "/owners".into(),
        json!({"name": "Dial Smart", "location_id": loc, "region": "US"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let owner = created["owner"]["id"].as_str().unwrap().to_owned();
    let key = created["webhook_key"].as_str().unwrap().to_owned();
    let secret = created["engine_secret"].as_str().unwrap().to_owned();
    let (_, listed) = admin(&h, Method::GET, "/owners".into(), None).await;
    let text = listed.to_string();
    assert!(
        text.contains(&key[..12]),
        "the key's prefix is listed: {text}"
    );
    assert!(
        !text.contains(&key) && !text.contains(&secret),
        "never the secrets: {text}"
    );
    let (status, body) = post(
        format!("/owners/{owner}/dnc"),
        json!({"numbers": ["201-555-0108", "no"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("numbers[1]")),
        "{body}"
    );
    let (_, body) = post(
        format!("/owners/{owner}/dnc"),
        json!({"numbers": ["201-555-0108"]}),
    )
    .await;
    assert_eq!(body["added"], 1, "{body}");

    // Broadcasts.
    let broadcasts = format!("/owners/{owner}/broadcasts");
    for (bad, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "B", "window": "9-5"}), "window"),
        (json!({"name": "B", "max_attempts": 0}), "max_attempts"),
    ] {
        let (status, body) = post(broadcasts.clone(), bad).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let (status, body) = post(broadcasts.clone(), json!({"name": "Admin Campaign"})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["broadcast"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["broadcast"]["max_attempts"], 3);
    let (status, body) = admin(
        &h,
        Method::GET,
        format!("/owners/own_other/broadcasts/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (404, Some("owner")),
        "{body}"
    );
    let (status, body) = post(format!("{broadcasts}/{id}/explode"), json!({})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (404, Some("action")),
        "{body}"
    );

    // Two numbers: one with a GHL contact, one without (its outcome has nowhere to go).
    let mut c = NewContact::new(h.loc.id.as_str());
    c.fields.phone = Some(MAGIC_NUMBERS[0].0.to_owned());
    let contact = ghl.create_contact(&c).await.unwrap().into_data();
    for (phone, contact) in [
        (MAGIC_NUMBERS[0].0, contact.id.to_string()),
        (MAGIC_NUMBERS[1].0, String::new()),
    ] {
        let (status, body) = trigger(
            &h,
            json!({"action": "add_to_broadcast", "webhook_key": key, "broadcast_id": id,
                   "phone": phone, "ghl_contact_id": contact}),
        )
        .await;
        assert_eq!(
            (status, body["success"].clone()),
            (200, json!(true)),
            "{body}"
        );
    }

    // Paused: nothing is leased. Resumed: both are called (at noon in their zone).
    set_new_york_hour(&h, 12);
    let (_, body) = post(format!("{broadcasts}/{id}/pause"), json!({})).await;
    assert_eq!(body["broadcast"]["status"], "paused", "{body}");
    let mut engine = Engine::new(EngineConfig::new(&h.base, &owner, &secret, &id));
    assert!(engine.run_round().await.unwrap().lease.items.is_empty());
    let (_, body) = post(format!("{broadcasts}/{id}/resume"), json!({})).await;
    assert_eq!(body["broadcast"]["status"], "active", "{body}");
    let stats = engine
        .run_until_idle(10, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(stats.calls, 2, "{stats:?}");

    // Manual mode: the outcomes wait until the broadcast completes.
    let queue = |_: ()| admin(&h, Method::GET, format!("{broadcasts}/{id}/queue"), None);
    let statuses = |q: &Value| -> Vec<Value> {
        q["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["ghl_callback_status"].clone())
            .collect()
    };
    let (_, q) = queue(()).await;
    assert_eq!(
        statuses(&q),
        vec![json!("pending"), json!("skipped")],
        "{q}"
    );
    let (_, done) = post(format!("{broadcasts}/{id}/complete"), json!({})).await;
    assert_eq!(
        (
            done["broadcast"]["status"].clone(),
            done["callback"]["taken"].clone()
        ),
        (json!("completed"), json!(1)),
        "{done}"
    );
    let (status, body) = post(format!("{broadcasts}/{id}/resume"), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("status_conflict")),
        "{body}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let q = loop {
        let (_, q) = queue(()).await;
        if statuses(&q)[0] == "sent" || std::time::Instant::now() > deadline {
            break q;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(statuses(&q), vec![json!("sent"), json!("skipped")], "{q}");
    let tags = ghl.get_contact(&contact.id).await.unwrap().into_data().tags;
    assert!(tags.iter().any(|t| t == "broadcast_answered"), "{tags:?}");
    let (_, cb) = admin(
        &h,
        Method::GET,
        format!("{broadcasts}/{id}/callbacks"),
        None,
    )
    .await;
    assert_eq!(cb["counts"]["by_status"]["sent"], 1, "{cb}");

    // A new webhook key: the old one stops at once.
    let (_, rotated) = post(format!("/owners/{owner}/webhook-key"), json!({})).await;
    let new_key = rotated["webhook_key"].as_str().unwrap();
    assert_eq!(
        trigger(&h, json!({"action": "test", "webhook_key": key}))
            .await
            .0,
        401
    );
    assert_eq!(
        trigger(&h, json!({"action": "test", "webhook_key": new_key}))
            .await
            .0,
        200
    );
}
