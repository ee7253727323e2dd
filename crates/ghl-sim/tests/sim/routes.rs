//! The routes imports, bulk edits and the official SDK call beyond the pipeline's own:
//! the deprecated contact list, bulk tags, one custom field, a location, the messages
//! export; and GHL's 404 for every request no route takes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

async fn json_of(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_deprecated_contact_list_pages_newest_first_with_live_ghls_meta() {
    let env = Env::new().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(env.contact(&format!("p{i:02}@example.com")).await);
    }
    ids.reverse();
    let list = |query: Vec<(&str, String)>| {
        let mut q = vec![("locationId", env.loc.id.clone())];
        q.extend(query);
        env.ghl(Method::GET, "/contacts/").query(&q)
    };
    let (status, first) = json_of(list(vec![])).await;
    assert_eq!(status, 200, "{first}");
    let page: Vec<&str> = first["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, ids[..20], "20 by default, newest first");
    assert_eq!(first["count"], 25);
    let meta = &first["meta"];
    assert_eq!(meta["total"], 25);
    assert_eq!(meta["startAfterId"], ids[19].as_str());
    assert_eq!(meta["currentPage"], 1);
    assert_eq!(meta["nextPage"], 2);
    assert!(meta["prevPage"].is_null());
    assert!(
        meta["nextPageUrl"]
            .as_str()
            .unwrap()
            .contains(&format!("startAfterId={}", ids[19]))
    );
    assert_eq!(first["contacts"][0]["email"], "p24@example.com");
    let (_, second) = json_of(list(vec![
        ("startAfter", meta["startAfter"].to_string()),
        ("startAfterId", ids[19].clone()),
    ]))
    .await;
    let rest: Vec<&str> = second["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ids[20..], "the rest, nothing twice");
    assert!(second["meta"]["nextPageUrl"].is_null());
    assert!(second["meta"]["nextPage"].is_null());
    let (_, found) = json_of(list(vec![("query", "P07@".into())])).await;
    assert_eq!(found["count"], 1);
    let (_, small) = json_of(list(vec![("limit", "100".into())])).await;
    assert_eq!(small["contacts"].as_array().unwrap().len(), 25);
    let (status, e) = json_of(list(vec![("limit", "101".into())])).await;
    assert_eq!(
        (status, e["message"].clone()),
        (422, json!(["limit must not be greater than 100"]))
    );
    let (status, e) = json_of(env.ghl(Method::GET, "/contacts/")).await;
    assert_eq!(
        (status, e["message"].clone()),
        (422, json!(["locationId should not be empty"]))
    );
}

#[tokio::test]
async fn bulk_tag_updates_answer_for_each_contact() {
    let env = Env::new().await;
    let a = env.contact("a@example.com").await;
    let b = env.contact("b@example.com").await;
    let other = env.sim.add_location(ghl_sim::LocationSpec::new("Other"));
    let foreign = {
        let r = env
            .http
            .post(env.url("/contacts/"))
            .bearer_auth(&other.token)
            .header("Version", "2021-07-28")
            .json(&json!({"locationId": other.id, "email": "x@example.com"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["contact"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (status, added) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/add")
            .json(&json!({"contacts": [a, b, "abcdef", foreign], "tags": ["VIP", "new"], "locationId": env.loc.id})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["errorCount"], 2);
    assert_eq!(added["succeded"], false);
    let responses = added["responses"].as_array().unwrap();
    assert_eq!(responses[0]["type"], "success");
    assert_eq!(responses[0]["tagsAdded"], json!(["vip", "new"]));
    assert_eq!(
        responses[2]["message"],
        "contact id is not a valid firebase id"
    );
    assert_eq!(
        responses[3]["message"],
        "contact does not belong to location"
    );
    let (_, removed) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/remove")
            .json(&json!({"contacts": [a], "tags": ["vip"], "locationId": env.loc.id})),
    )
    .await;
    assert_eq!(removed["responses"][0]["tagsRemoved"], json!(["vip"]));
    let (_, cleared) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/remove")
            .json(&json!({"contacts": [b], "tags": [], "locationId": env.loc.id, "removeAllTags": true})),
    )
    .await;
    assert_eq!(cleared["responses"][0]["oldTags"], json!(["vip", "new"]));
    let (_, contact) = json_of(env.ghl(Method::GET, &format!("/contacts/{b}"))).await;
    assert_eq!(contact["contact"]["tags"], json!([]));
    let (status, _) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/add")
            .json(&json!({"contacts": [a], "tags": [], "locationId": env.loc.id, "removeAllTags": true})),
    )
    .await;
    assert_eq!(status, 400, "removeAllTags only removes");
    let (status, e) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/toggle")
            .json(&json!({"contacts": [a], "tags": ["x"], "locationId": env.loc.id})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    let (status, e) = json_of(
        env.ghl(Method::POST, "/contacts/bulk/tags/update/add")
            .json(&json!({"contacts": [a], "locationId": env.loc.id})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(e["message"][0], "tags should not be empty");
}

#[tokio::test]
async fn one_custom_field_by_id_or_key_is_read_updated_and_deleted() {
    let env = Env::new().await;
    let id = env.loc.field_id("lead_score").unwrap().to_owned();
    let base = format!("/locations/{}/customFields", env.loc.id);
    let (status, by_id) = json_of(env.ghl(Method::GET, &format!("{base}/{id}"))).await;
    assert_eq!(status, 200);
    let (_, by_key) = json_of(env.ghl(Method::GET, &format!("{base}/contact.lead_score"))).await;
    assert_eq!(by_id, by_key);
    assert_eq!(by_id["customField"]["fieldKey"], "contact.lead_score");
    let (status, updated) = json_of(
        env.ghl(Method::PUT, &format!("{base}/{id}"))
            .json(&json!({"name": "Score", "placeholder": "0-100"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["customField"]["name"], "Score");
    assert_eq!(
        updated["customField"]["fieldKey"], "contact.lead_score",
        "the key stays"
    );
    let (status, e) = json_of(
        env.ghl(Method::PUT, &format!("{base}/{id}"))
            .json(&json!({"placeholder": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(e["message"][0], "name should not be empty");
    let contact = env.contact("v@example.com").await;
    env.ghl(Method::PUT, &format!("/contacts/{contact}"))
        .json(&json!({"customFields": [{"id": id, "field_value": 7}]}))
        .send()
        .await
        .unwrap();
    let (status, deleted) = json_of(env.ghl(Method::DELETE, &format!("{base}/{id}"))).await;
    assert_eq!((status, deleted), (200, json!({"succeded": true})));
    let (_, after) = json_of(env.ghl(Method::GET, &format!("/contacts/{contact}"))).await;
    assert_eq!(
        after["contact"]["customFields"],
        json!([]),
        "its values went with it"
    );
    let (status, _) = json_of(env.ghl(Method::GET, &format!("{base}/{id}"))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_location_is_read_with_its_token_or_its_agencys() {
    let env = Env::new().await;
    let (status, own) = json_of(env.ghl(Method::GET, &format!("/locations/{}", env.loc.id))).await;
    assert_eq!(status, 200);
    assert_eq!(own["location"]["name"], "Acme");
    assert_eq!(own["location"]["timezone"], "UTC");
    assert_eq!(own["location"]["settings"]["allowDuplicateContact"], false);
    let other = env.sim.add_location(ghl_sim::LocationSpec::new("Other"));
    let (status, _) = json_of(env.ghl(Method::GET, &format!("/locations/{}", other.id))).await;
    assert_eq!(status, 403, "another location's");
    let (company, agency_token, child) = env.sim.with_world(|w| {
        let company = w.add_company("Agency");
        let mut spec = ghl_sim::LocationSpec::new("Child").timezone("Europe/Madrid");
        spec.company_id = Some(company.clone());
        let child = w.create_location(&spec);
        let token = w.add_private_token(ghl_sim::Resource::Company(company.clone()));
        (company, token, child)
    });
    let agency = |id: &str| {
        env.http
            .get(env.url(&format!("/locations/{id}")))
            .bearer_auth(&agency_token)
            .header("Version", "2021-07-28")
    };
    let (status, child_location) = json_of(agency(&child.id)).await;
    assert_eq!(status, 200);
    assert_eq!(child_location["location"]["companyId"], company.as_str());
    assert_eq!(child_location["location"]["timezone"], "Europe/Madrid");
    let (status, _) = json_of(agency(&env.loc.id)).await;
    assert_eq!(status, 403, "a location of another agency");
}

#[tokio::test]
async fn the_messages_export_pages_with_its_cursor_and_filters() {
    let env = Env::new().await;
    let contact = env.contact("caller@example.com").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let call = ghl_sim::CallSpec {
            contact_id: contact.clone(),
            direction: if i % 2 == 0 { "inbound" } else { "outbound" }.into(),
            duration_s: 10 + i,
            status: "completed".into(),
            transcript: Vec::new(),
        };
        ids.push(env.sim.add_call(&env.loc.id, &call).unwrap().1);
    }
    ids.reverse();
    let export = |q: Vec<(&str, String)>| {
        let mut query = vec![("locationId", env.loc.id.clone())];
        query.extend(q);
        env.http
            .get(env.url("/conversations/messages/export"))
            .query(&query)
            .bearer_auth(&env.loc.token)
            .header("Version", "2021-04-15")
    };
    let (status, first) = json_of(export(vec![("limit", "10".into())])).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["total"], 12);
    let got: Vec<&str> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[..10], "newest first");
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (_, second) = json_of(export(vec![("limit", "10".into()), ("cursor", cursor)])).await;
    let got: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[10..]);
    assert!(second.get("nextCursor").is_none(), "the last page");
    let (_, asc) = json_of(export(vec![("sortOrder", "asc".into())])).await;
    assert_eq!(asc["messages"][0]["id"], ids[11].as_str());
    let (_, sms) = json_of(export(vec![("channel", "SMS".into())])).await;
    assert_eq!(sms["total"], 0, "the simulator's messages are calls");
    let (_, calls) = json_of(export(vec![("channel", "Call".into())])).await;
    assert_eq!(calls["total"], 12);
    for (name, value, message) in [
        ("limit", "5", "limit must not be less than 10"),
        ("limit", "501", "limit must not be greater than 500"),
        (
            "channel",
            "Fax",
            "channel must be one of the following values: Call, SMS, Email, WhatsApp, Instagram, Facebook",
        ),
    ] {
        let (status, e) = json_of(export(vec![(name, value.into())])).await;
        assert_eq!((status, e["message"].clone()), (422, json!([message])));
    }
    let (status, _) = json_of(export(vec![("cursor", "not-a-cursor".into())])).await;
    assert_eq!(status, 400);
}

/// Every request no route takes, a wrong method on a known path included, answers GHL's
/// NestJS 404 (`Cannot GET /x`), never axum's bare 405.
#[tokio::test]
async fn unmatched_requests_answer_ghls_404() {
    let env = Env::new().await;
    let contact = env.contact("m@example.com").await;
    for (method, path) in [
        (Method::PATCH, format!("/contacts/{contact}")),
        (Method::GET, "/contacts/upsert".to_owned()),
        (Method::DELETE, "/contacts/search".to_owned()),
        (Method::GET, "/nothing/here".to_owned()),
    ] {
        let (status, body) = json_of(env.ghl(method.clone(), &path)).await;
        assert_eq!(
            (status, body),
            (
                404,
                json!({"statusCode": 404, "message": format!("Cannot {method} {path}"), "error": "Not Found"})
            ),
            "{method} {path}"
        );
    }
}
