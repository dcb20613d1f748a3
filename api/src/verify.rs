//! `pso-registry verify`: what an officer (or an auditor) checks offline,
//! years later, with files only: a signed answer against the register's key
//! set (and the checkpoint it names against the log's verifier key); an
//! entry's inclusion in a signed checkpoint; two checkpoints' consistency.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};
use registry_core::log::note::{Checkpoint, open_checkpoint, parse_verifier_key};
use registry_core::log::tree::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use serde_json::Value;

use crate::signed_answer::STATUS_TYP;

/// Why something does not verify, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(pub String);

fn failed(what: impl Into<String>) -> Failed {
    Failed(what.into())
}

/// A verified signed answer: its claims, and the checkpoint it names when a
/// verifier key was given.
#[derive(Debug)]
pub struct VerifiedAnswer {
    pub kid: String,
    pub claims: serde_json::Map<String, Value>,
    pub checkpoint: Option<Checkpoint>,
}

/// Verifies a signed answer (compact JWS) with a JWK set: `EdDSA`, `typ`
/// `pso-status+jwt`, signed by the key its `kid` names; with `verifier_key`,
/// the checkpoint in its claims is opened too.
pub fn answer(jws: &str, jwks: &str, verifier_key: Option<&str>) -> Result<VerifiedAnswer, Failed> {
    let mut parts = jws.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(failed("not a compact JWS (three base64url parts)"));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| failed(format!("its {what} is not base64url")))
    };
    let header: Value = serde_json::from_slice(&decode(h, "header")?)
        .map_err(|_| failed("its header is not JSON"))?;
    if header["alg"] != "EdDSA" {
        return Err(failed(format!("alg {} is not EdDSA", header["alg"])));
    }
    if header["typ"] != STATUS_TYP {
        return Err(failed(format!("typ {} is not {STATUS_TYP}", header["typ"])));
    }
    let kid = header["kid"]
        .as_str()
        .ok_or_else(|| failed("no kid in the header"))?
        .to_owned();
    let set: Value = serde_json::from_str(jwks).map_err(|_| failed("the key set is not JSON"))?;
    let jwk = set["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or_else(|| failed(format!("the key set has no key {kid}")))?;
    if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" {
        return Err(failed("the key is not an Ed25519 key"));
    }
    let x = jwk["x"]
        .as_str()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .and_then(|x| <[u8; 32]>::try_from(x.as_slice()).ok())
        .ok_or_else(|| failed("the key's x is not 32 bytes of base64url"))?;
    let key = VerifyingKey::from_bytes(&x).map_err(|_| failed("the key is not a point"))?;
    let signature = <[u8; 64]>::try_from(decode(s, "signature")?.as_slice())
        .map_err(|_| failed("the signature is not 64 bytes"))?;
    key.verify_strict(
        format!("{h}.{p}").as_bytes(),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| failed("the signature does not verify"))?;
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(&decode(p, "payload")?)
        .map_err(|_| failed("its claims are not a JSON object"))?;
    let checkpoint = match verifier_key {
        None => None,
        Some(vkey) => {
            let note = claims["checkpoint"]
                .as_str()
                .ok_or_else(|| failed("the answer names no checkpoint"))?;
            Some(open(note, vkey)?)
        }
    };
    Ok(VerifiedAnswer {
        kid,
        claims,
        checkpoint,
    })
}

/// Opens a signed checkpoint with a verifier key.
pub fn open(note: &str, verifier_key: &str) -> Result<Checkpoint, Failed> {
    let (name, key) =
        parse_verifier_key(verifier_key).map_err(|e| failed(format!("verifier key: {e}")))?;
    let cp = open_checkpoint(note, &[(name.clone(), key)])
        .map_err(|e| failed(format!("checkpoint: {e}")))?;
    if cp.origin != name {
        return Err(failed(format!(
            "the checkpoint is of {}, the key of {name}",
            cp.origin
        )));
    }
    Ok(cp)
}

fn proof_hashes(proof: &Value) -> Result<Vec<Hash>, Failed> {
    proof["hashes"]
        .as_array()
        .ok_or_else(|| failed("the proof has no hashes"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| STANDARD.decode(h).ok())
                .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                .ok_or_else(|| failed("a proof hash is not 32 bytes of base64"))
        })
        .collect()
}

fn number(proof: &Value, name: &str) -> Result<u64, Failed> {
    proof[name]
        .as_u64()
        .ok_or_else(|| failed(format!("the proof has no {name}")))
}

/// Verifies that `entry` (its exact bytes) is in the tree of a signed
/// checkpoint, by an inclusion proof (`{"index", "treeSize", "hashes"}`).
pub fn inclusion(
    verifier_key: &str,
    checkpoint: &str,
    entry: &[u8],
    proof: &str,
) -> Result<(Checkpoint, u64), Failed> {
    let cp = open(checkpoint, verifier_key)?;
    let proof: Value = serde_json::from_str(proof).map_err(|_| failed("the proof is not JSON"))?;
    let (index, size) = (number(&proof, "index")?, number(&proof, "treeSize")?);
    if size != cp.size {
        return Err(failed(format!(
            "the proof is for a tree of {size} entries, the checkpoint of {}",
            cp.size
        )));
    }
    verify_inclusion(
        &leaf_hash(entry),
        index,
        size,
        &proof_hashes(&proof)?,
        &cp.root,
    )
    .map_err(|e| {
        failed(format!(
            "entry {index} is not in the checkpoint's tree: {e}"
        ))
    })?;
    Ok((cp, index))
}

/// Verifies that the tree of the `old` checkpoint is a prefix of the `new`
/// one's, by a consistency proof (`{"from", "to", "hashes"}`).
pub fn consistency(
    verifier_key: &str,
    old: &str,
    new: &str,
    proof: &str,
) -> Result<(Checkpoint, Checkpoint), Failed> {
    let (old, new) = (open(old, verifier_key)?, open(new, verifier_key)?);
    let proof: Value = serde_json::from_str(proof).map_err(|_| failed("the proof is not JSON"))?;
    let (from, to) = (number(&proof, "from")?, number(&proof, "to")?);
    if (from, to) != (old.size, new.size) {
        return Err(failed(format!(
            "the proof is from {from} to {to} entries, the checkpoints of {} and {}",
            old.size, new.size
        )));
    }
    verify_consistency(from, to, &proof_hashes(&proof)?, &old.root, &new.root)
        .map_err(|e| failed(format!("the log was not only appended to: {e}")))?;
    Ok((old, new))
}
