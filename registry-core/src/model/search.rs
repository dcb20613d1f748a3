//! Search over the read model, with the database search's semantics (see
//! `registry::search`): the same filters, decided by the same status rule and
//! predicates, the same orders and cursors.
//!
//! Every request's work is bounded: a [`Budget`] counts the candidates a page
//! examines. When it runs out before the page is full, the page ends early
//! with a cursor at the last place examined, and the next page goes on from
//! there; a walk so still sees every row once. Filters whose values no company
//! has answer at once, and a filter that names few companies (a small city, a
//! rare sector, a small CB) is read from its own list instead of walking every
//! name.

use std::collections::BTreeSet;

use super::names::{Ranked, Start, WordsOf};
use super::order::{NameKey, NameOrder, Of};
use super::store::{CbRef, Store};
use super::summary::{Classes, needed};
use crate::certificate::CertificateNumber;
use crate::company::KvkNumber;
use crate::error::CoreError;
use crate::registry::{Certificate, CompanyHit, SearchCursor, SearchFilter, SearchPage};
use crate::status::{StatusAnswer, certificate_state_at, verdict};
use crate::text;

/// Candidates one page may examine (names walked, postings merged, companies
/// judged): about a millisecond of work.
pub(crate) const EXAMINED_PER_PAGE: usize = 5_000;
/// A filter naming at most this many companies is read from its own list.
const SMALL_LIST: usize = 2_000;

/// What a request may still examine.
#[derive(Debug)]
pub(crate) struct Budget {
    left: usize,
    exhausted: bool,
}

impl Budget {
    pub fn new(n: usize) -> Self {
        Self {
            left: n,
            exhausted: false,
        }
    }

    /// Takes `n`; `false` (and exhausted) when less is left.
    pub fn spend(&mut self, n: usize) -> bool {
        if self.left < n {
            self.exhausted = true;
            return false;
        }
        self.left -= n;
        true
    }

    /// Takes `n` when the whole budget of a request could ever hold it.
    pub fn spend_whole(&mut self, n: usize) -> bool {
        self.spend(n)
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted
    }
}

impl WordsOf for Store {
    fn words_of(&self, kvk: u32) -> &[u32] {
        self.by_kvk.get(&kvk).map_or(&[], |c| self.words(*c))
    }
}

/// A filter resolved against the model: `None` when it can match nothing.
#[derive(Debug)]
struct Compiled<'f> {
    filter: &'f SearchFilter,
    city: Option<u32>,
    kvk: Option<u32>,
    cb: Option<CbRef>,
}

fn compile<'f>(store: &Store, filter: &'f SearchFilter) -> Option<Compiled<'f>> {
    let city = match &filter.city {
        None => None,
        Some(c) => Some(store.city_keys.find(&text::fold(c.trim()))?),
    };
    let cb = match &filter.certification_body {
        None => None,
        Some(cb) => Some(CbRef::new(store.cbs.find(cb)?)),
    };
    Some(Compiled {
        filter,
        city,
        kvk: filter.kvk.as_ref().map(KvkNumber::value),
        cb,
    })
}

impl Compiled<'_> {
    /// Whether a company's place matches (the city compared by its key).
    fn place(&self, store: &Store, company: u32) -> bool {
        let f = self.filter;
        self.city.is_none_or(|k| store.city_key(company) == Some(k))
            && f.province
                .is_none_or(|p| store.province(company) == Some(p))
            && f.sbi.as_ref().is_none_or(|prefix| {
                store
                    .sbi_codes(company)
                    .iter()
                    .any(|c| c.as_str().starts_with(prefix.as_str()))
            })
    }

    /// The company's standing when it matches every filter but the name.
    fn company(&self, store: &Store, company: u32) -> Option<StatusAnswer> {
        if self.kvk.is_some_and(|k| store.kvk(company) != k) || !self.place(store, company) {
            return None;
        }
        let facts = store.facts_of(company);
        let question = self.filter.question();
        let v = verdict(&facts, &question);
        if !self.filter.admits_company(&v, v.speaker.map(|s| s.cb())) {
            return None;
        }
        Some(StatusAnswer {
            certified: v.certified,
            status: v.status,
            level: v.level,
            pso30plus: v.pso30plus,
            certificate_number: v.speaker.map(|s| store.number(s.id)),
            certification_body: v.speaker.map(|s| s.cb().clone()),
            valid_until: v.valid_until,
        })
    }

    /// Whether a certificate (of a holder whose place matched) matches.
    fn certificate(&self, store: &Store, id: u32) -> bool {
        let Some(facts) = store.facts(id) else {
            return false;
        };
        let rec = facts.rec;
        self.cb.is_none_or(|cb| rec.cb == cb)
            && self.kvk.is_none_or(|k| {
                store.kvk(rec.main) == k
                    || store.subsidiaries(rec).iter().any(|s| store.kvk(*s) == k)
            })
            && self
                .filter
                .admits_certificate(&certificate_state_at(&facts, self.filter.at))
    }
}

fn invalid_cursor() -> CoreError {
    CoreError::field("cursor", "is not a cursor this API handed out")
}

fn kvk_of_cursor(s: &str) -> Result<u32, CoreError> {
    KvkNumber::parse(s)
        .map(|k| k.value())
        .map_err(|_| invalid_cursor())
}

fn kvk_string(kvk: u32) -> String {
    KvkNumber::from_value(kvk).as_str().to_owned()
}

/// A page of `items`: `next` when more may follow.
fn page<T>(items: Vec<T>, next: Option<SearchCursor>) -> SearchPage<T> {
    SearchPage { items, next }
}

impl Store {
    /// Companies matching `filter`, a page of at most `limit` after `after`.
    pub fn search_companies(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: usize,
        mut budget: Budget,
    ) -> Result<SearchPage<CompanyHit>, CoreError> {
        let classes = needed(filter, true);
        let Some(compiled) = compile(self, filter).filter(|_| !classes.is_empty()) else {
            return Ok(page(Vec::new(), None));
        };
        if let Some(q) = filter.ranked_query() {
            let start = after
                .map(|c| {
                    Ok::<_, CoreError>(Start {
                        score: c.score.unwrap_or(u32::MAX),
                        kvk: kvk_of_cursor(&c.key)?,
                        inclusive: false,
                    })
                })
                .transpose()?;
            let mut ranked = Ranked::new(&self.vocabulary, q, start, &mut 0);
            let mut hits: Vec<(u32, u32, StatusAnswer)> = Vec::new();
            // Each candidate is counted once, by the walk: judging it is part
            // of examining it.
            while hits.len() <= limit {
                let Some((kvk, score)) = ranked.next(&self.vocabulary, self, &mut budget) else {
                    break;
                };
                let Some(company) = self.by_kvk.get(&kvk).copied() else {
                    continue;
                };
                if let Some(standing) = compiled.company(self, company) {
                    hits.push((company, score, standing));
                }
            }
            let cursor = |score: u32, kvk: u32| SearchCursor {
                score: Some(score),
                key: kvk_string(kvk),
                id: kvk_string(kvk),
            };
            let next = if hits.len() > limit {
                hits.truncate(limit);
                hits.last().map(|(c, s, _)| cursor(*s, self.kvk(*c)))
            } else if budget.exhausted() {
                ranked.position().map(|(s, k)| cursor(s, k))
            } else {
                None
            };
            if budget.exhausted() && next.is_none() && hits.is_empty() {
                return Err(CoreError::field(
                    "q",
                    "matches too many names to rank in one request: use fewer short or common words",
                ));
            }
            let items = hits
                .into_iter()
                .map(|(c, _, standing)| CompanyHit {
                    company: self.company(c),
                    standing,
                })
                .collect();
            return Ok(page(items, next));
        }
        let position = after
            .map(|c| Ok::<_, CoreError>((c.key.clone(), kvk_of_cursor(&c.id)?)))
            .transpose()?;
        let (hits, next) =
            self.walk_names(&compiled, classes, position.as_ref(), limit, &mut budget);
        let items = hits
            .into_iter()
            .map(|(c, standing)| CompanyHit {
                company: self.company(c),
                standing,
            })
            .collect();
        Ok(page(items, next))
    }

    /// The companies a filter names by a list of their own, when one is
    /// small: those of a KvK number, a city, a sector or a CB.
    fn small_list(&self, compiled: &Compiled<'_>) -> Option<Vec<u32>> {
        let f = compiled.filter;
        let mut lists: Vec<Vec<u32>> = Vec::new();
        if let Some(kvk) = compiled.kvk {
            lists.push(self.by_kvk.get(&kvk).copied().into_iter().collect());
        }
        if let Some(city) = compiled.city {
            lists.push(self.city_companies[city as usize].clone());
        }
        if let Some(prefix) = &f.sbi {
            let size: usize = self
                .sbi_companies
                .range::<str, _>((
                    std::ops::Bound::Included(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(code, _)| code.starts_with(prefix.as_str()))
                .map(|(_, list)| list.len())
                .sum();
            if size <= SMALL_LIST {
                lists.push(
                    self.sbi_companies
                        .range::<str, _>((
                            std::ops::Bound::Included(prefix.as_str()),
                            std::ops::Bound::Unbounded,
                        ))
                        .take_while(|(code, _)| code.starts_with(prefix.as_str()))
                        .flat_map(|(_, list)| list.iter().copied())
                        .collect(),
                );
            }
        }
        if let Some(cb) = compiled.cb {
            let certificates = &self.cb_certificates[cb.index() as usize];
            if certificates.len() <= SMALL_LIST {
                lists.push(
                    certificates
                        .iter()
                        .filter_map(|id| self.certificate(*id))
                        .flat_map(|c| {
                            std::iter::once(c.main).chain(self.subsidiaries(c).iter().copied())
                        })
                        .collect(),
                );
            }
        }
        lists
            .into_iter()
            .min_by_key(Vec::len)
            .filter(|l| l.len() <= SMALL_LIST)
    }

    /// Companies by name after `position` that match: from a small list of
    /// their own, or walking every name within `budget`. Returns the page and
    /// where the next one starts.
    fn walk_names(
        &self,
        compiled: &Compiled<'_>,
        classes: Classes,
        position: Option<&NameKey>,
        limit: usize,
        budget: &mut Budget,
    ) -> (Vec<(u32, StatusAnswer)>, Option<SearchCursor>) {
        let cursor = |key: NameKey| SearchCursor {
            score: None,
            key: key.0,
            id: kvk_string(key.1),
        };
        if let Some(list) = self.small_list(compiled) {
            let mut keyed: Vec<(NameKey, u32)> = list
                .into_iter()
                .collect::<BTreeSet<u32>>()
                .into_iter()
                .map(|c| (self.sort_key(c), c))
                .filter(|(k, _)| position.is_none_or(|p| k > p))
                .collect();
            keyed.sort();
            let mut hits = Vec::new();
            let mut last_key = None;
            for (key, c) in keyed {
                if let Some(standing) = compiled.company(self, c) {
                    if hits.len() == limit {
                        return (hits, last_key.map(cursor));
                    }
                    hits.push((c, standing));
                    last_key = Some(key);
                }
            }
            return (hits, None);
        }
        let key_of = |c: u32| self.sort_key(c);
        let mut at = match position {
            None => self.order.start(),
            Some(p) => {
                let at = self.order.seek(p, &key_of);
                match self.order.next(at) {
                    Some((c, after)) if self.sort_key(c) == *p => after,
                    _ => at,
                }
            }
        };
        let mut hits: Vec<(u32, StatusAnswer)> = Vec::new();
        let mut examined = None;
        // Blocks whose certificates cannot match on the day are passed over.
        let t = compiled.filter.at;
        let skip = |at| {
            if classes.is_all() {
                at
            } else {
                self.order.skip(at, Of::Covered, |s| s.may(classes, t)).0
            }
        };
        at = skip(at);
        while let Some((c, after)) = self.order.next(at) {
            // The first is always examined, so that every page moves on.
            if !budget.spend(1) && examined.is_some() {
                break;
            }
            at = if NameOrder::at_block_start(after) {
                skip(after)
            } else {
                after
            };
            examined = Some(c);
            if let Some(standing) = compiled.company(self, c) {
                if hits.len() == limit {
                    let last = hits.last().map(|(c, _)| *c);
                    return (hits, last.map(|c| cursor(self.sort_key(c))));
                }
                hits.push((c, standing));
            }
        }
        let next = budget
            .exhausted()
            .then(|| examined.map(|c| cursor(self.sort_key(c))))
            .flatten();
        (hits, next)
    }

    /// Certificates matching `filter`, a page of at most `limit` after `after`.
    pub fn search_certificates(
        &self,
        filter: &SearchFilter,
        after: Option<&SearchCursor>,
        limit: usize,
        mut budget: Budget,
    ) -> Result<SearchPage<Certificate>, CoreError> {
        let classes = needed(filter, false);
        let Some(compiled) = compile(self, filter).filter(|_| !classes.is_empty()) else {
            return Ok(page(Vec::new(), None));
        };
        let mut hits: Vec<(SearchCursor, u32)> = Vec::new();
        let mut next = None;
        if let Some(q) = filter.ranked_query() {
            let start = after
                .map(|c| {
                    Ok::<_, CoreError>(Start {
                        score: c.score.unwrap_or(u32::MAX),
                        kvk: kvk_of_cursor(&c.key)?,
                        inclusive: true,
                    })
                })
                .transpose()?;
            let mut ranked = Ranked::new(&self.vocabulary, q, start, &mut 0);
            let cursor = |score: u32, key: &str, id: &str| SearchCursor {
                score: Some(score),
                key: key.to_owned(),
                id: id.to_owned(),
            };
            'holders: loop {
                let Some((kvk, score)) = ranked.next(&self.vocabulary, self, &mut budget) else {
                    // Out of budget: every certificate of the holder examined
                    // last was looked at (`~` sorts after every number).
                    if budget.exhausted() {
                        next = ranked
                            .position()
                            .map(|(s, k)| cursor(s, &kvk_string(k), "~"));
                    }
                    break;
                };
                let Some(holder) = self.by_kvk.get(&kvk).copied() else {
                    continue;
                };
                if !compiled.place(self, holder) {
                    continue;
                }
                let key = kvk_string(kvk);
                let mut held: Vec<(CertificateNumber, u32)> = self
                    .certificates_of(holder)
                    .filter(|id| self.certificate(*id).is_some_and(|c| c.main == holder))
                    .map(|id| (self.number(id), id))
                    .filter(|(n, _)| after.is_none_or(|c| ranked_after(score, &key, n.as_str(), c)))
                    .collect();
                held.sort();
                // Before the first of them (an empty id sorts first).
                let mut examined = String::new();
                for (n, id) in held {
                    if !budget.spend(1) {
                        next = Some(cursor(score, &key, &examined));
                        break 'holders;
                    }
                    examined = n.as_str().to_owned();
                    if compiled.certificate(self, id) {
                        hits.push((cursor(score, &key, n.as_str()), id));
                        if hits.len() > limit {
                            break 'holders;
                        }
                    }
                }
            }
            if budget.exhausted() && next.is_none() && hits.is_empty() {
                return Err(CoreError::field(
                    "q",
                    "matches too many names to rank in one request: use fewer short or common words",
                ));
            }
        } else {
            next =
                self.walk_certificates(&compiled, classes, after, limit, &mut budget, &mut hits)?;
        }
        if hits.len() > limit {
            hits.truncate(limit);
            next = hits.last().map(|(c, _)| c.clone());
        }
        let next = next.map(|mut c| {
            if filter.ranked_query().is_none() {
                c.score = None;
            }
            c
        });
        let items = hits
            .into_iter()
            .filter_map(|(_, id)| self.full_certificate(id))
            .collect();
        Ok(page(items, next))
    }

    /// Certificates by their holder's name, then number, after `after`; the
    /// cursor of the last place examined when the budget ran out.
    fn walk_certificates(
        &self,
        compiled: &Compiled<'_>,
        classes: Classes,
        after: Option<&SearchCursor>,
        limit: usize,
        budget: &mut Budget,
        hits: &mut Vec<(SearchCursor, u32)>,
    ) -> Result<Option<SearchCursor>, CoreError> {
        let key_of = |c: u32| self.sort_key(c);
        let mut at = match after {
            None => self.order.start(),
            Some(c) => self.order.seek(&(c.key.clone(), 0), &key_of),
        };
        // Holders that share a folded name list their certificates together,
        // by number. A group is gathered whole (its size is the data's, not
        // the request's); its certificates are examined within the budget. The
        // first group is always finished, so that every page moves on.
        let resume = |key: &str, id: &str| {
            Some(SearchCursor {
                score: None,
                key: key.to_owned(),
                id: id.to_owned(),
            })
        };
        let mut progressed = false;
        let t = compiled.filter.at;
        let mut first_round = true;
        loop {
            // A new group begins: blocks whose certificates cannot match on
            // the day are passed over.
            if !classes.is_all() && (first_round || NameOrder::at_block_start(at)) {
                at = self.order.skip(at, Of::Held, |s| s.may(classes, t)).0;
            }
            first_round = false;
            let Some((first, _)) = self.order.next(at) else {
                return Ok(None);
            };
            let name = text::sort_key(self.name(first));
            let mut group: Vec<(String, u32)> = Vec::new();
            while let Some((c, after_c)) = self.order.next(at) {
                if text::sort_key(self.name(c)) != name {
                    break;
                }
                budget.spend(1);
                at = after_c;
                if compiled.place(self, c) {
                    group.extend(
                        self.certificates_of(c)
                            .filter(|id| self.certificate(*id).is_some_and(|r| r.main == c))
                            .map(|id| (self.number(id).as_str().to_owned(), id)),
                    );
                }
            }
            group.sort();
            // Before the group's first certificate (an empty id sorts first).
            let mut examined = String::new();
            for (n, id) in group {
                if after
                    .is_some_and(|c| (name.as_str(), n.as_str()) <= (c.key.as_str(), c.id.as_str()))
                {
                    continue;
                }
                if !budget.spend(1) && progressed {
                    return Ok(resume(&name, &examined));
                }
                if compiled.certificate(self, id) {
                    hits.push((
                        SearchCursor {
                            score: None,
                            key: name.clone(),
                            id: n.clone(),
                        },
                        id,
                    ));
                    if hits.len() > limit {
                        return Ok(None);
                    }
                }
                examined = n;
            }
            progressed = true;
            if budget.exhausted() {
                // After every certificate of this group (`~` sorts after
                // every number).
                return Ok(resume(&name, "~"));
            }
        }
    }
}

/// Whether a ranked result comes after the cursor in relevance order: score
/// descending, then key (the holder's KvK number), then id, ascending.
fn ranked_after(score: u32, key: &str, id: &str, cursor: &SearchCursor) -> bool {
    let c = cursor.score.unwrap_or(u32::MAX);
    (std::cmp::Reverse(score), key, id)
        > (
            std::cmp::Reverse(c),
            cursor.key.as_str(),
            cursor.id.as_str(),
        )
}
