//! Name search in memory, with the semantics of the database's (see
//! `storage::text_search`): a vocabulary of the words in names, each with its
//! companies (a posting list in KvK order); a query token means the words it
//! equals, starts, or resembles (trigram similarity), at most the fifty best;
//! a company's score is the mean over the tokens of its best word's score.
//!
//! Results come best first, then by KvK number. The scores a query can reach
//! are known from the words found (its *tiers*); each tier is walked along the
//! posting lists of one token's words, merged in KvK order, so that a page
//! costs what it shows however common the words are. Every step is counted
//! against a budget (see `search`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use crate::text::{self, MATCH_THRESHOLD};

/// Words a query token may mean, at most this many (the best ones).
const WORDS_PER_TOKEN: usize = 50;
/// Query tokens considered, at most.
const MAX_TOKENS: usize = 6;
/// Score combinations enumerated at most; a query with more (many tokens,
/// each with many near-misses) is ranked in one band over all its candidates.
const MAX_COMBINATIONS: usize = 4096;

/// A trigram, its three characters packed in one integer.
fn packed(trigram: &str) -> u64 {
    trigram
        .chars()
        .fold(0u64, |acc, c| (acc << 21) | u64::from(u32::from(c)))
}

#[derive(Debug)]
struct Word {
    text: Box<str>,
    /// How many distinct trigrams it has.
    trigrams: u32,
    /// KvK numbers of the companies whose names hold it, ascending.
    postings: Vec<u32>,
}

/// The words in names, and whose names hold them.
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    words: Vec<Word>,
    by_text: BTreeMap<Box<str>, u32>,
    by_trigram: HashMap<u64, Vec<u32>>,
}

impl Vocabulary {
    /// The id of `word`, added when new.
    pub fn word(&mut self, word: &str) -> u32 {
        if let Some(id) = self.by_text.get(word) {
            return *id;
        }
        let id = self.words.len() as u32;
        let trigrams = text::trigrams(word);
        for t in &trigrams {
            self.by_trigram.entry(packed(t)).or_default().push(id);
        }
        self.words.push(Word {
            text: word.into(),
            trigrams: trigrams.len() as u32,
            postings: Vec::new(),
        });
        self.by_text.insert(word.into(), id);
        id
    }

    pub fn add_posting(&mut self, word: u32, kvk: u32) {
        let list = &mut self.words[word as usize].postings;
        if let Err(at) = list.binary_search(&kvk) {
            list.insert(at, kvk);
        }
    }

    pub fn remove_posting(&mut self, word: u32, kvk: u32) {
        let list = &mut self.words[word as usize].postings;
        if let Ok(at) = list.binary_search(&kvk) {
            list.remove(at);
        }
    }

    /// Sets every word's posting list at once (bulk loading): `lists[w]` holds
    /// the KvK numbers of word `w`, in any order.
    pub fn set_lists(&mut self, lists: Vec<Vec<u32>>) {
        for (word, mut list) in self.words.iter_mut().zip(lists) {
            list.sort_unstable();
            list.dedup();
            list.shrink_to_fit();
            word.postings = list;
        }
    }

    pub fn postings(&self, word: u32) -> &[u32] {
        &self.words[word as usize].postings
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Bytes held by posting lists (for the memory report).
    pub fn posting_bytes(&self) -> usize {
        self.words.iter().map(|w| w.postings.capacity() * 4).sum()
    }

    /// The words `token` may mean and how well: words it starts (a prefix)
    /// and words sharing enough trigrams with it (a typo), at most
    /// [`WORDS_PER_TOKEN`], best first (then by word). `work` counts the
    /// trigram postings read.
    fn words_for(&self, token: &str, work: &mut usize) -> Vec<(u32, f64)> {
        let mut found: BTreeSet<u32> = BTreeSet::new();
        // Equal, then prefixes in word order: beyond the first fifty none can
        // rank (they all score 0.9, ties go by word).
        for (word, id) in self
            .by_text
            .range::<str, _>((std::ops::Bound::Included(token), std::ops::Bound::Unbounded))
            .take_while(|(w, _)| w.starts_with(token))
            .take(WORDS_PER_TOKEN + 1)
        {
            let _ = word;
            found.insert(*id);
        }
        // Typos: shared trigrams counted per word; similarity is shared over
        // all, at least the match threshold.
        let trigrams = text::trigrams(token);
        let n = trigrams.len() as u32;
        let mut shared: HashMap<u32, u32> = HashMap::new();
        for t in &trigrams {
            if let Some(ids) = self.by_trigram.get(&packed(t)) {
                *work += ids.len();
                for id in ids {
                    *shared.entry(*id).or_default() += 1;
                }
            }
        }
        for (id, s) in shared {
            let m = self.words[id as usize].trigrams;
            // s / (n + m - s) >= threshold, with the threshold 0.4 = 2/5.
            debug_assert!((MATCH_THRESHOLD - 0.4).abs() < f64::EPSILON);
            if 5 * s >= 2 * (n + m - s) {
                found.insert(id);
            }
        }
        let mut scored: Vec<(u32, f64)> = found
            .into_iter()
            .filter_map(|id| {
                text::token_score(token, &self.words[id as usize].text).map(|s| (id, s))
            })
            .collect();
        scored.sort_by(|a, b| {
            b.1.total_cmp(&a.1).then_with(|| {
                self.words[a.0 as usize]
                    .text
                    .cmp(&self.words[b.0 as usize].text)
            })
        });
        scored.truncate(WORDS_PER_TOKEN);
        scored
    }
}

/// Where a ranked walk starts: after (or at) this score and KvK number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    pub score: u32,
    pub kvk: u32,
    /// Whether the company at the start itself comes first (a list of its
    /// certificates may continue there).
    pub inclusive: bool,
}

impl Start {
    fn admits(&self, score: u32, kvk: u32) -> bool {
        let at = (Reverse(self.score), self.kvk);
        let here = (Reverse(score), kvk);
        if self.inclusive {
            here >= at
        } else {
            here > at
        }
    }
}

/// The score of a company whose name has `words`: the mean over the query's
/// tokens of the best score among its words; `None` when a token is not met.
fn company_score(words: &[u32], tokens: &[HashMap<u32, f64>]) -> Option<u32> {
    let mut best = Vec::with_capacity(tokens.len());
    for candidates in tokens {
        best.push(
            words
                .iter()
                .filter_map(|w| candidates.get(w))
                .copied()
                .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))?,
        );
    }
    Some(total(&best))
}

/// The score of a company from its tokens' best word scores, 0–1000.
fn total(best: &[f64]) -> u32 {
    let sum: f64 = best.iter().sum();
    (sum / best.len() as f64 * 1000.0).round() as u32
}

/// The scores a query can give, best first, each with the words of the
/// `driving` token that a company of that score may hold; `None` for every
/// score at once when there are more than [`MAX_COMBINATIONS`].
fn tiers(matches: &[Vec<(u32, f64)>], driving: usize) -> Vec<(Option<u32>, Vec<u32>)> {
    let levels: Vec<Vec<f64>> = matches
        .iter()
        .map(|words| {
            let mut l: Vec<f64> = words.iter().map(|(_, s)| *s).collect();
            l.sort_by(|a, b| b.total_cmp(a));
            l.dedup_by(|a, b| a.to_bits() == b.to_bits());
            l
        })
        .collect();
    let combinations = levels
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(l.len()))
        .unwrap_or(usize::MAX);
    if combinations > MAX_COMBINATIONS {
        return vec![(None, matches[driving].iter().map(|(id, _)| *id).collect())];
    }
    let mut by_total: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let mut at = vec![0usize; levels.len()];
    loop {
        let best: Vec<f64> = at.iter().zip(&levels).map(|(&i, l)| l[i]).collect();
        by_total
            .entry(total(&best))
            .or_default()
            .insert(at[driving]);
        let mut k = 0;
        loop {
            if k == at.len() {
                return by_total
                    .into_iter()
                    .rev()
                    .map(|(total, driving_levels)| {
                        let words = matches[driving]
                            .iter()
                            .filter(|(_, s)| {
                                driving_levels
                                    .iter()
                                    .any(|&i| levels[driving][i].to_bits() == s.to_bits())
                            })
                            .map(|(id, _)| *id)
                            .collect();
                        (Some(total), words)
                    })
                    .collect();
            }
            at[k] += 1;
            if at[k] < levels[k].len() {
                break;
            }
            at[k] = 0;
            k += 1;
        }
    }
}

/// The posting lists of a tier, merged in KvK order from a start.
#[derive(Debug)]
struct Merge {
    heads: BinaryHeap<Reverse<(u32, usize, usize)>>,
    last: Option<u32>,
}

/// The companies whose names match a query, best first then by KvK number,
/// with their scores.
#[derive(Debug)]
pub(crate) struct Ranked {
    tokens: Vec<HashMap<u32, f64>>,
    tiers: Vec<(Option<u32>, Vec<u32>)>,
    next_tier: usize,
    merge: Option<Merge>,
    /// A tier of every score at once, read whole and sorted.
    band: Option<std::vec::IntoIter<(u32, u32)>>,
    start: Option<Start>,
    /// The last place examined: a tier's score and a KvK number.
    position: Option<(u32, u32)>,
}

/// What a ranked walk needs of the companies: their words by KvK number.
pub(crate) trait WordsOf {
    fn words_of(&self, kvk: u32) -> &[u32];
}

impl Ranked {
    /// Plans the walk for `query` from `start`. No match at all when a token
    /// means no word. `work` counts what planning read.
    pub fn new(
        vocabulary: &Vocabulary,
        query: &str,
        start: Option<Start>,
        work: &mut usize,
    ) -> Self {
        let mut ranked = Ranked {
            tokens: Vec::new(),
            tiers: Vec::new(),
            next_tier: 0,
            merge: None,
            band: None,
            start,
            position: None,
        };
        let tokens: Vec<String> = text::search_words(query)
            .into_iter()
            .take(MAX_TOKENS)
            .collect();
        let mut matches: Vec<Vec<(u32, f64)>> = Vec::with_capacity(tokens.len());
        for token in &tokens {
            let words = vocabulary.words_for(token, work);
            if words.is_empty() {
                return ranked;
            }
            matches.push(words);
        }
        if matches.is_empty() {
            return ranked;
        }
        // The token whose words are held by the fewest companies drives.
        let reach = |words: &[(u32, f64)]| -> usize {
            words
                .iter()
                .map(|(id, _)| vocabulary.postings(*id).len())
                .sum()
        };
        let driving = (0..matches.len())
            .min_by_key(|&i| reach(&matches[i]))
            .unwrap_or(0);
        ranked.tiers = tiers(&matches, driving)
            .into_iter()
            .filter(|(total, _)| start.is_none_or(|s| total.is_none_or(|t| t <= s.score)))
            .collect();
        ranked.tokens = matches
            .into_iter()
            .map(|words| words.into_iter().collect())
            .collect();
        ranked
    }

    /// The last place examined, to continue after: a score and a KvK number.
    pub fn position(&self) -> Option<(u32, u32)> {
        self.position
    }

    /// The next company and its score; `None` at the end or when `budget`
    /// (postings examined) runs out.
    pub fn next(
        &mut self,
        vocabulary: &Vocabulary,
        companies: &impl WordsOf,
        budget: &mut super::search::Budget,
    ) -> Option<(u32, u32)> {
        loop {
            if let Some(band) = &mut self.band {
                let (kvk, score) = band.next()?;
                self.position = Some((score, kvk));
                return Some((kvk, score));
            }
            let (total, words) = self.tiers.get(self.next_tier)?;
            let Some(total) = *total else {
                self.read_band(vocabulary, companies, budget)?;
                continue;
            };
            let merge = self.merge.get_or_insert_with(|| {
                let from = self
                    .start
                    .filter(|s| s.score == total)
                    .map(|s| (s.kvk, s.inclusive));
                let mut heads = BinaryHeap::new();
                for (list, word) in words.iter().enumerate() {
                    let postings = vocabulary.postings(*word);
                    let at = match from {
                        Some((kvk, true)) => postings.partition_point(|k| *k < kvk),
                        Some((kvk, false)) => postings.partition_point(|k| *k <= kvk),
                        None => 0,
                    };
                    if let Some(kvk) = postings.get(at) {
                        heads.push(Reverse((*kvk, list, at)));
                    }
                }
                Merge { heads, last: None }
            });
            let Some(Reverse((kvk, list, at))) = merge.heads.pop() else {
                self.merge = None;
                self.next_tier += 1;
                continue;
            };
            if let Some(next) = vocabulary.postings(words[list]).get(at + 1) {
                merge.heads.push(Reverse((*next, list, at + 1)));
            }
            if merge.last == Some(kvk) {
                continue;
            }
            merge.last = Some(kvk);
            if !budget.spend(1) {
                return None;
            }
            self.position = Some((total, kvk));
            if company_score(companies.words_of(kvk), &self.tokens) == Some(total) {
                return Some((kvk, total));
            }
        }
    }

    /// Reads a tier of every score whole: its companies, scored and sorted.
    /// `None` when that takes more than the budget.
    fn read_band(
        &mut self,
        vocabulary: &Vocabulary,
        companies: &impl WordsOf,
        budget: &mut super::search::Budget,
    ) -> Option<()> {
        let (_, words) = self.tiers.get(self.next_tier)?;
        let reach: usize = words.iter().map(|w| vocabulary.postings(*w).len()).sum();
        if !budget.spend_whole(reach) {
            return None;
        }
        let candidates: BTreeSet<u32> = words
            .iter()
            .flat_map(|w| vocabulary.postings(*w).iter().copied())
            .collect();
        let mut found: Vec<(u32, u32)> = candidates
            .into_iter()
            .filter_map(|kvk| {
                let score = company_score(companies.words_of(kvk), &self.tokens)?;
                self.start
                    .is_none_or(|s| s.admits(score, kvk))
                    .then_some((kvk, score))
            })
            .collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.band = Some(found.into_iter());
        self.next_tier += 1;
        Some(())
    }
}
