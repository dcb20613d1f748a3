"""Schemathesis hooks for the PSO register's contract (loaded by `run` through
SCHEMATHESIS_HOOKS).

1. `application/jose` bodies: a compact JWS is three base64url parts. The
   fuzzer cannot sign as an accredited certification body, so these requests
   test everything up to the signature check (media type, size, shape, header,
   claims, key lookup): they must be refused, never crash.

2. Valid requests whose validity the document cannot state, made valid.
   A JSON Schema cannot say that `until` comes after `on`, that a cursor is one
   the server handed out, that a proof's entry lies in its tree (`index` below
   `treeSize`, `from` at most `to`), that a `jwksUri` answers with a key set, that an `x`
   is a point on the curve, that `effectiveAt` follows a certificate's last
   event, or that a name has a letter or digit and one script per word (the
   `Name` schema's description). For a positive (schema-valid) case only, these
   hooks bring such values in line with the rule, the way a real client's values
   are: an interval that runs forward, no cursor but a real one, the address of
   a key set served beside the run, real public keys, no `effectiveAt` (now), a
   name of the Latin letters, digits and spaces generated (the names the rule
   refuses beyond the pattern are property-tested in `api/src/schema.rs`).
   Negative cases are left as generated: the server must refuse them.
"""

import datetime
import json
import os
import random

import schemathesis
from hypothesis import strategies as st

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_part = st.text(alphabet=B64URL, min_size=1, max_size=80)
schemathesis.openapi.media_type(
    "application/jose",
    st.builds(lambda h, p, s: f"{h}.{p}.{s}", _part, _part, _part),
)

# `text/csv` bodies (the batch's list): a KvK number a row, maybe a header.
schemathesis.openapi.media_type(
    "text/csv",
    st.builds(
        lambda header, rows: (header + "\r\n" if header else "") + "\r\n".join(rows),
        st.sampled_from(["", "kvk_nummer;naam", "KvK-nummer"]),
        st.lists(st.from_regex(r"[0-9]{8}", fullmatch=True), max_size=30),
    ),
)

# Written by `run`: real public keys (Ed25519, from `pso-registry cb keygen`),
# and the address of a key set holding them.
_KEYS = json.loads(os.environ.get("CONTRACT_KEYS", "[]"))
_JWKS_URI = os.environ.get("CONTRACT_JWKS_URI")


def _instant(value):
    """A `DateOrInstant` as the server reads it: a date is the start of that day
    in Europe/Amsterdam (as `until`, the end of it: the interval is then at
    least a day longer, which only helps)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.date.fromisoformat(value)
            # Amsterdam is UTC+1 or +2: a day starts 1 to 2 hours before UTC's.
            return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc) - datetime.timedelta(hours=2)
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        return None


def _forward(on, until):
    """`until` after `on` (the default `on` is now)."""
    if until is None:
        return True
    start = _instant(on) if on is not None else datetime.datetime.now(datetime.timezone.utc)
    end = _instant(until)
    return start is not None and end is not None and end - start > datetime.timedelta(hours=4)


def _run_forward(values):
    """Makes `on` come well before `until`, where `until` is given."""
    if values.get("until") is None or _forward(values.get("on"), values["until"]):
        return
    end = _instant(values["until"])
    if end is None:
        return
    try:
        start = end - datetime.timedelta(days=2)
    except OverflowError:
        return
    if start.year >= 1:
        values["on"] = start.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _positive(case):
    return case.meta is not None and case.meta.generation.mode.is_positive


def _latin_name(name):
    """`name` as one script with a letter or digit: its ASCII letters, digits and
    spaces, or a stand-in when none are left."""
    kept = "".join(c for c in name if c.isascii() and (c.isalnum() or c == " ")).strip()
    return kept if any(c.isalnum() for c in kept) else "Certificatie B.V."


def _key_set():
    count = random.randint(1, len(_KEYS)) if _KEYS else 0
    return {"keys": random.sample(_KEYS, count)}


@schemathesis.hook
def filter_case(context, case):
    if not _positive(case):
        return True
    operation = case.operation.definition.raw.get("operationId")
    query = case.query or {}
    if operation == "companyStatus":
        return _forward(query.get("on"), query.get("until"))
    if operation == "statusBatch" and isinstance(case.body, dict):
        merged = {**query, **{k: v for k, v in case.body.items() if v is not None}}
        return _forward(merged.get("on"), merged.get("until"))
    if operation == "logInclusionProof":
        return _ordered(query.get("index"), query.get("treeSize"), strict=True)
    if operation == "logConsistencyProof":
        return _ordered(query.get("from"), query.get("to"), strict=False)
    return True


def _ordered(low, high, strict):
    """Whether `low` comes before `high` (or equals it, unless `strict`)."""
    try:
        low, high = int(low), int(high)
    except (TypeError, ValueError):
        return True
    return low < high if strict else low <= high


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    operation = case.operation.definition.raw.get("operationId")
    if operation in ("searchCompanies", "searchCertificates") and case.query:
        case.query.pop("cursor", None)
    if operation == "companyStatus" and case.query:
        _run_forward(case.query)
    if operation == "statusBatch" and isinstance(case.body, dict):
        # The question is asked once: in the body, or in the query string.
        for name in ("on", "until", "levelMin"):
            if case.query and name in case.query:
                case.body.pop(name, None)
        _run_forward(case.body)
        if case.query:
            _run_forward(case.query)
    if operation == "statusBatch" and isinstance(case.body, str) and case.query:
        _run_forward(case.query)
    body = case.body
    if isinstance(body, dict):
        if "jwksUri" in body and _JWKS_URI:
            body["jwksUri"] = _JWKS_URI
        if "jwks" in body and _KEYS:
            body["jwks"] = _key_set()
        if operation == "revokeAnyCertificate":
            body.pop("effectiveAt", None)
        if operation in ("accreditCertificationBody", "changeCertificationBody", "createClient") and isinstance(body.get("name"), str):
            body["name"] = _latin_name(body["name"])
    return case
