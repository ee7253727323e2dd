//! Seed 001's lead scoring: a score, its confidence, the lead's quality, a recommended
//! action and a churn risk, from the person's interactions (GHL's contact, message and
//! appointment webhooks, and the app's appointment, message, campaign and opportunity
//! events) and from the outcomes of earlier deals.
//!
//! The seed scored with a model of its own; ghlsync's formula is explicit, so every figure
//! can be explained (`ghlsync rules explain`):
//!
//! | component | weight | full share at |
//! |---|---|---|
//! | contact details | 15 | email 5, phone 5, name 2.5, source 2.5 |
//! | messages from the lead | 20 | 3 inbound messages (linear below) |
//! | campaign engagement | 15 | 6 points: an open is 1, a click 3 |
//! | appointments | 30 | a completed one 1, a scheduled one 0.5; each missed one −0.25 |
//! | interactions | 10 | 10 interactions of any kind |
//! | past outcomes | 10 | (won + 1) / (won + lost + 2): 0.5 with no history |
//!
//! - confidence = 0.30 + 0.65 × min(signals, 16) / 16, where signals are the known contact
//!   details (up to 4) and the interactions (up to 12): a score resting on more facts is
//!   surer;
//! - quality: `hot` from 70, `warm` from 40, `cold` below;
//! - churn risk = 0.5 − 0.15 per scheduled and − 0.20 per completed appointment + 0.15 per
//!   missed one − 0.05 per inbound message (at most − 0.15) + 0.25 when more deals were lost
//!   than won, kept within 0.05 and 0.95;
//! - the recommended action follows the outcomes first (a won deal: ask for a referral; more
//!   lost than won: re-engage), then the quality.
//!
//! Won and lost deals are outcomes kept in the profile, so later scores use them.

use serde::Serialize;

use crate::profile::Profile;
use crate::scoring::Component;

/// Interactions counted under each of the seed's names, whichever side reported them.
const INBOUND: &[&str] = &["message.received", "InboundMessage"];
const SCHEDULED: &[&str] = &["appointment.scheduled", "AppointmentCreate"];
const COMPLETED: &[&str] = &["appointment.completed"];
const MISSED: &[&str] = &["appointment.missed"];
const OPENED: &[&str] = &["campaign.opened"];
const CLICKED: &[&str] = &["campaign.clicked"];

/// Seed 001's scoring of one lead.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeadInsight {
    /// 0 to 100, two decimals (`ai_score`).
    pub score: f64,
    /// 0 to 1, two decimals (`score_confidence`).
    pub confidence: f64,
    /// `hot`, `warm` or `cold` (`lead_quality`).
    pub quality: &'static str,
    /// What to do next (`recommended_action`).
    pub recommended_action: &'static str,
    /// 0 to 1, two decimals (`churn_risk`).
    pub churn_risk: f64,
    /// Every component of the score.
    pub components: Vec<Component>,
}

fn count(p: &Profile, names: &[&str]) -> u32 {
    names
        .iter()
        .map(|n| p.interactions.get(*n).copied().unwrap_or(0))
        .sum()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Scores a lead from what the profile holds.
pub fn lead_insight(p: &Profile) -> LeadInsight {
    let has_name = p.fields.contains_key("firstName") || p.fields.contains_key("first_name");
    let details = [
        (p.email.is_some(), 5.0, "email"),
        (p.phone.is_some(), 5.0, "phone"),
        (has_name, 2.5, "name"),
        (p.source.is_some(), 2.5, "source"),
    ];
    let detail_points: f64 = details.iter().filter(|d| d.0).map(|d| d.1).sum();
    let known: Vec<&str> = details.iter().filter(|d| d.0).map(|d| d.2).collect();
    let inbound = count(p, INBOUND);
    let (opened, clicked) = (count(p, OPENED), count(p, CLICKED));
    let (scheduled, completed, missed) =
        (count(p, SCHEDULED), count(p, COMPLETED), count(p, MISSED));
    let appointments = if completed > 0 {
        1.0
    } else if scheduled > 0 {
        0.5
    } else {
        0.0
    } - 0.25 * f64::from(missed);
    let interactions: u32 = p.interactions.values().sum();
    let components = vec![
        Component::new(
            "contact details",
            15.0,
            detail_points / 15.0,
            if known.is_empty() {
                "none known".into()
            } else {
                format!("known: {}", known.join(", "))
            },
        ),
        Component::new(
            "messages from the lead",
            20.0,
            f64::from(inbound) / 3.0,
            format!("{inbound} inbound (3 or more earn the full share)"),
        ),
        Component::new(
            "campaign engagement",
            15.0,
            f64::from(opened + 3 * clicked) / 6.0,
            format!("{opened} opened, {clicked} clicked"),
        ),
        Component::new(
            "appointments",
            30.0,
            appointments,
            format!("{scheduled} scheduled, {completed} completed, {missed} missed"),
        ),
        Component::new(
            "interactions",
            10.0,
            f64::from(interactions) / 10.0,
            format!("{interactions} in all (10 or more earn the full share)"),
        ),
        Component::new(
            "past outcomes",
            10.0,
            f64::from(p.won + 1) / f64::from(p.won + p.lost + 2),
            format!("{} won, {} lost", p.won, p.lost),
        ),
    ];
    let score = round2(
        components
            .iter()
            .map(|c| c.points)
            .sum::<f64>()
            .clamp(0.0, 100.0),
    );
    let signals = known.len() as u32 + interactions.min(12);
    let confidence = round2(0.30 + 0.65 * f64::from(signals.min(16)) / 16.0);
    let quality = match score {
        s if s >= 70.0 => "hot",
        s if s >= 40.0 => "warm",
        _ => "cold",
    };
    let churn = 0.5 - 0.15 * f64::from(scheduled) - 0.20 * f64::from(completed)
        + 0.15 * f64::from(missed)
        - (0.05 * f64::from(inbound)).min(0.15)
        + if p.lost > p.won { 0.25 } else { 0.0 };
    let recommended_action = if p.won > 0 && p.won >= p.lost {
        "Ask for a referral"
    } else if p.lost > p.won {
        "Start a re-engagement sequence"
    } else if missed > completed && missed > 0 {
        "Reschedule the tour"
    } else {
        match quality {
            "hot" => "Call the lead today",
            "warm" if scheduled == 0 => "Offer a property tour",
            "warm" => "Send matching properties",
            _ => "Add to a nurture campaign",
        }
    };
    LeadInsight {
        score,
        confidence,
        quality,
        recommended_action,
        churn_risk: round2(churn.clamp(0.05, 0.95)),
        components,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(interactions: &[(&str, u32)]) -> Profile {
        let mut p = Profile::new("ghl:c1");
        p.email = Some("john@example.com".into());
        p.phone = Some("+15551234567".into());
        p.fields.insert("firstName".into(), "John".into());
        p.source = Some("website".into());
        for (k, n) in interactions {
            p.interactions.insert((*k).to_owned(), *n);
        }
        p
    }

    #[test]
    fn a_new_contact_is_cold_and_uncertain() {
        let s = lead_insight(&profile(&[("ContactCreate", 1)]));
        // details 15 + interactions 1 + outcomes 5.
        assert_eq!(s.score, 21.0);
        assert_eq!(s.quality, "cold");
        assert_eq!(s.recommended_action, "Add to a nurture campaign");
        assert_eq!(s.confidence, round2(0.30 + 0.65 * 5.0 / 16.0));
        assert_eq!(s.churn_risk, 0.5);
        assert_eq!(s.components.iter().map(|c| c.weight).sum::<f64>(), 100.0);
    }

    #[test]
    fn a_scheduled_tour_raises_the_score_and_lowers_churn() {
        let before = lead_insight(&profile(&[("ContactCreate", 1), ("message.received", 2)]));
        let after = lead_insight(&profile(&[
            ("ContactCreate", 1),
            ("message.received", 2),
            ("appointment.scheduled", 1),
        ]));
        // 15 for the appointment, 1 for one more interaction.
        assert!((after.score - before.score - 16.0).abs() < 1e-9);
        assert!(after.churn_risk < before.churn_risk);
        assert_eq!(after.churn_risk, 0.25);
        assert_eq!(after.quality, "warm");
        assert_eq!(after.recommended_action, "Send matching properties");
    }

    #[test]
    fn outcomes_feed_later_scores() {
        let mut won = profile(&[("ContactCreate", 1)]);
        won.won = 1;
        let mut lost = profile(&[("ContactCreate", 1)]);
        lost.lost = 1;
        let (w, l) = (lead_insight(&won), lead_insight(&lost));
        assert!(w.score > l.score);
        assert_eq!(w.recommended_action, "Ask for a referral");
        assert_eq!(l.recommended_action, "Start a re-engagement sequence");
        assert_eq!(l.churn_risk, 0.75);
    }

    #[test]
    fn an_engaged_lead_is_hot() {
        let s = lead_insight(&profile(&[
            ("ContactCreate", 1),
            ("InboundMessage", 3),
            ("campaign.clicked", 2),
            ("AppointmentCreate", 1),
            ("appointment.completed", 1),
        ]));
        // 15 + 20 + 15 + 30 + 8 + 5
        assert_eq!(s.score, 93.0);
        assert_eq!(s.quality, "hot");
        assert_eq!(s.recommended_action, "Call the lead today");
    }
}
