//! The write rules: which lifecycle command a certificate's history admits, and
//! what it appends. Pure functions over histories, as the status rule is;
//! storage loads the histories, asks here, and writes what was decided
//! (API.md, "Lifecycle"; the case table is in `transition_tests.rs`).
//!
//! The rules, in words:
//! - One in force: a certificate stands in force from the start of its first
//!   period until its last period ends or it is revoked or superseded, whichever
//!   comes first. The windows of two certificates of one main applicant never
//!   overlap. An issuance may name the certificate it `replaces` (open, of the
//!   same main applicant, in force when the new one starts): that one is
//!   superseded from the new start.
//! - Renewal appends a period that starts after the last one starts; it must
//!   not reach into another certificate's window.
//! - Revocation and supersession are terminal. Suspension needs a certificate
//!   not suspended and not expired at its `effective_at`; reinstatement a
//!   suspended one.
//! - A standing change takes effect no earlier than the certificate's first day
//!   and its last standing change, and no later than [`time::LAST_DAY`]; left
//!   out, at the first instant from now on that it may.
//! - Only a certification body issues, renews, suspends and reinstates, each on
//!   its own certificates; the scheme owner may revoke any.
//! - A history stays small: at most [`MAX_PERIODS`] periods and
//!   [`MAX_STANDING_CHANGES`] standing changes.

use chrono::{DateTime, Utc};

use crate::certificate::{
    CertificateHistory, CertificateNumber, CertificateStatus, Standing, StandingChange,
};
use crate::certification_body::CbId;
use crate::company::KvkNumber;
use crate::error::CoreError;
use crate::event::Actor;
use crate::period::Period;
use crate::status::certificate_state_at;
use crate::time;
use crate::validation::FieldError;

/// The longest reason a suspension or revocation may give.
pub const MAX_REASON_CHARS: usize = 2000;
/// The most periods one certificate holds (decades of renewals), and the most
/// standing changes: what one certificate's history, read for every status
/// answer about its holder, may grow to.
pub const MAX_PERIODS: usize = 100;
pub const MAX_STANDING_CHANGES: usize = 100;

/// When a certificate stands in force: `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    /// Whether this window and `[from, until)` share an instant.
    pub fn overlaps(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.from < until && from < self.until
    }
}

/// When the certificate was closed for good (revoked or superseded), if ever.
pub fn closed_at(history: &CertificateHistory) -> Option<DateTime<Utc>> {
    history
        .standing_changes
        .iter()
        .find(|c| matches!(c.standing, Standing::Revoked | Standing::Superseded))
        .map(|c| c.effective_at)
}

/// The certificate's window in force; `None` when it never stands in force
/// (closed before it starts).
pub fn in_force(history: &CertificateHistory) -> Option<Window> {
    let from = history.periods.first()?.starts_at();
    let ends = history.periods.last()?.ends_at();
    let until = closed_at(history).map_or(ends, |closed| closed.min(ends));
    (from < until).then_some(Window { from, until })
}

/// What storage keeps beside a history, to find certificates by it: one
/// definition, written wherever a history is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derived {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The highest level any period held (`Level::rank`).
    pub top_level: i32,
    pub any_pso30plus: bool,
}

/// The derived columns of `history` (which has at least one period; `None`
/// otherwise).
pub fn derived(history: &CertificateHistory) -> Option<Derived> {
    let periods = &history.periods;
    Some(Derived {
        starts_at: periods.first()?.starts_at(),
        ends_at: periods.last()?.ends_at(),
        closed_at: closed_at(history),
        top_level: periods.iter().map(|p| p.level().rank()).max()?,
        any_pso30plus: periods.iter().any(Period::pso30plus),
    })
}

/// The certification body a command is given by; the scheme owner only revokes.
pub fn acting_body(actor: &Actor) -> Result<&CbId, CoreError> {
    match actor {
        Actor::CertificationBody(cb) => Ok(cb),
        Actor::SchemeOwner => Err(CoreError::NotPermitted(
            "only a certification body issues, renews, suspends and reinstates certificates".into(),
        )),
    }
}

/// Refuses a change to a certificate that is closed for good, or will be (a
/// revocation dated ahead closes it too).
pub fn ensure_open(history: &CertificateHistory) -> Result<(), CoreError> {
    let n = &history.number;
    for change in &history.standing_changes {
        match change.standing {
            Standing::Revoked => return Err(CoreError::CertificateRevoked(n.clone())),
            Standing::Superseded => return Err(CoreError::CertificateSuperseded(n.clone())),
            _ => {}
        }
    }
    Ok(())
}

/// The first of `others` (not `except`) whose window shares an instant with
/// `[from, until)`: one in force.
fn one_in_force(
    others: &[CertificateHistory],
    except: Option<&CertificateNumber>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), CoreError> {
    let clash = others
        .iter()
        .filter(|h| Some(&h.number) != except)
        .find(|h| in_force(h).is_some_and(|w| w.overlaps(from, until)));
    match clash {
        Some(h) => Err(CoreError::CertificateInForce {
            existing: h.number.clone(),
        }),
        None => Ok(()),
    }
}

/// An issuance as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    pub main_applicant: &'a KvkNumber,
    pub period: &'a Period,
    pub replaces: Option<&'a CertificateNumber>,
}

/// Decides an issuance: `replaced` is the history `replaces` names (`None` when
/// the register has no such certificate), `others` the main applicant's
/// certificates (any superset of those whose window may overlap). Returns the
/// supersession to append to the replaced certificate.
pub fn issue(
    new: &Issuance<'_>,
    replaced: Option<&CertificateHistory>,
    others: &[CertificateHistory],
) -> Result<Option<StandingChange>, CoreError> {
    let (starts, ends) = (new.period.starts_at(), new.period.ends_at());
    let Some(wanted) = new.replaces else {
        one_in_force(others, None, starts, ends)?;
        return Ok(None);
    };
    let Some(replaced) = replaced.filter(|h| &h.number == wanted) else {
        return Err(CoreError::field(
            "replaces",
            "names no certificate in the register",
        ));
    };
    if &replaced.main_applicant != new.main_applicant {
        return Err(CoreError::field(
            "replaces",
            "must be a certificate of the same main applicant",
        ));
    }
    ensure_open(replaced)?;
    one_in_force(others, Some(wanted), starts, ends)?;
    let first_start = replaced.periods.first().map(Period::starts_at);
    let last_change = replaced.standing_changes.last().map(|c| c.effective_at);
    if first_start.is_some_and(|s| starts < s) || last_change.is_some_and(|c| starts < c) {
        return Err(CoreError::field(
            "valid_from",
            "must not be before the start or the last lifecycle event of the certificate it replaces",
        ));
    }
    if in_force(replaced).is_none_or(|w| starts >= w.until) {
        return Err(CoreError::field(
            "replaces",
            "must be a certificate still in force when this one starts",
        ));
    }
    Ok(Some(StandingChange {
        standing: Standing::Superseded,
        effective_at: starts,
    }))
}

/// What a renewal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The same period again: nothing to write.
    Unchanged,
    /// Append the period.
    Append,
}

/// Decides a renewal of `history` by `cb` with `period`; `others` are the main
/// applicant's other certificates (any superset of those that may overlap).
pub fn renew(
    history: &CertificateHistory,
    cb: &CbId,
    period: &Period,
    others: &[CertificateHistory],
) -> Result<Renewal, CoreError> {
    if &history.certification_body != cb {
        return Err(CoreError::NotYourCertificate(history.number.clone()));
    }
    ensure_open(history)?;
    let last = history.periods.last();
    if last == Some(period) {
        return Ok(Renewal::Unchanged);
    }
    if let Some(last) = last
        && period.valid_from() <= last.valid_from()
    {
        return Err(CoreError::field(
            "valid_from",
            format!(
                "must start after the last period starts ({})",
                last.valid_from()
            ),
        ));
    }
    if history.periods.len() >= MAX_PERIODS {
        return Err(CoreError::InvalidTransition(format!(
            "a certificate holds at most {MAX_PERIODS} periods; issue a new one"
        )));
    }
    one_in_force(
        others,
        Some(&history.number),
        period.starts_at(),
        period.ends_at(),
    )?;
    Ok(Renewal::Append)
}

/// A suspension, reinstatement or revocation as asked.
#[derive(Debug, Clone, Copy)]
pub struct StandingCommand<'a> {
    pub standing: Standing,
    pub reason: Option<&'a str>,
    pub effective_at: Option<DateTime<Utc>>,
}

impl StandingCommand<'_> {
    /// The reason given, without surrounding white space; `None` when blank.
    pub fn reason(&self) -> Option<&str> {
        self.reason.map(str::trim).filter(|r| !r.is_empty())
    }
}

/// The checks a standing command passes before any certificate is read: the
/// kind of change, who may give it, and its reason.
pub fn check_standing_command(
    command: &StandingCommand<'_>,
    actor: &Actor,
) -> Result<(), CoreError> {
    if command.standing == Standing::Superseded {
        return Err(CoreError::InvalidTransition(
            "a certificate is superseded by issuing its replacement".into(),
        ));
    }
    if *actor == Actor::SchemeOwner && command.standing != Standing::Revoked {
        return Err(CoreError::NotPermitted(
            "the scheme owner can only revoke".into(),
        ));
    }
    match command.reason() {
        None if command.standing != Standing::Reinstated => Err(CoreError::field(
            "reason",
            "is required to suspend or revoke",
        )),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(CoreError::field(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// When a standing change without a date takes effect: now, or — for a
/// certificate that has not started, or whose last standing change is dated
/// ahead — the first instant the rules admit.
pub fn earliest_effective_at(history: &CertificateHistory, now: DateTime<Utc>) -> DateTime<Utc> {
    let first = history.periods.first().map(Period::starts_at);
    let last = history.standing_changes.last().map(|c| c.effective_at);
    [Some(now), first, last]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now)
}

/// Decides a standing change of `history` by `actor` at `now` (after
/// [`check_standing_command`]): the change to append.
pub fn change_standing(
    history: &CertificateHistory,
    command: &StandingCommand<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<StandingChange, CoreError> {
    check_standing_command(command, actor)?;
    if let Actor::CertificationBody(cb) = actor
        && &history.certification_body != cb
    {
        return Err(CoreError::NotYourCertificate(history.number.clone()));
    }
    ensure_open(history)?;
    if history.standing_changes.len() >= MAX_STANDING_CHANGES {
        return Err(CoreError::InvalidTransition(format!(
            "a certificate has at most {MAX_STANDING_CHANGES} standing changes"
        )));
    }
    let effective_at = command
        .effective_at
        .map(time::truncate)
        .unwrap_or_else(|| earliest_effective_at(history, now));
    check_effective_at(history, effective_at)?;
    let suspended = history
        .standing_changes
        .iter()
        .rev()
        .find(|c| matches!(c.standing, Standing::Suspended | Standing::Reinstated))
        .is_some_and(|c| c.standing == Standing::Suspended);
    match command.standing {
        Standing::Suspended if suspended => Err(CoreError::InvalidTransition(
            "the certificate is already suspended".into(),
        )),
        Standing::Suspended
            if certificate_state_at(history, effective_at).status == CertificateStatus::Expired =>
        {
            Err(CoreError::InvalidTransition(
                "the certificate has expired at effective_at".into(),
            ))
        }
        Standing::Reinstated if !suspended => Err(CoreError::InvalidTransition(
            "the certificate is not suspended".into(),
        )),
        standing => Ok(StandingChange {
            standing,
            effective_at,
        }),
    }
}

/// A standing change takes effect no earlier than the certificate's first period
/// and its last standing change (history is appended to, never rewritten), and
/// within the days the register knows.
fn check_effective_at(
    history: &CertificateHistory,
    effective_at: DateTime<Utc>,
) -> Result<(), CoreError> {
    let fault =
        |message: String| CoreError::Validation(vec![FieldError::new("effective_at", message)]);
    if !time::within_range(effective_at) {
        return Err(fault(format!(
            "must be no later than the end of {}",
            time::LAST_DAY
        )));
    }
    if let Some(first) = history.periods.first()
        && effective_at < first.starts_at()
    {
        return Err(fault(format!(
            "must not be before the certificate's first day ({})",
            first.valid_from()
        )));
    }
    if let Some(last) = history.standing_changes.last()
        && effective_at < last.effective_at
    {
        return Err(fault(format!(
            "must not be before the certificate's last lifecycle event ({})",
            last.effective_at.to_rfc3339()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "transition_tests.rs"]
mod tests;
