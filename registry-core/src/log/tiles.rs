//! The log as C2SP tiles (`c2sp.org/tlog-tiles`): hash tiles of height 8 and
//! entry bundles, addressed by paths such as `tile/0/x001/234`,
//! `tile/1/005.p/17` and `tile/entries/042`.

/// Leaves (or hashes) per full tile: height 8.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;

/// A tile path's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// `None` for an entry bundle, else the tile level.
    pub level: Option<u8>,
    /// The tile's index within its level.
    pub index: u64,
    /// `Some(w)` for a partial tile of `w` entries (1..=255).
    pub partial: Option<u16>,
}

impl TileRef {
    /// How many hashes (or entries) it holds.
    pub fn width(&self) -> u64 {
        self.partial.map_or(TILE_WIDTH, u64::from)
    }

    /// Parses what follows `tile/` in a tile's path; `None` for anything that
    /// is not, exactly, a tile path in C2SP's encoding.
    pub fn parse(path: &str) -> Option<TileRef> {
        let (level, rest) = path.split_once('/')?;
        let level = if level == "entries" {
            None
        } else {
            // No leading zeros, at most 63 (a tree of 2^64 leaves has 8 levels).
            if level.len() > 2 || (level.len() > 1 && level.starts_with('0')) {
                return None;
            }
            let l: u8 = level.parse().ok()?;
            (l <= 7).then_some(Some(l))?
        };
        let (index, partial) = match rest.split_once(".p/") {
            Some((index, width)) => {
                if width.is_empty() || width.starts_with('0') || width.len() > 3 {
                    return None;
                }
                let w: u16 = width.parse().ok()?;
                if !(1..=255).contains(&w) {
                    return None;
                }
                (index, Some(w))
            }
            None => (rest, None),
        };
        let elements: Vec<&str> = index.split('/').collect();
        let (last, upper) = elements.split_last()?;
        let mut n: u64 = 0;
        for e in upper {
            let digits = e.strip_prefix('x')?;
            n = n.checked_mul(1000)?.checked_add(three_digits(digits)?)?;
        }
        n = n.checked_mul(1000)?.checked_add(three_digits(last)?)?;
        let tile = TileRef {
            level,
            index: n,
            partial,
        };
        // One path per tile: no leading zero groups.
        (tile.path_suffix() == path).then_some(tile)
    }

    /// The path below `tile/`.
    pub fn path_suffix(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        let mut out = match self.level {
            None => "entries".to_owned(),
            Some(l) => l.to_string(),
        };
        for (i, g) in groups.iter().enumerate().rev() {
            out.push('/');
            if i > 0 {
                out.push('x');
            }
            out.push_str(&format!("{g:03}"));
        }
        if let Some(w) = self.partial {
            out.push_str(&format!(".p/{w}"));
        }
        out
    }

    /// Whether the tree of `size` leaves holds this tile: a full tile once it
    /// is complete; a partial one of width `w` once the tile has `w` entries
    /// (its first `w` never change, so a client with an older checkpoint
    /// still finds the tile its tree ends in).
    pub fn available_in(&self, size: u64) -> bool {
        let level = u32::from(self.level.unwrap_or(0)) * u32::from(TILE_HEIGHT);
        let Some(hashes) = size.checked_shr(level) else {
            return false;
        };
        let start = self.index.saturating_mul(TILE_WIDTH);
        match self.partial {
            None => hashes >= start.saturating_add(TILE_WIDTH),
            Some(w) => hashes.saturating_sub(start) >= u64::from(w),
        }
    }
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_c2sp() {
        let t = |level, index, partial| TileRef {
            level,
            index,
            partial,
        };
        for (tile, path) in [
            (t(Some(0), 0, None), "0/000"),
            (t(Some(0), 1_234_067, None), "0/x001/x234/067"),
            (t(Some(1), 5, Some(17)), "1/005.p/17"),
            (t(None, 42, None), "entries/042"),
            (t(None, 1000, Some(255)), "entries/x001/000.p/255"),
        ] {
            assert_eq!(tile.path_suffix(), path);
            assert_eq!(TileRef::parse(path), Some(tile), "{path}");
        }
        for bad in [
            "0/0",
            "0/x000/001",
            "08/000",
            "8/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/010",
            "0/001/002",
            "x/000",
            "0/000/",
            "entries/abc",
            "",
        ] {
            assert_eq!(TileRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tiles_are_served_when_the_tree_holds_them() {
        let full = TileRef::parse("0/000").expect("tile");
        assert!(!full.available_in(255));
        assert!(full.available_in(256));
        let partial = TileRef::parse("0/000.p/10").expect("tile");
        assert!(partial.available_in(10));
        assert!(partial.available_in(300));
        assert!(!partial.available_in(9));
        let upper = TileRef::parse("1/000.p/1").expect("tile");
        assert!(upper.available_in(256 + 3));
        assert!(!upper.available_in(255));
    }
}
