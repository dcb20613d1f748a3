//! The register's signing key, and the log's checkpoints as C2SP signed notes
//! (`c2sp.org/signed-note`, `c2sp.org/tlog-checkpoint`), in the form Go's
//! `golang.org/x/mod/sumdb/note` reads.
//!
//! A checkpoint's text is three lines, `<origin>\n<tree size>\n<base64 root>\n`;
//! the note adds an empty line and one signature line per key,
//! `— <name> <base64(key id ‖ Ed25519 signature)>\n`. The key id is the first
//! four bytes of SHA-256(`<name>\n` ‖ 0x01 ‖ public key); the verifier key is
//! `<name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

use super::tree::Hash;

/// The algorithm byte of an Ed25519 key in a signed note.
const ED25519: u8 = 0x01;

/// The register's signing key and the name it signs under (its origin).
pub struct RegisterKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for RegisterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterKey")
            .field("name", &self.name)
            .field("verifier", &self.verifier_key())
            .finish_non_exhaustive()
    }
}

/// Why a name cannot sign notes: C2SP forbids empty names, white space and `+`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a log origin must be 1 to 200 printable ASCII characters without spaces or '+': {0:?}")]
pub struct BadName(pub String);

/// Checks a key name (the log's origin).
pub fn check_name(name: &str) -> Result<(), BadName> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'+');
    if ok {
        Ok(())
    } else {
        Err(BadName(name.to_owned()))
    }
}

impl RegisterKey {
    /// The key `key`, signing as `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<RegisterKey, BadName> {
        check_name(name)?;
        Ok(RegisterKey {
            name: name.to_owned(),
            key,
        })
    }

    /// The name it signs under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its public half.
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The note verifier key: `<name>+<hex key id>+<base64 key>`.
    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, &self.public())
    }

    /// Signs arbitrary bytes (a JWS signing input) with the raw Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The signed note of `text` (which ends in a newline).
    pub fn sign_note(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes()).to_bytes();
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(&self.name, &self.public()).to_be_bytes());
        blob.extend_from_slice(&signature);
        format!("{text}\n\u{2014} {} {}\n", self.name, STANDARD.encode(blob))
    }

    /// The signed checkpoint of a tree.
    pub fn sign_checkpoint(&self, size: u64, root: &Hash) -> String {
        self.sign_note(&checkpoint_text(&self.name, size, root))
    }
}

/// A signed note's key id: the first four bytes of SHA-256(name ‖ `\n` ‖ 0x01 ‖ key).
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The note verifier key of `key` named `name`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut raw = Vec::with_capacity(33);
    raw.push(ED25519);
    raw.extend_from_slice(key.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, key), STANDARD.encode(raw))
}

/// Reads a verifier key (`<name>+<hex key id>+<base64(0x01 ‖ key)>`): the
/// name and the key, its id checked.
pub fn parse_verifier_key(text: &str) -> Result<(String, VerifyingKey), NoteError> {
    let bad = NoteError::Malformed("not a verifier key (name+id+key)");
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad);
    };
    check_name(name).map_err(|_| bad.clone())?;
    if id.len() != 8 {
        return Err(bad);
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| bad.clone())?;
    let raw = STANDARD.decode(key).map_err(|_| bad.clone())?;
    let (Some(&ED25519), Ok(bytes)) = (raw.first(), <[u8; 32]>::try_from(&raw[1.min(raw.len())..]))
    else {
        return Err(NoteError::Malformed("not an Ed25519 verifier key"));
    };
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad.clone())?;
    if key_id(name, &key) != id {
        return Err(NoteError::Malformed("the key id is not the key's"));
    }
    Ok((name.to_owned(), key))
}

/// A checkpoint's text: origin, size and root, each on its line.
pub fn checkpoint_text(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", STANDARD.encode(root))
}

/// A checkpoint, its signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The note, as signed.
    pub note: String,
}

/// Why a note is not a checkpoint signed by a known key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    #[error("no signature by a known key")]
    Unsigned,
    #[error("a signature by a known key does not verify")]
    BadSignature,
}

/// Opens a signed checkpoint with one of `keys` (each known by its name): the
/// text must be a checkpoint and carry at least one good signature of a known
/// key, and no bad one.
pub fn open_checkpoint(
    note: &str,
    keys: &[(String, VerifyingKey)],
) -> Result<Checkpoint, NoteError> {
    let (text, signatures) = note
        .split_once("\n\n")
        .map(|(t, s)| (format!("{t}\n"), s))
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let mut good = false;
    for line in signatures.split_terminator('\n') {
        let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
            "a signature line must begin with an em dash",
        ))?;
        let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line needs a name and a signature",
        ))?;
        let blob = STANDARD
            .decode(blob)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if blob.len() < 4 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        for (known, key) in keys {
            if known == name && key_id(name, key) == id {
                let sig = <[u8; 64]>::try_from(&blob[4..]).map_err(|_| NoteError::BadSignature)?;
                key.verify(text.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| NoteError::BadSignature)?;
                good = true;
            }
        }
    }
    if !good {
        return Err(NoteError::Unsigned);
    }
    let mut lines = text.split_terminator('\n');
    let origin = lines.next().ok_or(NoteError::Malformed("no origin"))?;
    let size = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(NoteError::Malformed("no tree size"))?;
    let root = lines
        .next()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
        .ok_or(NoteError::Malformed("no root hash"))?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
        note: note.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RegisterKey {
        RegisterKey::new("register.example/log", SigningKey::from_bytes(&[7u8; 32])).expect("key")
    }

    #[test]
    fn a_checkpoint_is_signed_and_opens() {
        let k = key();
        let note = k.sign_checkpoint(3, &[9u8; 32]);
        assert!(note.starts_with("register.example/log\n3\n"), "{note}");
        assert!(
            note.contains("\n\n\u{2014} register.example/log "),
            "{note}"
        );
        let keys = [(k.name().to_owned(), k.public())];
        let cp = open_checkpoint(&note, &keys).expect("opens");
        assert_eq!((cp.size, cp.root), (3, [9u8; 32]));
        // A changed size, another key, another name: refused.
        let forged = note.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(
            open_checkpoint(&forged, &keys),
            Err(NoteError::BadSignature)
        );
        let other = RegisterKey::new("register.example/log", SigningKey::from_bytes(&[8u8; 32]))
            .expect("key");
        assert_eq!(
            open_checkpoint(&note, &[(other.name().to_owned(), other.public())]),
            Err(NoteError::Unsigned)
        );
    }

    #[test]
    fn the_verifier_key_names_its_id() {
        let k = key();
        let v = k.verifier_key();
        let parts: Vec<&str> = v.split('+').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "register.example/log");
        assert_eq!(parts[1], format!("{:08x}", key_id(k.name(), &k.public())));
        assert_eq!(STANDARD.decode(parts[2]).expect("base64").len(), 33);
    }

    #[test]
    fn a_verifier_key_reads_back() {
        let k = key();
        let (name, public) = parse_verifier_key(&k.verifier_key()).expect("reads");
        assert_eq!((name.as_str(), public), (k.name(), k.public()));
        let v = k.verifier_key();
        let parts: Vec<&str> = v.splitn(3, '+').collect();
        let wrong_id = format!("{}+00000000+{}", parts[0], parts[2]);
        assert!(parse_verifier_key(&wrong_id).is_err());
        let long_id = format!("{}+0{}+{}", parts[0], parts[1], parts[2]);
        assert!(parse_verifier_key(&long_id).is_err());
        assert!(parse_verifier_key("nonsense").is_err());
    }

    #[test]
    fn names_with_spaces_or_plus_are_refused() {
        for bad in ["", "a b", "a+b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("pso.example/log").is_ok());
    }
}
