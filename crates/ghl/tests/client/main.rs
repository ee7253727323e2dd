//! The `ghl` client against the GHL simulator: every operation, every error class.

mod contacts;
mod conversations;
mod errors;
mod oauth;
mod opportunities;
mod webhook_examples;

use ghl_sim::{LocationSpec, SeededLocation, SimHandle, Simulator};

/// A simulator with one location (custom fields and a pipeline) and a client for it.
#[derive(Debug)]
pub struct Env {
    pub sim: SimHandle,
    pub loc: SeededLocation,
    pub client: ghl::Client,
}

impl Env {
    pub async fn new() -> Self {
        Self::with_spec(
            LocationSpec::new("Acme")
                .field("Lead Score", "lead_score", "NUMERICAL")
                .field("Tipo de usuario", "tipo_de_usuario", "TEXT")
                .pipeline("Sales", &["New", "Won"]),
        )
        .await
    }

    pub async fn with_spec(spec: LocationSpec) -> Self {
        let sim = Simulator::builder()
            .start()
            .await
            .expect("simulator starts");
        let loc = sim.add_location(spec);
        let client = ghl::Client::builder()
            .base_url(sim.base_url())
            .build()
            .expect("client builds")
            .with_token(&loc.token);
        Self { sim, loc, client }
    }

    pub fn location_id(&self) -> ghl::LocationId {
        ghl::LocationId::new(&self.loc.id)
    }
}
