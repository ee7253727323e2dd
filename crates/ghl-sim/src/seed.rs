//! Seed data: the `demo` world printed by `ghl-sim --seed demo`.
//!
//! It holds one agency with three locations shaped after the companies ghlsync serves: a
//! marketplace mirroring companies and experts (custom fields for both roles, a projects
//! pipeline), a lead-scoring team (score fields, a sales pipeline) and an agency client
//! whose field ids differ from the others'.

use serde::Serialize;

use crate::world::{LocationSettings, Resource, World};
use crate::{FieldSpec, LocationSpec, PipelineSpec, SeededLocation};

/// A seeded world's credentials.
#[derive(Clone, Debug, Serialize)]
pub struct Seeded {
    /// The agency.
    pub company_id: String,
    /// The agency's Private Integration token.
    pub company_token: String,
    /// A Marketplace app registered for OAuth installs.
    pub oauth_client_id: String,
    /// Its secret.
    pub oauth_client_secret: String,
    /// The locations.
    pub locations: Vec<SeededLocation>,
}

fn fields(list: &[(&str, &str, &str)]) -> Vec<FieldSpec> {
    list.iter()
        .map(|(name, key, t)| FieldSpec::contact(name, key, t))
        .collect()
}

/// The stages of the marketplace's project pipeline, "Proyectos" (seed 000).
pub const PROJECT_STAGES: [&str; 6] = [
    "Publicado",
    "Expertos invitados",
    "Propuesta recibida",
    "Asignado",
    "En ejecución",
    "Completado",
];

/// Custom fields of the marketplace location (seed 000's lists).
pub fn marketplace_fields() -> Vec<FieldSpec> {
    fields(&[
        ("Username", "username", "TEXT"),
        ("Location", "location", "TEXT"),
        ("Company Website", "company_website", "TEXT"),
        ("Contact Person", "contact_person", "TEXT"),
        ("Company Type", "company_type", "TEXT"),
        ("Industry", "industry", "TEXT"),
        ("Company Size", "company_size", "TEXT"),
        ("Preferred Language", "preferred_language", "TEXT"),
        ("CIF", "cif", "TEXT"),
        ("Company Email", "company_email", "TEXT"),
        ("Main Area", "main_area", "TEXT"),
        ("Work Language", "work_language", "TEXT"),
        ("Experience Years", "experience_years", "NUMERICAL"),
        ("Expert Level", "expert_level", "TEXT"),
        ("Availability", "availability", "TEXT"),
        ("Internal Rating", "internal_rating", "NUMERICAL"),
        ("Portfolio URL", "portfolio_url", "TEXT"),
        ("LinkedIn URL", "linkedin_url", "TEXT"),
        ("Lead Score", "lead_score", "NUMERICAL"),
        ("Tipo de usuario", "tipo_de_usuario", "TEXT"),
        ("Fuente del contacto", "fuente_del_contacto", "TEXT"),
        ("Estado del contacto", "estado_del_contacto", "TEXT"),
    ])
}

/// Custom fields of the lead-scoring location (seed 001's write-backs).
pub fn lead_scoring_fields() -> Vec<FieldSpec> {
    fields(&[
        ("AI Score", "ai_score", "NUMERICAL"),
        ("Score Confidence", "score_confidence", "NUMERICAL"),
        ("Lead Quality", "lead_quality", "TEXT"),
        ("Recommended Action", "recommended_action", "TEXT"),
        ("Updated AI Score", "updated_ai_score", "NUMERICAL"),
        ("Churn Risk", "churn_risk", "NUMERICAL"),
        ("Next Action", "next_action", "TEXT"),
        ("Status", "status", "TEXT"),
    ])
}

/// Builds the `demo` world.
pub fn demo(world: &mut World) -> Seeded {
    let company_id = world.add_company("Demo Agency");
    let company_token = world.add_private_token(Resource::Company(company_id.clone()));
    let oauth_client_id = "demo-app-client".to_owned();
    let oauth_client_secret = "demo-app-secret".to_owned();
    world.add_oauth_app(&oauth_client_id, &oauth_client_secret);
    let specs = [
        LocationSpec {
            name: "Marketplace".into(),
            settings: LocationSettings::default(),
            custom_fields: marketplace_fields(),
            pipelines: vec![PipelineSpec {
                name: "Proyectos".into(),
                stages: PROJECT_STAGES.map(str::to_owned).to_vec(),
            }],
            company_id: Some(company_id.clone()),
            timezone: "Europe/Madrid".into(),
        },
        LocationSpec {
            name: "Lead Scoring".into(),
            settings: LocationSettings::default(),
            custom_fields: lead_scoring_fields(),
            pipelines: vec![PipelineSpec {
                name: "Real Estate Sales".into(),
                stages: ["Lead", "Tour Scheduled", "Offer", "Closed"]
                    .map(str::to_owned)
                    .to_vec(),
            }],
            company_id: Some(company_id.clone()),
            timezone: "America/Chicago".into(),
        },
        LocationSpec {
            name: "Agency Client".into(),
            settings: LocationSettings {
                allow_duplicate_contact: true,
                ..LocationSettings::default()
            },
            custom_fields: lead_scoring_fields(),
            pipelines: vec![PipelineSpec {
                name: "Sales".into(),
                stages: ["New", "Contacted", "Won"].map(str::to_owned).to_vec(),
            }],
            company_id: Some(company_id.clone()),
            timezone: "America/New_York".into(),
        },
    ];
    let locations = specs.iter().map(|s| world.create_location(s)).collect();
    Seeded {
        company_id,
        company_token,
        oauth_client_id,
        oauth_client_secret,
        locations,
    }
}
