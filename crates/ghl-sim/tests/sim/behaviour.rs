//! GHL's edge and validation behaviour, checked with raw HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

#[tokio::test]
async fn version_header_is_required_and_checked() {
    let env = Env::new().await;
    let r = env
        .http
        .get(env.url("/opportunities/pipelines"))
        .query(&[("locationId", &env.loc.id)])
        .bearer_auth(&env.loc.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "version header was not found.");

    let r = env
        .http
        .get(env.url("/opportunities/pipelines"))
        .query(&[("locationId", &env.loc.id)])
        .bearer_auth(&env.loc.token)
        .header("Version", "2020-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "version header is invalid"
    );

    // The SDK's default version is accepted too.
    let r = env
        .http
        .get(env.url("/opportunities/pipelines"))
        .query(&[("locationId", &env.loc.id)])
        .bearer_auth(&env.loc.token)
        .header("Version", "2023-02-21")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bearer_token_is_required() {
    let env = Env::new().await;
    let r = env
        .http
        .get(env.url("/contacts/x"))
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"statusCode": 401, "message": "Invalid JWT", "error": "Unauthorized"})
    );
}

#[tokio::test]
async fn unknown_properties_and_bad_types_are_422_with_a_message_list() {
    let env = Env::new().await;
    let r = env
        .ghl(Method::POST, "/contacts/")
        .json(&json!({"locationId": env.loc.id, "additionalEmails": [{"email": "x@y.z"}], "dnd": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Unprocessable Entity");
    assert_eq!(
        body["message"],
        json!([
            "property additionalEmails should not exist",
            "dnd must be a boolean value"
        ])
    );
    // Update takes companyName, keyword, ssn and type, which GHL's file omits but live GHL
    // accepts (highlevel-api-docs#314), and still refuses gender and locationId.
    let id = env.contact("u@example.com").await;
    let r = env
        .ghl(Method::PUT, &format!("/contacts/{id}"))
        .json(&json!({"companyName": "X", "keyword": "k", "ssn": "123", "type": "customer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["contact"]["companyName"], "X");
    assert_eq!(body["contact"]["type"], "customer");
    for refused in [json!({"gender": "male"}), json!({"locationId": env.loc.id})] {
        let r = env
            .ghl(Method::PUT, &format!("/contacts/{id}"))
            .json(&refused)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{refused}");
    }
    // Malformed JSON is a 400.
    let r = env
        .ghl(Method::POST, "/contacts/")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn creates_answer_201_and_deletes_say_succeded() {
    let env = Env::new().await;
    let id = env.contact("c@example.com").await;
    let r = env
        .ghl(Method::POST, &format!("/contacts/{id}/notes"))
        .json(&json!({"body": "n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = env
        .ghl(Method::DELETE, &format!("/contacts/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"succeded": true}));
}

#[tokio::test]
async fn duplicate_rules_follow_the_location_settings() {
    let env = Env::new().await;
    let first = env.contact("d@example.com").await;
    let r = env
        .ghl(Method::POST, "/contacts/")
        .json(&json!({"locationId": env.loc.id, "email": "D@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["meta"]["contactId"], first.as_str());
    assert_eq!(body["meta"]["matchingField"], "email");
    assert_eq!(
        body["message"],
        "This location does not allow duplicated contacts."
    );

    env.sim.set_location_settings(
        &env.loc.id,
        ghl_sim::LocationSettings {
            allow_duplicate_contact: true,
            ..Default::default()
        },
    );
    let r = env
        .ghl(Method::POST, "/contacts/")
        .json(&json!({"locationId": env.loc.id, "email": "d@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "duplicates allowed now");
}

#[tokio::test]
async fn opportunity_duplicate_rule_names_the_existing_one() {
    let env = Env::new().await;
    let contact = env.contact("o@example.com").await;
    let pipeline = &env.loc.pipelines[0];
    let body = json!({"locationId": env.loc.id, "pipelineId": pipeline.id, "name": "A", "status": "open", "contactId": contact});
    let r = env
        .ghl(Method::POST, "/opportunities/")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let r = env
        .ghl(Method::POST, "/opportunities/")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let dup: Value = r.json().await.unwrap();
    assert_eq!(dup["code"], "OPPORTUNITY_NO_DUPLICATE");
    assert_eq!(dup["meta"]["existingId"], first["opportunity"]["id"]);
}

#[tokio::test]
async fn the_101st_request_within_10_seconds_is_429_with_the_headers() {
    let env = Env::new().await;
    let path = format!("/opportunities/pipelines?locationId={}", env.loc.id);
    for i in 0..100u32 {
        let r = env.ghl(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "request {}", i + 1);
        assert_eq!(
            r.headers()["x-ratelimit-remaining"],
            (99 - i).to_string().as_str()
        );
    }
    let r = env.ghl(Method::GET, &path).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let h = r.headers();
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-max"], "100");
    assert_eq!(h["x-ratelimit-interval-milliseconds"], "10000");
    assert_eq!(h["x-ratelimit-limit-daily"], "200000");
    assert_eq!(h["x-ratelimit-daily-remaining"], "199900");
    assert_eq!(r.json::<Value>().await.unwrap()["statusCode"], 429);

    // The budget is per location: another location's token is unaffected.
    let other = env.sim.add_location(ghl_sim::LocationSpec::new("Other"));
    let r = env
        .http
        .get(env.url("/opportunities/pipelines"))
        .query(&[("locationId", &other.id)])
        .bearer_auth(&other.token)
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "99");
}

#[tokio::test]
async fn search_pages_with_search_after_and_page_limit_up_to_500() {
    let env = Env::new().await;
    env.sim.set_limits(ghl_sim::Limits {
        max: 1000,
        interval_ms: 10_000,
        daily: 200_000,
    });
    for i in 0..7 {
        env.contact(&format!("s{i}@example.com")).await;
    }
    let search = |body: Value| env.ghl(Method::POST, "/contacts/search").json(&body).send();
    let r = search(json!({"locationId": env.loc.id, "pageLimit": 501}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = search(json!({"locationId": env.loc.id})).await.unwrap();
    assert_eq!(
        r.status(),
        422,
        "pageLimit is required (highlevel-api-docs#31)"
    );

    let mut seen = Vec::new();
    let mut cursor: Option<Value> = None;
    loop {
        let mut body = json!({"locationId": env.loc.id, "pageLimit": 3});
        if let Some(c) = &cursor {
            body["searchAfter"] = c.clone();
        }
        let page: Value = search(body).await.unwrap().json().await.unwrap();
        assert_eq!(page["total"], 7);
        let contacts = page["contacts"].as_array().unwrap();
        if contacts.is_empty() {
            break;
        }
        seen.extend(
            contacts
                .iter()
                .map(|c| c["email"].as_str().unwrap().to_owned()),
        );
        cursor = Some(contacts.last().unwrap()["searchAfter"].clone());
    }
    let expected: Vec<String> = (0..7).map(|i| format!("s{i}@example.com")).collect();
    assert_eq!(seen, expected, "every contact once, in creation order");
}

#[tokio::test]
async fn tokens_map_to_locations() {
    let env = Env::new().await;
    let other = env.sim.add_location(ghl_sim::LocationSpec::new("B"));
    let r = env
        .ghl(
            Method::GET,
            &format!("/locations/{}/customFields", other.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        "The token does not have access to this location."
    );
}
