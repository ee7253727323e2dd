//! What a simulated call gives: the scripted test numbers, the seeded mix for the others,
//! and the seeded fault decisions.

use dialer::{LeasedItem, Outcome};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A fixed result for a test number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scripted {
    /// How the call ends.
    pub outcome: Outcome,
    /// Talk time in seconds.
    pub duration_seconds: u32,
    /// The keys pressed, if any.
    pub dtmf: Option<&'static str>,
    /// The callee asks to be called back a day after the call.
    pub callback: bool,
}

impl Scripted {
    const fn plain(outcome: Outcome, duration_seconds: u32) -> Self {
        Self {
            outcome,
            duration_seconds,
            dtmf: None,
            callback: false,
        }
    }
}

/// Test numbers with fixed results, as Drop Cowboy's simulated 555 numbers, one per
/// outcome (and two answered calls with key presses). They are in libphonenumber's US
/// example range, so they are valid E.164 numbers that reach nobody.
pub const MAGIC_NUMBERS: [(&str, Scripted); 7] = [
    ("+12015550100", Scripted::plain(Outcome::Answered, 45)),
    ("+12015550101", Scripted::plain(Outcome::Voicemail, 30)),
    ("+12015550102", Scripted::plain(Outcome::NoAnswer, 0)),
    ("+12015550103", Scripted::plain(Outcome::Busy, 0)),
    ("+12015550104", Scripted::plain(Outcome::Failed, 0)),
    (
        "+12015550105",
        Scripted {
            outcome: Outcome::Answered,
            duration_seconds: 60,
            dtmf: Some("1"),
            callback: true,
        },
    ),
    (
        "+12015550106",
        Scripted {
            outcome: Outcome::Answered,
            duration_seconds: 20,
            dtmf: Some("9"),
            callback: false,
        },
    ),
];

/// The fixed result of a test number, if `phone` is one of [`MAGIC_NUMBERS`].
pub fn scripted(phone: &str) -> Option<Scripted> {
    MAGIC_NUMBERS
        .iter()
        .find(|(number, _)| *number == phone)
        .map(|(_, script)| *script)
}

/// Relative weights of the outcomes drawn for numbers that are not scripted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Weight of `answered`.
    pub answered: u32,
    /// Weight of `voicemail`.
    pub voicemail: u32,
    /// Weight of `no_answer`.
    pub no_answer: u32,
    /// Weight of `busy`.
    pub busy: u32,
    /// Weight of `failed`.
    pub failed: u32,
}

impl Default for Mix {
    /// 35/25/25/10/5, roughly what a consumer broadcast sees.
    fn default() -> Self {
        Self {
            answered: 35,
            voicemail: 25,
            no_answer: 25,
            busy: 10,
            failed: 5,
        }
    }
}

impl Mix {
    /// Draws an outcome. All weights zero is read as the default mix, so a mix cannot
    /// leave the engine without an answer.
    pub fn draw(&self, rng: &mut StdRng) -> Outcome {
        let mix = if self.total() == 0 {
            Self::default()
        } else {
            *self
        };
        let weights = [
            (Outcome::Answered, mix.answered),
            (Outcome::Voicemail, mix.voicemail),
            (Outcome::NoAnswer, mix.no_answer),
            (Outcome::Busy, mix.busy),
            (Outcome::Failed, mix.failed),
        ];
        let mut pick = rng.random_range(0..mix.total());
        for (outcome, weight) in weights {
            let weight = u64::from(weight);
            if pick < weight {
                return outcome;
            }
            pick -= weight;
        }
        Outcome::Failed
    }

    fn total(&self) -> u64 {
        [
            self.answered,
            self.voicemail,
            self.no_answer,
            self.busy,
            self.failed,
        ]
        .iter()
        .map(|&w| u64::from(w))
        .sum()
    }
}

/// Unreliable-engine behaviour, all off by default. Rates are probabilities per report
/// (0.0 to 1.0, values outside are clamped), decided with seeded generators.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// The report is never sent: the engine "crashes" after the call, the lease expires and
    /// ghlsync hands the item out again.
    pub drop_rate: f64,
    /// The same report (same `event_id`, same bytes) is sent twice.
    pub repeat_rate: f64,
    /// Wait this long before sending each report.
    pub delay_ms: u64,
}

/// What a simulated call gave, before it becomes a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Played {
    pub outcome: Outcome,
    pub duration_seconds: u32,
    pub dtmf_pressed: Option<String>,
    pub callback_requested: bool,
    pub callback_time: Option<Timestamp>,
}

/// What a generator is for, so the outcome and the fault decisions of one call draw from
/// different streams and changing the faults does not change the outcomes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Call = 1,
    Drop = 2,
    Repeat = 3,
}

/// A generator for one decision about one call: seeded from the run's seed, the item, the
/// attempt and `salt` (FNV-1a over them, which is stable across Rust releases). A call's
/// outcome takes no salt, so the same attempt leased again plays the same; a report's fate
/// takes the lease's id, so a report dropped under one lease may arrive under the next (a
/// dropped report is lost once, not forever).
pub(crate) fn rng_for(seed: u64, purpose: Purpose, item: &LeasedItem, salt: &str) -> StdRng {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain([purpose as u8])
        .chain(item.queue_item_id.bytes())
        .chain(item.attempt.to_le_bytes())
        .chain(salt.bytes());
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(hash)
}

/// True with probability `rate`.
pub(crate) fn happens(rng: &mut StdRng, rate: f64) -> bool {
    rng.random::<f64>() < rate.clamp(0.0, 1.0)
}

/// Plays the call of `item` placed at `called_at`.
pub(crate) fn play(seed: u64, mix: &Mix, item: &LeasedItem, called_at: Timestamp) -> Played {
    if let Some(script) = scripted(&item.phone) {
        return Played {
            outcome: script.outcome,
            duration_seconds: script.duration_seconds,
            dtmf_pressed: script.dtmf.map(str::to_owned),
            callback_requested: script.callback,
            callback_time: script
                .callback
                .then(|| called_at.checked_add(SignedDuration::from_hours(24)).ok())
                .flatten(),
        };
    }
    let mut rng = rng_for(seed, Purpose::Call, item, "");
    let outcome = mix.draw(&mut rng);
    let duration_seconds = match outcome {
        Outcome::Answered | Outcome::Voicemail => rng.random_range(5..=120),
        Outcome::NoAnswer | Outcome::Busy | Outcome::Failed => 0,
    };
    // About one answered call in four presses a key: 1 (interested), 2 or 9 (opt out).
    let dtmf_pressed = (outcome == Outcome::Answered && happens(&mut rng, 0.25))
        .then(|| ["1", "2", "9"][rng.random_range(0..3)].to_owned());
    Played {
        outcome,
        duration_seconds,
        dtmf_pressed,
        callback_requested: false,
        callback_time: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(phone: &str, id: &str, attempt: u32) -> LeasedItem {
        LeasedItem {
            queue_item_id: id.into(),
            phone: phone.into(),
            name: None,
            email: None,
            ghl_contact_id: None,
            attempt,
        }
    }

    #[test]
    fn magic_numbers_are_fixed() {
        let at: Timestamp = "2026-03-01T15:00:00Z".parse().unwrap();
        for (phone, script) in MAGIC_NUMBERS {
            for seed in [1, 2] {
                let played = play(seed, &Mix::default(), &item(phone, "q", 1), at);
                assert_eq!(played.outcome, script.outcome, "{phone}");
                assert_eq!(played.dtmf_pressed.as_deref(), script.dtmf, "{phone}");
            }
        }
        let callback = play(1, &Mix::default(), &item("+12015550105", "q", 1), at);
        assert!(callback.callback_requested);
        assert_eq!(
            callback.callback_time,
            Some("2026-03-02T15:00:00Z".parse().unwrap())
        );
        assert_eq!(scripted("+12015550199"), None);
    }

    #[test]
    fn draws_follow_the_seed_and_the_mix() {
        let at = Timestamp::UNIX_EPOCH;
        let mix = Mix::default();
        let run = |seed| {
            (0..200)
                .map(|i| play(seed, &mix, &item("+14155550123", &format!("q{i}"), 1), at))
                .collect::<Vec<_>>()
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        for played in &first {
            match played.outcome {
                Outcome::Answered | Outcome::Voicemail => {
                    assert!((5..=120).contains(&played.duration_seconds));
                }
                _ => assert_eq!(played.duration_seconds, 0),
            }
            if played.dtmf_pressed.is_some() {
                assert_eq!(played.outcome, Outcome::Answered);
            }
        }
        for outcome in Outcome::ALL {
            assert!(
                first.iter().any(|p| p.outcome == outcome),
                "{outcome} drawn"
            );
        }
        assert!(first.iter().any(|p| p.dtmf_pressed.is_some()));

        let only_busy = Mix {
            answered: 0,
            voicemail: 0,
            no_answer: 0,
            busy: 1,
            failed: 0,
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..50).all(|_| only_busy.draw(&mut rng) == Outcome::Busy));
    }

    #[test]
    fn fault_rates_at_the_ends() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..100).all(|_| happens(&mut rng, 1.0)));
        assert!((0..100).all(|_| !happens(&mut rng, 0.0)));
        assert!((0..100).all(|_| happens(&mut rng, 5.0)));
        assert!((0..100).all(|_| !happens(&mut rng, -1.0)));
    }

    #[test]
    fn a_dropped_report_is_dropped_under_one_lease_not_every_lease() {
        let it = item("+14155550123", "q1", 1);
        let fates: Vec<bool> = (0..40)
            .map(|l| happens(&mut rng_for(7, Purpose::Drop, &it, &format!("ls_{l}")), 0.5))
            .collect();
        assert!(fates.contains(&true) && fates.contains(&false), "{fates:?}");
        let again: Vec<bool> = (0..40)
            .map(|l| happens(&mut rng_for(7, Purpose::Drop, &it, &format!("ls_{l}")), 0.5))
            .collect();
        assert_eq!(fates, again, "each lease's fate follows the seed");
    }
}
