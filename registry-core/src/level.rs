//! The rungs of the ladder.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validation::InvalidValue;

/// A PSO level, ordered from low to high: "at least `trede_2`" means `trede_2` or
/// `trede_3` (DOMAIN.md, "Levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum Level {
    Aspirant,
    Basistrede,
    Trede1,
    Trede2,
    Trede3,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Aspirant,
        Level::Basistrede,
        Level::Trede1,
        Level::Trede2,
        Level::Trede3,
    ];

    /// The API's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Aspirant => "aspirant",
            Level::Basistrede => "basistrede",
            Level::Trede1 => "trede_1",
            Level::Trede2 => "trede_2",
            Level::Trede3 => "trede_3",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                InvalidValue::new("must be one of aspirant, basistrede, trede_1, trede_2, trede_3")
            })
    }

    /// The level's rank, 0 (aspirant) to 4 (trede_3), as stored for searches.
    pub fn rank(self) -> i32 {
        self as i32
    }

    /// PSO 30+ is a mark within Trede 3 only (DOMAIN.md, "Levels").
    pub fn allows_pso30plus(self) -> bool {
        self == Level::Trede3
    }
}

impl TryFrom<String> for Level {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// Written as its API name (`trede_2`), without a copy.
impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<Level> for String {
    fn from(l: Level) -> Self {
        l.as_str().to_owned()
    }
}

impl FromStr for Level {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_low_to_high_and_round_trip() {
        let mut sorted = Level::ALL;
        sorted.sort();
        assert_eq!(sorted, Level::ALL);
        assert!(Level::Aspirant < Level::Basistrede);
        assert!(Level::Basistrede < Level::Trede1);
        assert!(Level::Trede2 < Level::Trede3);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Ok(l));
        }
        assert!(Level::parse("trede_4").is_err());
        // Stored histories and the API write a level by its name.
        assert_eq!(
            serde_json::to_string(&Level::Trede2).ok().as_deref(),
            Some("\"trede_2\"")
        );
        assert_eq!(
            serde_json::from_str::<Level>("\"trede_2\"").ok(),
            Some(Level::Trede2)
        );
        assert!(Level::parse("Trede_2").is_err());
    }
}
