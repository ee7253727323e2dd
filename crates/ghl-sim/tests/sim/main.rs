//! The simulator's behaviour, and its faithfulness to GHL's official documents.

mod behaviour;
mod binary;
mod faithfulness;
mod faults;
mod openapi;
mod receiver;
mod routes;
mod sdk;
mod webhooks;

use ghl_sim::{LocationSpec, SeededLocation, SimHandle, Simulator};
use serde_json::Value;

/// A simulator with one location and a raw HTTP client.
#[derive(Debug)]
pub struct Env {
    pub sim: SimHandle,
    pub loc: SeededLocation,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn new() -> Self {
        let sim = Simulator::builder().start().await.unwrap();
        let loc = sim.add_location(
            LocationSpec::new("Acme")
                .field("Lead Score", "lead_score", "NUMERICAL")
                .pipeline("Sales", &["New", "Won"]),
        );
        Self {
            sim,
            loc,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// A request with GHL's headers for the location.
    pub fn ghl(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.loc.token)
            .header("Version", "2021-07-28")
    }

    /// Creates a contact and returns its id.
    pub async fn contact(&self, email: &str) -> String {
        let r = self
            .ghl(reqwest::Method::POST, "/contacts/")
            .json(&serde_json::json!({"locationId": self.loc.id, "email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        body["contact"]["id"].as_str().unwrap().to_owned()
    }
}
