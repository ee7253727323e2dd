//! Seed 000's lead score and contact status, from a [`Profile`].
//!
//! The seed gives the weights and the level bands; how each component fills its share is
//! ghlsync's choice, stated here and shown component by component by `rules explain`:
//!
//! | component | weight | full share at |
//! |---|---|---|
//! | completed projects | 30 | 5 completed projects (linear below) |
//! | reviews and ratings | 25 | mean rating / 5, scaled by min(reviews, 3) / 3 |
//! | profile verification | 20 | verificado 1, pre-evaluación 0.5, solicitud 0.25, none 0 |
//! | recent activity | 15 | last event ≤ 7 days ago 1, ≤ 30 days 0.5, ≤ 90 days 0.25 |
//! | time on the platform | 10 | one year since the first event (linear below) |
//!
//! The score is computed at the event's own time (`occurred_at`), so replaying an event
//! gives the same score.

use serde::Serialize;

use crate::Millis;
use crate::profile::{Profile, ProjectState, UserState};

const DAY_MS: f64 = 86_400_000.0;

/// One component of a score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Component {
    /// What it measures.
    pub name: &'static str,
    /// Its weight (the most points it gives).
    pub weight: f64,
    /// How much of the weight it earned, 0 to 1.
    pub fraction: f64,
    /// Points earned: weight × fraction.
    pub points: f64,
    /// Why, in words.
    pub why: String,
}

/// A score and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadScore {
    /// 0 to 100.
    pub score: u32,
    /// The level the score suggests: `global`, `pro` or `enterprise`.
    pub level: &'static str,
    /// Every component.
    pub components: Vec<Component>,
}

impl Component {
    /// A component worth `weight` points, of which `fraction` (clamped to 0..=1) is earned.
    pub(crate) fn new(name: &'static str, weight: f64, fraction: f64, why: String) -> Self {
        let fraction = fraction.clamp(0.0, 1.0);
        Self {
            name,
            weight,
            fraction,
            points: weight * fraction,
            why,
        }
    }
}

/// Seed 000's level bands: Global 0-50, Pro 51-75, Enterprise 76-100.
pub fn level_for(score: u32) -> &'static str {
    match score {
        0..=50 => "global",
        51..=75 => "pro",
        _ => "enterprise",
    }
}

/// Seed 000's lead score at time `now`.
pub fn marketplace_score(p: &Profile, now: Millis) -> LeadScore {
    let completed = p.completed_projects();
    let reviews = p.reviews;
    let rating = p.average_rating().unwrap_or(0.0);
    let verification = match p.verification.as_deref() {
        Some("verificado") => 1.0,
        Some("pre-evaluación") => 0.5,
        Some("solicitud") => 0.25,
        _ => 0.0,
    };
    let idle_days = p
        .last_activity_at
        .map(|at| (now - at).max(0) as f64 / DAY_MS);
    let activity = match idle_days {
        Some(d) if d <= 7.0 => 1.0,
        Some(d) if d <= 30.0 => 0.5,
        Some(d) if d <= 90.0 => 0.25,
        _ => 0.0,
    };
    let tenure_days = p
        .registered_at
        .map_or(0.0, |at| (now - at).max(0) as f64 / DAY_MS);
    let components = vec![
        Component::new(
            "completed projects",
            30.0,
            completed as f64 / 5.0,
            format!("{completed} completed (5 or more earn the full share)"),
        ),
        Component::new(
            "reviews and ratings",
            25.0,
            rating / 5.0 * (f64::from(reviews.min(3)) / 3.0),
            format!("{reviews} reviews, mean rating {rating:.2} of 5"),
        ),
        Component::new(
            "profile verification",
            20.0,
            verification,
            format!(
                "verification: {}",
                p.verification.as_deref().unwrap_or("none")
            ),
        ),
        Component::new(
            "recent activity",
            15.0,
            activity,
            match idle_days {
                Some(d) => format!("last activity {d:.0} days ago"),
                None => "no activity".into(),
            },
        ),
        Component::new(
            "time on the platform",
            10.0,
            tenure_days / 365.0,
            format!("{tenure_days:.0} days since the first event (a year earns the full share)"),
        ),
    ];
    let total: f64 = components.iter().map(|c| c.points).sum();
    let score = total.round().clamp(0.0, 100.0) as u32;
    LeadScore {
        score,
        level: level_for(score),
        components,
    }
}

/// Seed 000's `estado_del_contacto`, and why. The first matching line wins:
///
/// 1. deleted → `Eliminado`; unsubscribed (asked or confirmed) → `Baja`; deactivated →
///    `Inactivo`;
/// 2. a started project with open milestones → `Hitos pendientes`; a started project or an
///    assignment → `Proyecto en curso`;
/// 3. an expert not yet verified → `En verificación`;
/// 4. a published project waiting for an expert → `Proyecto publicado`;
/// 5. a completed project → `Proyecto completado`;
/// 6. a draft or a project in validation → `Borrador`;
/// 7. otherwise `Nuevo registro`.
pub fn marketplace_status(p: &Profile) -> (&'static str, &'static str) {
    let started = p.projects_in(ProjectState::Started) + p.projects_in(ProjectState::Assigned);
    match p.state {
        UserState::Deleted => return ("Eliminado", "the user was deleted"),
        UserState::Unsubscribed | UserState::UnsubscribeConfirmed => {
            return ("Baja", "the user unsubscribed");
        }
        UserState::Inactive => return ("Inactivo", "the user is deactivated"),
        UserState::Active => {}
    }
    if started > 0 && p.pending_milestones > 0 {
        (
            "Hitos pendientes",
            "a project is under way with open milestones",
        )
    } else if started > 0 || !p.assignments.is_empty() {
        ("Proyecto en curso", "a project is under way")
    } else if p.has_role("experto") && p.verification.as_deref() != Some("verificado") {
        ("En verificación", "the expert is not verified yet")
    } else if p.projects_in(ProjectState::Published) > 0 {
        (
            "Proyecto publicado",
            "a published project waits for an expert",
        )
    } else if p.completed_projects() > 0 {
        ("Proyecto completado", "every project is completed")
    } else if p.projects_in(ProjectState::Draft) + p.projects_in(ProjectState::Validation) > 0 {
        ("Borrador", "a project is drafted or in validation")
    } else {
        ("Nuevo registro", "no project yet")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app_event::AppEvent;
    use crate::time::parse_rfc3339_ms;

    fn apply(p: &mut Profile, t: &str, at: &str, data: serde_json::Value) {
        let e = AppEvent::from_json(&json!({
            "type": t, "id": "x", "occurred_at": at, "subject": "u", "data": data
        }))
        .unwrap();
        p.apply(&e);
    }

    #[test]
    fn a_new_expert_scores_low_and_is_global() {
        let mut p = Profile::new("u");
        apply(
            &mut p,
            "user.registered",
            "2026-01-01T00:00:00Z",
            json!({"role": "experto", "email": "e@x.es"}),
        );
        let s = marketplace_score(&p, parse_rfc3339_ms("2026-01-01T00:00:00Z").unwrap());
        // verification 20 × 0.25 = 5, activity 15 × 1 = 15, tenure 0.
        assert_eq!(s.score, 20);
        assert_eq!(s.level, "global");
        assert_eq!(s.components.len(), 5);
        assert_eq!(s.components.iter().map(|c| c.weight).sum::<f64>(), 100.0);
    }

    #[test]
    fn a_seasoned_verified_expert_is_enterprise() {
        let mut p = Profile::new("u");
        apply(
            &mut p,
            "user.registered",
            "2025-01-01T00:00:00Z",
            json!({"role": "experto", "email": "e@x.es"}),
        );
        apply(
            &mut p,
            "expert.verification_changed",
            "2025-02-01T00:00:00Z",
            json!({"status": "verificado"}),
        );
        for i in 0..5 {
            apply(
                &mut p,
                "project.completed",
                "2025-06-01T00:00:00Z",
                json!({"project_id": format!("p{i}")}),
            );
        }
        for _ in 0..3 {
            apply(
                &mut p,
                "review.added",
                "2026-01-01T00:00:00Z",
                json!({"rating": 5}),
            );
        }
        let s = marketplace_score(&p, parse_rfc3339_ms("2026-01-02T00:00:00Z").unwrap());
        assert_eq!(s.score, 100);
        assert_eq!(s.level, "enterprise");
        // Two months idle: activity drops to a quarter of its share.
        let later = marketplace_score(&p, parse_rfc3339_ms("2026-03-02T00:00:00Z").unwrap());
        assert_eq!(later.score, 100 - 15 + 4);
        assert_eq!(later.level, "enterprise");
    }

    #[test]
    fn level_bands_match_the_seed() {
        assert_eq!(
            [0, 50, 51, 75, 76, 100].map(level_for),
            ["global", "global", "pro", "pro", "enterprise", "enterprise"]
        );
    }

    #[test]
    fn status_follows_projects_verification_and_state() {
        let mut p = Profile::new("u");
        apply(
            &mut p,
            "user.registered",
            "2026-01-01T00:00:00Z",
            json!({"role": "empresa", "email": "a@b.es"}),
        );
        assert_eq!(marketplace_status(&p).0, "Nuevo registro");
        apply(
            &mut p,
            "project.draft_created",
            "2026-01-02T00:00:00Z",
            json!({"project_id": "p1"}),
        );
        assert_eq!(marketplace_status(&p).0, "Borrador");
        apply(
            &mut p,
            "project.published",
            "2026-01-03T00:00:00Z",
            json!({"project_id": "p1"}),
        );
        assert_eq!(marketplace_status(&p).0, "Proyecto publicado");
        apply(
            &mut p,
            "project.started",
            "2026-01-04T00:00:00Z",
            json!({"project_id": "p1", "pending_milestones": 1}),
        );
        assert_eq!(marketplace_status(&p).0, "Hitos pendientes");
        apply(
            &mut p,
            "project.completed",
            "2026-01-05T00:00:00Z",
            json!({"project_id": "p1", "pending_milestones": 0}),
        );
        assert_eq!(marketplace_status(&p).0, "Proyecto completado");
        apply(
            &mut p,
            "user.role_added",
            "2026-01-06T00:00:00Z",
            json!({"role": "experto"}),
        );
        assert_eq!(marketplace_status(&p).0, "En verificación");
        apply(
            &mut p,
            "user.deactivated",
            "2026-01-07T00:00:00Z",
            json!({}),
        );
        assert_eq!(marketplace_status(&p).0, "Inactivo");
        apply(&mut p, "user.deleted", "2026-01-08T00:00:00Z", json!({}));
        assert_eq!(marketplace_status(&p).0, "Eliminado");
    }
}
