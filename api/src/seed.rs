//! `pso-registry seed`: a register full of fictitious but realistic companies —
//! Dutch names, cities in their provinces, SBI codes, subsidiaries — and
//! certificates at every level and in every standing (active, not yet valid,
//! expired, suspended, revoked, superseded, renewed with a level change), written
//! through the core's own lifecycle commands, in batched transactions.
//! Deterministic for a given seed and anchor date.

use chrono::{Days, Months, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use registry_core::time::start_of_day;
use registry_core::{
    Accredit, Batch, CbId, CbReference, ChangeStanding, CoreError, HandbookVersion, Holder,
    IssueCertificate, Issued, KeySource, KvkNumber, Level, Name, PeriodDraft, Provenance, Province,
    Registry, RenewCertificate, SbiCode, Score, Standing, Subsidiary,
};

/// Companies per transaction.
const BATCH: usize = 500;

/// The certification bodies the data is spread over.
pub const CERTIFICATION_BODIES: [(&str, &str); 5] = [
    ("kiwa", "Kiwa Nederland B.V."),
    ("normec", "Normec Certification B.V."),
    ("dnv", "DNV Business Assurance B.V."),
    ("tuv", "TÜV Nederland QA B.V."),
    ("lloyds", "Lloyd's Register Nederland B.V."),
];

/// Sectors: a word for the business, its SBI code, and a short form.
const SECTORS: [(&str, &str, &str); 24] = [
    ("Bouwbedrijf", "4120", "Bouw"),
    ("Drukkerij", "1812", "Print"),
    ("Bakkerij", "1071", "Brood"),
    ("Installatiebedrijf", "4322", "Installatie"),
    ("Schoonmaakbedrijf", "8121", "Schoonmaak"),
    ("Hoveniersbedrijf", "8130", "Groen"),
    ("Transportbedrijf", "4941", "Transport"),
    ("Metaalbewerking", "2562", "Metaal"),
    ("Timmerfabriek", "1623", "Hout"),
    ("Zorgcentrum", "8710", "Zorg"),
    ("Kinderopvang", "8891", "Opvang"),
    ("ICT Diensten", "6202", "ICT"),
    ("Adviesbureau", "7022", "Advies"),
    ("Groothandel", "4690", "Handel"),
    ("Autobedrijf", "4520", "Auto"),
    ("Schildersbedrijf", "4334", "Schilders"),
    ("Loodgietersbedrijf", "4322", "Loodgieters"),
    ("Elektrotechniek", "4321", "Elektro"),
    ("Catering", "5621", "Catering"),
    ("Verpakkingsindustrie", "1721", "Verpakking"),
    ("Recyclingbedrijf", "3832", "Recycling"),
    ("Wasserij", "9601", "Was"),
    ("Uitzendbureau", "7820", "Personeel"),
    ("Fietsenmakerij", "9529", "Fietsen"),
];

const SURNAMES: [&str; 40] = [
    "Jansen",
    "De Vries",
    "Van den Berg",
    "Van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "De Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Van Leeuwen",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Dijkstra",
    "Smits",
    "De Graaf",
    "Van der Meer",
    "Van der Linden",
    "Kok",
    "Jacobs",
    "De Haan",
    "Vermeulen",
    "Van den Heuvel",
    "Van der Veen",
    "Van den Broek",
    "De Bruijn",
    "De Bruin",
    "Van der Heijden",
    "Schouten",
    "Van Beek",
    "Willems",
    "Van Vliet",
    "Hoekstra",
];

const LEGAL_FORMS: [&str; 5] = ["B.V.", "B.V.", "V.O.F.", "N.V.", "& Zn. B.V."];

/// Cities and their provinces.
const CITIES: [(&str, Province); 36] = [
    ("Amsterdam", Province::NoordHolland),
    ("Haarlem", Province::NoordHolland),
    ("Alkmaar", Province::NoordHolland),
    ("Rotterdam", Province::ZuidHolland),
    ("Den Haag", Province::ZuidHolland),
    ("Leiden", Province::ZuidHolland),
    ("Dordrecht", Province::ZuidHolland),
    ("Utrecht", Province::Utrecht),
    ("Amersfoort", Province::Utrecht),
    ("Nieuwegein", Province::Utrecht),
    ("Eindhoven", Province::NoordBrabant),
    ("Tilburg", Province::NoordBrabant),
    ("Breda", Province::NoordBrabant),
    ("'s-Hertogenbosch", Province::NoordBrabant),
    ("Helmond", Province::NoordBrabant),
    ("Groningen", Province::Groningen),
    ("Veendam", Province::Groningen),
    ("Leeuwarden", Province::Fryslan),
    ("Sneek", Province::Fryslan),
    ("Heerenveen", Province::Fryslan),
    ("Assen", Province::Drenthe),
    ("Emmen", Province::Drenthe),
    ("Zwolle", Province::Overijssel),
    ("Enschede", Province::Overijssel),
    ("Deventer", Province::Overijssel),
    ("Almere", Province::Flevoland),
    ("Lelystad", Province::Flevoland),
    ("Arnhem", Province::Gelderland),
    ("Nijmegen", Province::Gelderland),
    ("Apeldoorn", Province::Gelderland),
    ("Ede", Province::Gelderland),
    ("Middelburg", Province::Zeeland),
    ("Vlissingen", Province::Zeeland),
    ("Maastricht", Province::Limburg),
    ("Venlo", Province::Limburg),
    ("Heerlen", Province::Limburg),
];

const SUBSIDIARY_KINDS: [&str; 4] = ["Vastgoed", "Personeel", "Holding", "Services"];

/// The `i`-th company's KvK number: a bijection from 0..90,000,000 onto the
/// 8-digit numbers from 10000000, spread out so neighbours look unrelated.
pub fn kvk_of(i: u64) -> String {
    const SPAN: u64 = 90_000_000;
    const STEP: u64 = 7_777_777; // coprime with SPAN
    format!("{}", 10_000_000 + (i % SPAN) * STEP % SPAN)
}

/// KvK numbers no seeded company has (for "unknown" status checks): beyond
/// every main applicant and subsidiary of a register of `companies`.
pub fn unknown_kvk(companies: u64, j: u64) -> String {
    kvk_of(companies * 3 + 1_000 + j)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn name(s: &str) -> Result<Name, CoreError> {
    Name::parse(s).map_err(|e| CoreError::field("name", e.0))
}

/// What happens to a company's certificate, drawn per company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Story {
    Active,
    NotYetValid,
    Expired,
    Suspended,
    Revoked,
    Superseded,
    RenewedWithLevelChange,
}

fn story(rng: &mut StdRng) -> Story {
    match rng.random_range(0..100) {
        0..55 => Story::Active,
        55..60 => Story::NotYetValid,
        60..70 => Story::Expired,
        70..75 => Story::Suspended,
        75..80 => Story::Revoked,
        80..85 => Story::Superseded,
        _ => Story::RenewedWithLevelChange,
    }
}

fn level(rng: &mut StdRng) -> Level {
    match rng.random_range(0..100) {
        0..10 => Level::Aspirant,
        10..25 => Level::Basistrede,
        25..55 => Level::Trede1,
        55..85 => Level::Trede2,
        _ => Level::Trede3,
    }
}

fn days_before(anchor: NaiveDate, days: u64) -> NaiveDate {
    anchor.checked_sub_days(Days::new(days)).unwrap_or(anchor)
}

fn days_after(anchor: NaiveDate, days: u64) -> NaiveDate {
    anchor.checked_add_days(Days::new(days)).unwrap_or(anchor)
}

fn period(level: Level, pso30plus: bool, from: NaiveDate) -> PeriodDraft {
    PeriodDraft {
        level,
        pso30plus: pso30plus && level == Level::Trede3,
        valid_from: from,
        valid_until: None,
        audit_date: days_before(from, 30),
        reference_year: chrono::Datelike::year(&from) - 1,
        handbook_version: HandbookVersion::parse("2.1")
            .unwrap_or_else(|_| unreachable!("a valid literal")),
        score: Score {
            percent: None,
            total_fte: None,
        },
    }
}

/// Seeds one company (and its subsidiaries and certificates) in `batch`.
fn company(
    batch: &mut Batch<'_>,
    rng: &mut StdRng,
    i: u64,
    companies: u64,
    next_subsidiary: &mut u64,
    anchor: NaiveDate,
) -> Result<(), CoreError> {
    let (sector, sbi, short) = *pick(rng, &SECTORS);
    let surname = *pick(rng, &SURNAMES);
    let (city, province) = *pick(rng, &CITIES);
    let legal = *pick(rng, &LEGAL_FORMS);
    let base = match rng.random_range(0..5) {
        0 | 1 => format!("{sector} {surname}"),
        2 => format!("{surname} {sector}"),
        3 => format!("{sector} {city}"),
        _ => format!("{surname} & {} {short}", pick(rng, &SURNAMES)),
    };
    let full = format!("{base} {legal}");
    let trade_names = if rng.random_bool(0.3) {
        vec![name(&format!("{surname} {short}"))?]
    } else {
        vec![]
    };
    let kvk = KvkNumber::parse(&kvk_of(i)).map_err(|e| CoreError::field("kvk", e.0))?;
    let mut subsidiaries = Vec::new();
    if rng.random_bool(0.1) {
        for _ in 0..rng.random_range(1..=3) {
            let number = kvk_of(companies + *next_subsidiary);
            *next_subsidiary += 1;
            subsidiaries.push(Subsidiary {
                kvk_number: KvkNumber::parse(&number).map_err(|e| CoreError::field("kvk", e.0))?,
                name: name(&format!("{base} {} B.V.", pick(rng, &SUBSIDIARY_KINDS)))?,
            });
        }
    }
    let holder = Holder {
        kvk_number: kvk,
        name: name(&full)?,
        trade_names,
        city: Some(name(city)?),
        province: Some(province),
        sbi_codes: vec![SbiCode::parse(sbi).map_err(|e| CoreError::field("sbi", e.0))?],
    };
    let cbs: Vec<&str> = CERTIFICATION_BODIES.iter().map(|(id, _)| *id).collect();
    let cb = *pick(rng, &cbs);
    let by = |id: &str| {
        CbId::parse(id)
            .map(|id| Provenance::certification_body(id, None))
            .map_err(|e| CoreError::field("cb", e.0))
    };
    let story = story(rng);
    let level = level(rng);
    let pso30plus = rng.random_bool(0.3);
    let from = match story {
        Story::NotYetValid => days_after(anchor, rng.random_range(1..180)),
        Story::Expired => days_before(anchor, rng.random_range(760..1400)),
        Story::Superseded => days_before(anchor, rng.random_range(400..700)),
        Story::RenewedWithLevelChange => days_before(anchor, rng.random_range(800..1000)),
        _ => days_before(anchor, rng.random_range(1..700)),
    };
    let issue = IssueCertificate {
        cb_reference: CbReference::parse(&format!("{}-PSO-{i}", cb.to_uppercase()))
            .map_err(|e| CoreError::field("ref", e.0))?,
        holder: holder.clone(),
        subsidiaries,
        period: period(level, pso30plus, from),
        replaces: None,
    };
    let Issued::Created(certificate) = batch.issue(&issue, &by(cb)?)? else {
        return Ok(());
    };
    let number = certificate.number().clone();
    let change = |standing, days_in: u64, reason: &str| ChangeStanding {
        number: number.clone(),
        standing,
        reason: Some(reason.to_owned()),
        effective_at: Some(start_of_day(days_after(from, days_in))),
    };
    match story {
        Story::Suspended => {
            batch.change_standing(
                &change(
                    Standing::Suspended,
                    rng.random_range(1..30),
                    "corrective actions overdue",
                ),
                &by(cb)?,
            )?;
        }
        Story::Revoked => {
            batch.change_standing(
                &change(
                    Standing::Revoked,
                    rng.random_range(1..30),
                    "certification requirements no longer met",
                ),
                &by(cb)?,
            )?;
        }
        Story::Superseded => {
            let other = *pick(
                rng,
                &cbs.iter()
                    .filter(|c| **c != cb)
                    .copied()
                    .collect::<Vec<_>>(),
            );
            let replacing = IssueCertificate {
                cb_reference: CbReference::parse(&format!("{}-PSO-{i}-R", other.to_uppercase()))
                    .map_err(|e| CoreError::field("ref", e.0))?,
                holder,
                subsidiaries: vec![],
                period: period(
                    level.max(Level::Trede1),
                    pso30plus,
                    days_before(anchor, rng.random_range(1..200)),
                ),
                replaces: Some(number.clone()),
            };
            batch.issue(&replacing, &by(other)?)?;
        }
        Story::RenewedWithLevelChange => {
            let new_level = if level == Level::Trede3 {
                Level::Trede2
            } else {
                Level::ALL[(level as usize + 1).min(4)]
            };
            let renewal_from = from.checked_add_months(Months::new(24)).unwrap_or(anchor);
            let renew = RenewCertificate {
                number,
                period: period(new_level, pso30plus, renewal_from),
            };
            batch.renew(&renew, &by(cb)?)?;
        }
        _ => {}
    }
    Ok(())
}

/// Seeds `companies` companies; prints progress to standard error.
pub fn seed(
    registry: &Registry,
    companies: u64,
    seed: u64,
    anchor: NaiveDate,
) -> Result<(), CoreError> {
    for (id, name) in CERTIFICATION_BODIES {
        let id = CbId::parse(id).map_err(|e| CoreError::field("id", e.0))?;
        match registry.accredit(Accredit {
            id,
            name: name.to_owned(),
            keys: KeySource::Inline(vec![]),
        }) {
            Ok(_) | Err(CoreError::CertificationBodyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let started = std::time::Instant::now();
    let mut next_subsidiary = 0u64;
    let mut i = 0u64;
    while i < companies {
        let end = (i + BATCH as u64).min(companies);
        // Each batch draws from its own stream, so a retried batch draws the same.
        let rng = StdRng::seed_from_u64(seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let first_subsidiary = next_subsidiary;
        registry.batch(|batch| {
            let mut r = rng.clone();
            next_subsidiary = first_subsidiary;
            for n in i..end {
                company(batch, &mut r, n, companies, &mut next_subsidiary, anchor)?;
            }
            Ok(())
        })?;
        i = end;
        // Statistics while the tables grow: plans made on empty tables scan them.
        let batches = i / BATCH as u64;
        if batches.is_power_of_two() || batches.is_multiple_of(200) {
            registry.analyze()?;
        }
        if i % (companies / 10).max(BATCH as u64) < BATCH as u64 || i == companies {
            eprintln!(
                "seeded {i}/{companies} companies in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let expired = registry.record_expiries(registry_core::time::now(), i64::MAX)?;
    eprintln!(
        "recorded {expired} expiries; done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvk_numbers_are_unique_and_well_formed() {
        let numbers: std::collections::BTreeSet<String> = (0..100_000).map(kvk_of).collect();
        assert_eq!(numbers.len(), 100_000);
        assert!(numbers.iter().all(|k| KvkNumber::parse(k).is_ok()));
        // A register of 30,000 companies uses at most 30,000 × 1.3 numbers.
        let register: std::collections::BTreeSet<String> = (0..39_000).map(kvk_of).collect();
        assert!((0..1000).all(|j| !register.contains(&unknown_kvk(30_000, j))));
    }
}
