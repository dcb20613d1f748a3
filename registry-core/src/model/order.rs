//! Companies in name order — by folded name, then KvK number — as lists walk
//! them: a sorted sequence cut into blocks, so that a company is placed or
//! found by two binary searches and added by moving at most one block.

use super::summary::Summary;

/// A place in name order: the folded name and the KvK number.
pub(crate) type NameKey = (String, u32);

/// Companies per block after loading; a block twice this size is split.
pub(crate) const BLOCK: usize = 512;

#[derive(Debug, Default)]
struct Block {
    /// The key of its first company.
    first: NameKey,
    companies: Vec<u32>,
    /// The certificates covering its companies.
    covered: Summary,
    /// The certificates its companies hold (as main applicant).
    held: Summary,
}

/// Which of a block's summaries a walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Of {
    Covered,
    Held,
}

/// Company indexes in name order.
#[derive(Debug)]
pub(crate) struct NameOrder {
    blocks: Vec<Block>,
    len: usize,
    /// Companies per block (see [`BLOCK`]; tests use fewer).
    block: usize,
}

impl Default for NameOrder {
    fn default() -> Self {
        Self {
            blocks: Vec::new(),
            len: 0,
            block: BLOCK,
        }
    }
}

/// A position in the order: a block and a place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    block: usize,
    at: usize,
}

impl NameOrder {
    /// The order of `companies`, given sorted by key, in blocks of `block`
    /// (every key but each block's first may be left empty).
    pub fn from_sorted(companies: Vec<(NameKey, u32)>, block: usize) -> Self {
        let len = companies.len();
        let block = block.max(1);
        let mut blocks = Vec::with_capacity(len / block + 1);
        let mut rest = companies.into_iter().peekable();
        while let Some((first, company)) = rest.next() {
            let mut ids = Vec::with_capacity(block);
            ids.push(company);
            while ids.len() < block {
                match rest.next() {
                    Some((_, c)) => ids.push(c),
                    None => break,
                }
            }
            blocks.push(Block {
                first,
                companies: ids,
                ..Block::default()
            });
        }
        Self { blocks, len, block }
    }

    /// The block holding the company of `key` (or where it would be).
    fn block_of(&self, key: &NameKey) -> usize {
        self.blocks
            .partition_point(|b| b.first <= *key)
            .saturating_sub(1)
    }

    /// The order of `companies`, given sorted, in blocks of `block`; `firsts`
    /// holds the key of every `block`-th (each block's first).
    pub fn from_order(companies: Vec<u32>, firsts: Vec<NameKey>, block: usize) -> Self {
        let block = block.max(1);
        let len = companies.len();
        let blocks = companies
            .chunks(block)
            .zip(firsts)
            .map(|(ids, first)| Block {
                first,
                companies: ids.to_vec(),
                ..Block::default()
            })
            .collect();
        Self { blocks, len, block }
    }

    /// Widens the summary of the company of `key`'s block.
    pub fn widen(&mut self, key: &NameKey, of: Of, summary: &Summary) {
        let block = self.block_of(key);
        if let Some(b) = self.blocks.get_mut(block) {
            match of {
                Of::Covered => b.covered.widen(summary),
                Of::Held => b.held.widen(summary),
            }
        }
    }

    /// Every company with the index of its block (bulk loading).
    pub fn blocks_of(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.blocks
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.companies.iter().map(move |c| (*c, i)))
    }

    /// Widens block `block`'s summary (bulk loading).
    pub fn widen_block(&mut self, block: usize, of: Of, summary: &Summary) {
        if let Some(b) = self.blocks.get_mut(block) {
            match of {
                Of::Covered => b.covered.widen(summary),
                Of::Held => b.held.widen(summary),
            }
        }
    }

    /// `p`, or the start of the first block from `p`'s on whose summary
    /// `keep` accepts; and how many blocks were passed over.
    pub fn skip(
        &self,
        mut p: Position,
        of: Of,
        keep: impl Fn(&Summary) -> bool,
    ) -> (Position, usize) {
        let mut skipped = 0;
        while let Some(b) = self.blocks.get(p.block) {
            let summary = match of {
                Of::Covered => &b.covered,
                Of::Held => &b.held,
            };
            if keep(summary) {
                break;
            }
            skipped += 1;
            p = Position {
                block: p.block + 1,
                at: 0,
            };
        }
        (self.normalise(p), skipped)
    }

    /// Whether `p` is the first place of a block.
    pub fn at_block_start(p: Position) -> bool {
        p.at == 0
    }

    /// How many companies it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The first position whose company's key is not below `key`.
    pub fn seek(&self, key: &NameKey, key_of: &impl Fn(u32) -> NameKey) -> Position {
        // The last block whose first key is at most `key`.
        let block = self
            .blocks
            .partition_point(|b| b.first <= *key)
            .saturating_sub(1);
        let Some(b) = self.blocks.get(block) else {
            return Position { block: 0, at: 0 };
        };
        let at = b.companies.partition_point(|c| key_of(*c) < *key);
        self.normalise(Position { block, at })
    }

    /// A position past a block's end is the next block's start.
    fn normalise(&self, mut p: Position) -> Position {
        while p.block < self.blocks.len() && p.at >= self.blocks[p.block].companies.len() {
            p = Position {
                block: p.block + 1,
                at: 0,
            };
        }
        p
    }

    pub fn start(&self) -> Position {
        self.normalise(Position { block: 0, at: 0 })
    }

    /// The company at `p` and the position after it; `None` at the end.
    pub fn next(&self, p: Position) -> Option<(u32, Position)> {
        let company = *self.blocks.get(p.block)?.companies.get(p.at)?;
        let after = self.normalise(Position {
            block: p.block,
            at: p.at + 1,
        });
        Some((company, after))
    }

    /// The companies from `p` on, in order.
    #[cfg(test)]
    pub fn from(&self, p: Position) -> impl Iterator<Item = u32> + '_ {
        let mut at = Some(p);
        std::iter::from_fn(move || {
            let (company, after) = self.next(at?)?;
            at = Some(after);
            Some(company)
        })
    }

    /// Places `company`, whose key is `key`.
    pub fn insert(&mut self, company: u32, key: &NameKey, key_of: &impl Fn(u32) -> NameKey) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                first: key.clone(),
                companies: vec![company],
                ..Block::default()
            });
            return;
        }
        let block = self.block_of(key);
        let b = &mut self.blocks[block];
        let at = b.companies.partition_point(|c| key_of(*c) < *key);
        b.companies.insert(at, company);
        if at == 0 {
            b.first = key.clone();
        }
        if b.companies.len() >= 2 * self.block {
            // Both halves promise what the whole did.
            let tail = b.companies.split_off(self.block);
            let first = key_of(tail[0]);
            let (covered, held) = (b.covered, b.held);
            self.blocks.insert(
                block + 1,
                Block {
                    first,
                    companies: tail,
                    covered,
                    held,
                },
            );
        }
    }

    /// Takes `company`, whose key was `key`, out.
    pub fn remove(&mut self, company: u32, key: &NameKey, key_of: &impl Fn(u32) -> NameKey) {
        let block = self.block_of(key);
        let Some(b) = self.blocks.get_mut(block) else {
            return;
        };
        // Equal keys are one company's (a KvK number is unique).
        let Some(at) = b.companies.iter().position(|c| *c == company) else {
            return;
        };
        b.companies.remove(at);
        self.len -= 1;
        if b.companies.is_empty() {
            self.blocks.remove(block);
        } else if at == 0 {
            b.first = key_of(b.companies[0]);
        }
    }

    /// How many blocks it has.
    #[cfg(test)]
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> NameKey {
        (format!("name {:03}", n / 3), n)
    }

    #[test]
    fn inserts_and_removals_keep_the_order() {
        let mut order = NameOrder::from_sorted(Vec::new(), 8);
        let key_of = |c: u32| key(c);
        // A scrambled insertion order, enough to split blocks.
        let n = 300;
        for i in 0..n {
            let c = (i * 7919) % n;
            order.insert(c, &key(c), &key_of);
        }
        let all: Vec<u32> = order.from(order.start()).collect();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        assert!(order.blocks() > 1);
        for c in (0..n).step_by(2) {
            order.remove(c, &key(c), &key_of);
        }
        let odd: Vec<u32> = order.from(order.start()).collect();
        assert_eq!(odd, (1..n).step_by(2).collect::<Vec<_>>());
        assert_eq!(order.len(), odd.len());
        let from = order.seek(&key(100), &key_of);
        assert_eq!(order.from(from).next(), Some(101));
        let past = order.seek(&("zzz".into(), 0), &key_of);
        assert_eq!(order.from(past).next(), None);
    }
}
