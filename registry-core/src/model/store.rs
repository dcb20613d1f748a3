//! The read model's data: every company and certificate of the register in a
//! compact form (texts in one arena, repeated values interned, numbers as
//! integers), the indexes search uses, and the few changes the event log makes
//! to them. What is kept here is derived: built from the database and from the
//! events it appends (see `load` and `apply`).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use smallvec::SmallVec;

use super::names::Vocabulary;
use super::order::{NameOrder, Of};
use super::summary::Summary;
use crate::certificate::{CbReference, CertificateNumber, StandingChange};
use crate::certification_body::CbId;
use crate::company::{KvkNumber, Name, Province, SbiCode};
use crate::level::Level;
use crate::period::{HandbookVersion, Period, Score};
use crate::registry::{Certificate, Covered};
use crate::scheme::{Scheme, SchemeRules};
use crate::status::{HistoryFacts, PeriodFacts};
use crate::storage::rows::Company;
use crate::text;
use crate::time::{date_at, start_of_day};

/// A stretch of the text arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Text {
    start: u32,
    len: u32,
}

/// Every text the model keeps, one after another: names, CB references. A text
/// replaced stays behind (a company renamed is rare); the arena is built anew
/// at every start.
#[derive(Debug, Default)]
pub(crate) struct Texts(String);

impl Texts {
    pub fn push(&mut self, s: &str) -> Text {
        let start = self.0.len();
        self.0.push_str(s);
        // The arena stays below 4 GiB: a register of a million companies
        // keeps about 60 MB here.
        Text {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(s.len()).unwrap_or(0),
        }
    }

    pub fn get(&self, t: Text) -> &str {
        let start = t.start as usize;
        self.0
            .get(start..start + t.len as usize)
            .unwrap_or_default()
    }

    pub fn bytes(&self) -> usize {
        self.0.capacity()
    }
}

/// A stretch of an [`Arena`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

/// Short lists kept one after another (a certificate's subsidiaries and
/// standing changes, a company's trade names and words): no allocation of
/// their own. A list that grows moves to the end; what it leaves behind stays
/// until the next start.
#[derive(Debug)]
pub(crate) struct Arena<T>(Vec<T>);

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena(Vec::new())
    }
}

impl<T: Clone> Arena<T> {
    pub fn push(&mut self, items: &[T]) -> Span {
        if items.is_empty() {
            return Span::default();
        }
        let start = self.0.len() as u32;
        self.0.extend_from_slice(items);
        Span {
            start,
            len: items.len() as u32,
        }
    }

    pub fn get(&self, span: Span) -> &[T] {
        let start = span.start as usize;
        self.0
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    /// `span` with `item` after it.
    pub fn append(&mut self, span: Span, item: T) -> Span {
        if span.len > 0 && (span.start + span.len) as usize == self.0.len() {
            self.0.push(item);
            return Span {
                start: span.start,
                len: span.len + 1,
            };
        }
        let mut items = self.get(span).to_vec();
        items.push(item);
        self.push(&items)
    }

    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// Values kept once, named by their position.
#[derive(Debug)]
pub(crate) struct Interned<T> {
    items: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Clone + Eq + Hash> Interned<T> {
    pub fn id(&mut self, value: &T) -> u32 {
        if let Some(id) = self.index.get(value) {
            return *id;
        }
        let id = self.items.len() as u32;
        self.items.push(value.clone());
        self.index.insert(value.clone(), id);
        id
    }

    pub fn find(&self, value: &T) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// A value by its text, among few (a linear look: CBs, handbook versions).
    pub fn find_str(&self, text: &str) -> Option<u32>
    where
        T: AsRef<str>,
    {
        self.items
            .iter()
            .position(|v| v.as_ref() == text)
            .map(|i| i as u32)
    }

    pub fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }
}

/// `None` for a score part stored as NaN (a score is never NaN).
fn part(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// A validity period, compact (its instants come from
/// [`crate::time::start_of_day`]'s table of days).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModelPeriod {
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    audit_date: NaiveDate,
    score_percent: f64,
    total_fte: f64,
    reference_year: i16,
    handbook: u16,
    level: Level,
    pso30plus: bool,
}

impl PeriodFacts for ModelPeriod {
    fn level(&self) -> Level {
        self.level
    }
    fn pso30plus(&self) -> bool {
        self.pso30plus
    }
    fn valid_until(&self) -> NaiveDate {
        self.valid_until
    }
    fn starts_at(&self) -> DateTime<Utc> {
        start_of_day(self.valid_from)
    }
    fn ends_at(&self) -> DateTime<Utc> {
        start_of_day(self.valid_until)
    }
}

/// What a period is made of, its handbook version interned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeriodParts {
    pub level: Level,
    pub pso30plus: bool,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub audit_date: NaiveDate,
    pub reference_year: i32,
    pub handbook: u32,
    pub score: Score,
}

/// A certificate, compact.
#[derive(Debug)]
pub(crate) struct CertRec {
    pub periods: SmallVec<[ModelPeriod; 1]>,
    /// Microseconds since the epoch.
    pub issued_at: i64,
    pub cb_reference: Text,
    /// The other legal entities covered (company indexes, in `covered`).
    pub subsidiaries: Span,
    /// Its standing changes (in `changes`).
    pub changes: Span,
    /// The main applicant (a company index).
    pub main: u32,
    /// The certificate this one superseded (a certificate id; 0: none).
    pub replaces: u32,
    /// Its CB (an interned id).
    pub cb: CbRef,
    pub scheme: Scheme,
}

/// A CB of the register, interned (never zero, so that an absent certificate
/// costs no space of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CbRef(std::num::NonZeroU16);

impl CbRef {
    pub fn new(index: u32) -> Self {
        let n = u16::try_from(index.saturating_add(1)).unwrap_or(u16::MAX);
        CbRef(std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MAX))
    }

    pub fn index(self) -> u32 {
        u32::from(self.0.get()) - 1
    }
}

/// A company, compact.
#[derive(Debug, Clone)]
pub(crate) struct CompanyRec {
    pub kvk: u32,
    pub name: Text,
    /// Its trade names (in `trade_names`).
    pub trade_names: Span,
    /// Its city (an index into `cities`, plus one; 0: none).
    pub city: u32,
    /// Its province (a position in `Province::ALL`, plus one; 0: none).
    pub province: u8,
    /// Its SBI codes (an interned set).
    pub sbi: u32,
    /// Its search words (in `word_ids`).
    pub words: Span,
    /// The certificates that cover it, as main applicant or subsidiary: the
    /// first, and the rest (an index into `more_certs`; 0: none).
    pub first_cert: u32,
    pub more_certs: u32,
}

/// A city as given, and its folded key (what the city filter compares).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct City {
    pub name: Name,
    pub key: u32,
}

fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// The public facts of a company, as the model sets them.
#[derive(Debug, Clone)]
pub(crate) struct CompanyFacts<'a> {
    pub name: &'a Name,
    pub trade_names: &'a [Name],
    pub city: Option<&'a Name>,
    pub province: Option<Province>,
    pub sbi_codes: &'a [SbiCode],
}

/// The register in memory.
#[derive(Debug)]
pub(crate) struct Store {
    /// The last event applied.
    pub seq: i64,
    pub rules: SchemeRules,
    pub texts: Texts,
    pub companies: Vec<CompanyRec>,
    pub by_kvk: HashMap<u32, u32>,
    /// By certificate id (the database's row id).
    pub certificates: Vec<Option<CertRec>>,
    pub certificate_count: usize,
    /// Numbers that are not the one the register assigns from the id (none
    /// are, unless a database was edited by hand): both ways.
    number_overrides: HashMap<u32, CertificateNumber>,
    numbers_overridden: HashMap<String, u32>,
    pub more_certs: Vec<Vec<u32>>,
    pub trade_names: Arena<Text>,
    /// Certificates' subsidiaries and standing changes.
    pub covered: Arena<u32>,
    pub changes: Arena<StandingChange>,
    pub cities: Interned<City>,
    pub city_keys: Interned<String>,
    /// Per city key, its companies (unordered).
    pub city_companies: Vec<Vec<u32>>,
    pub sbi_sets: Interned<Box<[SbiCode]>>,
    /// Per SBI code, its companies (unordered).
    pub sbi_companies: BTreeMap<String, Vec<u32>>,
    pub cbs: Interned<CbId>,
    /// Per CB, its certificates (unordered).
    pub cb_certificates: Vec<Vec<u32>>,
    pub handbooks: Interned<HandbookVersion>,
    /// Every company's search words, one stretch each.
    pub word_ids: Arena<u32>,
    pub vocabulary: Vocabulary,
    pub order: NameOrder,
    /// The transparency log's edge as of `seq`: its size and root.
    pub log: crate::log::Frontier,
    /// `log`'s root, kept as the log grows (a signed answer names it).
    pub log_root: crate::log::Hash,
    /// An event came without its leaf (or out of turn): the edge must be read
    /// again from the log (see `ReadModel::catch_up`).
    pub log_stale: bool,
}

impl Store {
    pub fn new(rules: SchemeRules) -> Self {
        let mut store = Self {
            seq: 0,
            rules,
            texts: Texts::default(),
            companies: Vec::new(),
            by_kvk: HashMap::new(),
            certificates: Vec::new(),
            certificate_count: 0,
            number_overrides: HashMap::new(),
            numbers_overridden: HashMap::new(),
            more_certs: vec![Vec::new()],
            log: crate::log::Frontier::default(),
            log_root: crate::log::tree::empty_root(),
            log_stale: false,
            trade_names: Arena::default(),
            covered: Arena::default(),
            changes: Arena::default(),
            cities: Interned::default(),
            city_keys: Interned::default(),
            city_companies: Vec::new(),
            sbi_sets: Interned::default(),
            sbi_companies: BTreeMap::new(),
            cbs: Interned::default(),
            cb_certificates: Vec::new(),
            handbooks: Interned::default(),
            word_ids: Arena::default(),
            vocabulary: Vocabulary::default(),
            order: NameOrder::default(),
        };
        store.sbi_sets.id(&Box::default());
        store
    }

    // ---- reading one value back ----

    pub fn name(&self, company: u32) -> &str {
        self.texts.get(self.companies[company as usize].name)
    }

    pub fn kvk(&self, company: u32) -> u32 {
        self.companies[company as usize].kvk
    }

    /// The key companies are listed by: the folded name, then the KvK number.
    pub fn sort_key(&self, company: u32) -> (String, u32) {
        (text::sort_key(self.name(company)), self.kvk(company))
    }

    pub fn words(&self, company: u32) -> &[u32] {
        self.word_ids.get(self.companies[company as usize].words)
    }

    /// A company's trade names.
    pub fn trade_names(&self, company: u32) -> impl Iterator<Item = &str> + '_ {
        self.trade_names
            .get(self.companies[company as usize].trade_names)
            .iter()
            .map(|t| self.texts.get(*t))
    }

    /// The subsidiaries a certificate covers.
    pub fn subsidiaries(&self, c: &CertRec) -> &[u32] {
        self.covered.get(c.subsidiaries)
    }

    pub fn city_key(&self, company: u32) -> Option<u32> {
        match self.companies[company as usize].city {
            0 => None,
            c => Some(self.cities.get(c - 1).key),
        }
    }

    pub fn province(&self, company: u32) -> Option<Province> {
        match self.companies[company as usize].province {
            0 => None,
            p => Province::ALL.get(usize::from(p) - 1).copied(),
        }
    }

    pub fn sbi_codes(&self, company: u32) -> &[SbiCode] {
        self.sbi_sets.get(self.companies[company as usize].sbi)
    }

    /// The certificates that cover a company.
    pub fn certificates_of(&self, company: u32) -> impl Iterator<Item = u32> + '_ {
        let c = &self.companies[company as usize];
        let first = (c.first_cert != 0).then_some(c.first_cert);
        first
            .into_iter()
            .chain(self.more_certs[c.more_certs as usize].iter().copied())
    }

    pub fn certificate(&self, id: u32) -> Option<&CertRec> {
        self.certificates.get(id as usize).and_then(Option::as_ref)
    }

    /// A certificate with what the status rule asks of it.
    pub fn facts(&self, id: u32) -> Option<CertFacts<'_>> {
        Some(CertFacts {
            store: self,
            id,
            rec: self.certificate(id)?,
        })
    }

    /// The facts of every certificate covering `company`.
    pub fn facts_of(&self, company: u32) -> SmallVec<[CertFacts<'_>; 2]> {
        self.certificates_of(company)
            .filter_map(|id| self.facts(id))
            .collect()
    }

    pub fn number(&self, id: u32) -> CertificateNumber {
        if let Some(n) = self.number_overrides.get(&id) {
            return n.clone();
        }
        let issued = self
            .certificate(id)
            .map_or(0, |c| date_at(from_micros(c.issued_at)).year());
        CertificateNumber::assign(&self.rules.number_prefix, issued, i64::from(id))
    }

    /// The certificate with number `n`, if the register has it.
    pub fn certificate_id(&self, n: &CertificateNumber) -> Option<u32> {
        if let Some(id) = self.numbers_overridden.get(n.as_str()) {
            return Some(*id);
        }
        let serial = n.as_str().rsplit('-').next()?;
        let id = serial.parse::<u32>().ok()?;
        (self.certificate(id).is_some() && !self.number_overrides.contains_key(&id))
            .then(|| self.number(id))
            .filter(|assigned| assigned == n)
            .map(|_| id)
    }

    pub fn company_id(&self, kvk: &KvkNumber) -> Option<u32> {
        self.by_kvk.get(&kvk.value()).copied()
    }

    /// A company as the register shows it.
    pub fn company(&self, company: u32) -> Company {
        let c = &self.companies[company as usize];
        Company {
            kvk_number: KvkNumber::from_value(c.kvk),
            name: Name::accepted(self.texts.get(c.name)),
            trade_names: self.trade_names(company).map(Name::accepted).collect(),
            city: match c.city {
                0 => None,
                i => Some(self.cities.get(i - 1).name.clone()),
            },
            province: self.province(company),
            sbi_codes: self.sbi_codes(company).to_vec(),
        }
    }

    pub fn period(&self, p: &ModelPeriod) -> Period {
        Period::from_storage(
            p.level,
            p.pso30plus,
            p.valid_from,
            p.valid_until,
            p.audit_date,
            i32::from(p.reference_year),
            self.handbooks.get(u32::from(p.handbook)).clone(),
            Score {
                percent: part(p.score_percent),
                total_fte: part(p.total_fte),
            },
        )
    }

    /// A certificate with everything the register publishes about it.
    pub fn full_certificate(&self, id: u32) -> Option<Certificate> {
        let c = self.certificate(id)?;
        let mut covered: Vec<Covered> = std::iter::once((c.main, true))
            .chain(self.subsidiaries(c).iter().map(|s| (*s, false)))
            .map(|(company, main_applicant)| Covered {
                kvk_number: KvkNumber::from_value(self.kvk(company)),
                name: Name::accepted(self.name(company)),
                main_applicant,
            })
            .collect();
        covered.sort_by(|a, b| {
            b.main_applicant
                .cmp(&a.main_applicant)
                .then(a.kvk_number.cmp(&b.kvk_number))
        });
        Some(Certificate {
            scheme: c.scheme,
            cb_reference: CbReference::accepted(self.texts.get(c.cb_reference)),
            holder: self.company(c.main),
            covered,
            replaces: (c.replaces != 0).then(|| self.number(c.replaces)),
            issued_at: from_micros(c.issued_at),
            history: crate::certificate::CertificateHistory {
                number: self.number(id),
                certification_body: self.cbs.get(c.cb.index()).clone(),
                main_applicant: KvkNumber::from_value(self.kvk(c.main)),
                periods: c.periods.iter().map(|p| self.period(p)).collect(),
                standing_changes: self.changes.get(c.changes).to_vec(),
            },
        })
    }

    // ---- changes ----

    pub fn model_period(&mut self, p: &Period) -> ModelPeriod {
        let handbook = self.handbooks.id(p.handbook_version());
        self.period_of(&PeriodParts {
            level: p.level(),
            pso30plus: p.pso30plus(),
            valid_from: p.valid_from(),
            valid_until: p.valid_until(),
            audit_date: p.audit_date(),
            reference_year: p.reference_year(),
            handbook,
            score: p.score(),
        })
    }

    /// A compact period from its parts (the handbook version interned).
    pub fn period_of(&self, p: &PeriodParts) -> ModelPeriod {
        ModelPeriod {
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            audit_date: p.audit_date,
            score_percent: p.score.percent.unwrap_or(f64::NAN),
            total_fte: p.score.total_fte.unwrap_or(f64::NAN),
            reference_year: i16::try_from(p.reference_year).unwrap_or(i16::MAX),
            handbook: u16::try_from(p.handbook).unwrap_or(u16::MAX),
            level: p.level,
            pso30plus: p.pso30plus,
        }
    }

    fn city_id(&mut self, city: Option<&Name>) -> u32 {
        match city {
            None => 0,
            Some(name) => {
                let key = self.city_keys.id(&text::fold(name.as_str()));
                if self.city_companies.len() <= key as usize {
                    self.city_companies.resize_with(key as usize + 1, Vec::new);
                }
                self.cities.id(&City {
                    name: name.clone(),
                    key,
                }) + 1
            }
        }
    }

    /// Adds a company the register does not know yet, without its search
    /// words and place in the name order (see [`Store::index_company`]).
    fn add_company(&mut self, kvk: u32) -> u32 {
        let id = self.companies.len() as u32;
        self.companies.push(CompanyRec {
            kvk,
            name: Text::default(),
            trade_names: Span::default(),
            city: 0,
            province: 0,
            sbi: 0,
            words: Span::default(),
            first_cert: 0,
            more_certs: 0,
        });
        self.by_kvk.insert(kvk, id);
        id
    }

    /// Sets a company's facts (creating it when new), keeping the city and
    /// SBI lists; returns it. Its words and place in the name order are the
    /// caller's (bulk loading sets them all at the end).
    pub fn set_facts(&mut self, kvk: u32, facts: &CompanyFacts<'_>) -> u32 {
        let id = match self.by_kvk.get(&kvk) {
            Some(id) => *id,
            None => self.add_company(kvk),
        };
        let old_city = self.city_key(id);
        let old_sbi = self.companies[id as usize].sbi;
        let city = self.city_id(facts.city);
        let sbi_set: Box<[SbiCode]> = facts.sbi_codes.into();
        let sbi = self.sbi_sets.id(&sbi_set);
        let name = if self.texts.get(self.companies[id as usize].name) == facts.name.as_str() {
            self.companies[id as usize].name
        } else {
            self.texts.push(facts.name.as_str())
        };
        let unchanged = self
            .trade_names(id)
            .eq(facts.trade_names.iter().map(Name::as_str));
        let trade_names = if unchanged {
            self.companies[id as usize].trade_names
        } else {
            let texts: Vec<Text> = facts
                .trade_names
                .iter()
                .map(|n| self.texts.push(n.as_str()))
                .collect();
            self.trade_names.push(&texts)
        };
        let c = &mut self.companies[id as usize];
        c.name = name;
        c.trade_names = trade_names;
        c.city = city;
        c.province = facts.province.map_or(0, |p| {
            Province::ALL
                .iter()
                .position(|q| *q == p)
                .map_or(0, |i| i as u8 + 1)
        });
        c.sbi = sbi;
        let new_city = self.city_key(id);
        if old_city != new_city {
            if let Some(k) = old_city {
                self.city_companies[k as usize].retain(|c| *c != id);
            }
            if let Some(k) = new_city {
                self.city_companies[k as usize].push(id);
            }
        }
        if old_sbi != sbi {
            for code in self.sbi_sets.get(old_sbi).iter() {
                if let Some(list) = self.sbi_companies.get_mut(code.as_str()) {
                    list.retain(|c| *c != id);
                }
            }
            for code in self.sbi_sets.get(sbi).clone().iter() {
                self.sbi_companies
                    .entry(code.as_str().to_owned())
                    .or_default()
                    .push(id);
            }
        }
        id
    }

    /// The names a company is searched by: its name and trade names.
    pub fn search_text(&self, company: u32) -> String {
        text::search_text(std::iter::once(self.name(company)).chain(self.trade_names(company)))
    }

    /// Sets a company's search words from `search_text` (words of its names),
    /// keeping the vocabulary's postings, without touching the name order.
    pub fn set_words(&mut self, company: u32, search_text: &str) {
        let kvk = self.kvk(company);
        let old: Vec<u32> = self.words(company).to_vec();
        let new: Vec<u32> = search_text
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| self.vocabulary.word(w))
            .collect();
        if old == new {
            return;
        }
        for w in old.iter().filter(|w| !new.contains(w)) {
            self.vocabulary.remove_posting(*w, kvk);
        }
        for w in new.iter().filter(|w| !old.contains(w)) {
            self.vocabulary.add_posting(*w, kvk);
        }
        self.companies[company as usize].words = self.word_ids.push(&new);
    }

    /// Sets a company's facts and brings its words and place in the name order
    /// up to date: what one event does to a company.
    pub fn put_company(&mut self, kvk: u32, facts: &CompanyFacts<'_>) -> u32 {
        let known = self.by_kvk.get(&kvk).copied();
        let old_key = known.map(|id| self.sort_key(id));
        let id = self.set_facts(kvk, facts);
        let search_text = self.search_text(id);
        self.set_words(id, &search_text);
        let new_key = self.sort_key(id);
        let moved = old_key.as_ref() != Some(&new_key);
        if moved {
            let Store {
                order,
                companies,
                texts,
                ..
            } = self;
            let key_of = |c: u32| {
                let rec = &companies[c as usize];
                (text::sort_key(texts.get(rec.name)), rec.kvk)
            };
            if let Some(old) = &old_key {
                order.remove(id, old, &key_of);
            }
            order.insert(id, &new_key, &key_of);
        }
        if moved {
            // Its new block promises what its certificates hold.
            let certificates: Vec<u32> = self.certificates_of(id).collect();
            for cert in certificates {
                if let Some(facts) = self.facts(cert) {
                    let summary = Summary::of(&facts);
                    let held = facts.rec.main == id;
                    self.order.widen(&new_key, Of::Covered, &summary);
                    if held {
                        self.order.widen(&new_key, Of::Held, &summary);
                    }
                }
            }
        }
        id
    }

    /// Widens the name order's summaries by certificate `id`'s standings: the
    /// blocks of every company it covers, and of its holder.
    pub fn summarise(&mut self, id: u32) {
        let Some(facts) = self.facts(id) else { return };
        let summary = Summary::of(&facts);
        let holder = facts.rec.main;
        let covered: Vec<u32> = std::iter::once(holder)
            .chain(self.subsidiaries(facts.rec).iter().copied())
            .collect();
        for company in covered {
            let key = self.sort_key(company);
            self.order.widen(&key, Of::Covered, &summary);
        }
        let key = self.sort_key(holder);
        self.order.widen(&key, Of::Held, &summary);
    }

    /// Every block's summaries from every certificate (bulk loading).
    pub fn summarise_all(&mut self) {
        let mut block_of = vec![0usize; self.companies.len()];
        for (company, block) in self.order.blocks_of() {
            block_of[company as usize] = block;
        }
        for id in 0..self.certificates.len() as u32 {
            let Some(facts) = self.facts(id) else {
                continue;
            };
            let summary = Summary::of(&facts);
            let holder = facts.rec.main;
            let covered: Vec<u32> = std::iter::once(holder)
                .chain(self.subsidiaries(facts.rec).iter().copied())
                .collect();
            for company in covered {
                self.order
                    .widen_block(block_of[company as usize], Of::Covered, &summary);
            }
            self.order
                .widen_block(block_of[holder as usize], Of::Held, &summary);
        }
    }

    /// Records that certificate `cert` covers `company`.
    fn link(&mut self, company: u32, cert: u32) {
        let c = &mut self.companies[company as usize];
        if c.first_cert == 0 {
            c.first_cert = cert;
            return;
        }
        if c.more_certs == 0 {
            self.more_certs.push(Vec::new());
            c.more_certs = (self.more_certs.len() - 1) as u32;
        }
        let more = c.more_certs as usize;
        self.more_certs[more].push(cert);
    }

    /// Adds a certificate (its companies exist already).
    pub fn put_certificate(&mut self, id: u32, cert: CertRec, number: &CertificateNumber) {
        let slot = id as usize;
        if self.certificates.len() <= slot {
            self.certificates.resize_with(slot + 1, || None);
        }
        if self.certificates[slot].is_some() {
            return;
        }
        let cb = cert.cb.index() as usize;
        if self.cb_certificates.len() <= cb {
            self.cb_certificates.resize_with(cb + 1, Vec::new);
        }
        self.cb_certificates[cb].push(id);
        let covered: Vec<u32> = std::iter::once(cert.main)
            .chain(self.subsidiaries(&cert).iter().copied())
            .collect();
        self.certificates[slot] = Some(cert);
        self.certificate_count += 1;
        for company in covered {
            self.link(company, id);
        }
        if &self.number(id) != number {
            self.number_overrides.insert(id, number.clone());
            self.numbers_overridden
                .insert(number.as_str().to_owned(), id);
        }
    }

    pub fn certificate_mut(&mut self, id: u32) -> Option<&mut CertRec> {
        self.certificates
            .get_mut(id as usize)
            .and_then(Option::as_mut)
    }
}

/// A certificate as the status rule reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CertFacts<'a> {
    store: &'a Store,
    pub id: u32,
    pub rec: &'a CertRec,
}

impl HistoryFacts for CertFacts<'_> {
    type Period = ModelPeriod;
    fn periods(&self) -> &[ModelPeriod] {
        &self.rec.periods
    }
    fn standing_changes(&self) -> &[StandingChange] {
        self.store.changes.get(self.rec.changes)
    }
    fn number(&self) -> CertificateNumber {
        self.store.number(self.id)
    }
    fn certification_body(&self) -> CbId {
        self.store.cbs.get(self.rec.cb.index()).clone()
    }
}

impl CertFacts<'_> {
    pub fn cb(&self) -> &CbId {
        self.store.cbs.get(self.rec.cb.index())
    }
}

/// What the model holds, in numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    pub companies: usize,
    pub certificates: usize,
    pub words: usize,
    pub named: usize,
    pub text_bytes: usize,
    pub posting_bytes: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} companies ({} in name order), {} certificates, {} words; texts {:.1} MB, postings {:.1} MB",
            self.companies,
            self.named,
            self.certificates,
            self.words,
            self.text_bytes as f64 / 1e6,
            self.posting_bytes as f64 / 1e6
        )
    }
}

impl Store {
    pub fn report(&self) -> Report {
        Report {
            companies: self.companies.len(),
            certificates: self.certificate_count,
            words: self.vocabulary.len(),
            named: self.order.len(),
            text_bytes: self.texts.bytes(),
            posting_bytes: self.vocabulary.posting_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million companies and certificates fit the memory asked of the model
    /// (ISSUE 11: at most 400 MB at 1M) only while these stay this small.
    #[test]
    fn records_stay_compact() {
        assert!(std::mem::size_of::<CompanyRec>() <= 56);
        assert!(std::mem::size_of::<CertRec>() <= 96);
        assert_eq!(
            std::mem::size_of::<Option<CertRec>>(),
            std::mem::size_of::<CertRec>(),
            "an id without a certificate costs nothing extra"
        );
        assert!(std::mem::size_of::<ModelPeriod>() <= 40);
    }

    #[test]
    fn arena_lists_grow_in_place_at_the_end_and_move_otherwise() {
        let mut arena: Arena<u32> = Arena::default();
        let a = arena.push(&[1, 2]);
        let b = arena.push(&[3]);
        let b = arena.append(b, 4);
        assert_eq!(arena.get(b), [3, 4]);
        let a = arena.append(a, 5);
        assert_eq!(arena.get(a), [1, 2, 5]);
        assert_eq!(arena.get(b), [3, 4]);
        assert_eq!(arena.get(Span::default()), [] as [u32; 0]);
    }
}
