//! The built-in rule packs, shipped as files in `crates/ghlsync-core/packs/` and compiled
//! in, so `rules.packs = ["marketplace"]` needs nothing on disk.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::event::UnknownValue;

/// A built-in pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pack {
    /// Seed 000: a marketplace of companies and experts.
    Marketplace,
    /// Seed 001: lead scoring on every interaction.
    LeadScoring,
    /// Seed 003: the GHL <-> CloudTalk bridge.
    CloudTalkBridge,
}

impl Pack {
    /// Every pack.
    pub const ALL: &'static [Pack] = &[Pack::Marketplace, Pack::LeadScoring, Pack::CloudTalkBridge];

    /// Its name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Marketplace => "marketplace",
            Self::LeadScoring => "lead-scoring",
            Self::CloudTalkBridge => "cloudtalk-bridge",
        }
    }

    /// The rules file.
    pub fn source(self) -> &'static str {
        match self {
            Self::Marketplace => include_str!("../../packs/marketplace.toml"),
            Self::LeadScoring => include_str!("../../packs/lead-scoring.toml"),
            Self::CloudTalkBridge => include_str!("../../packs/cloudtalk-bridge.toml"),
        }
    }

    /// The name errors and explanations use: `pack:marketplace`.
    pub fn file_name(self) -> String {
        format!("pack:{}", self.name())
    }
}

impl fmt::Display for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pack {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}
