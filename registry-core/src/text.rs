//! Names as search sees them: folded to lower case without diacritics, split in
//! words, and compared by trigrams (as PostgreSQL's pg_trgm does), so that a
//! query with a typo or a prefix still finds the company.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, ScriptExtension};

/// Code points a name may not hold: controls (Cc), format characters (Cf:
/// bidi overrides and isolates, zero-width characters, the byte order mark,
/// the soft hyphen), line and paragraph separators, and the other
/// default-ignorable code points that show nothing (Hangul fillers,
/// variation selectors, tags), noncharacters and replacement characters.
/// Unicode 16.
const INVISIBLE: [(u32, u32); 29] = [
    (0x0000, 0x001f),
    (0x007f, 0x009f),
    (0x00ad, 0x00ad),
    (0x034f, 0x034f),
    (0x0600, 0x0605),
    (0x061c, 0x061c),
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x115f, 0x1160),
    (0x17b4, 0x17b5),
    (0x180b, 0x180f),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x206f),
    (0x3164, 0x3164),
    (0xfe00, 0xfe0f),
    (0xfeff, 0xfeff),
    (0xffa0, 0xffa0),
    (0xfff0, 0xffff),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0000, 0xe0fff),
    // Noncharacters, and the replacement characters (what an undecodable byte
    // became): nothing a name is spelt with.
    (0xfdd0, 0xfdef),
    (0x1fffe, 0x1ffff),
];

/// Whether `c` is one of the code points a name may not hold ([`INVISIBLE`]).
pub fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    INVISIBLE
        .iter()
        .any(|(from, to)| (*from..=*to).contains(&c))
}

/// The scripts `c` may be written in, with the Han-based writing systems
/// taken as one (UTS #39, 5.1: Japanese mixes Han and kana, Korean Han and
/// Hangul).
fn scripts_of(c: char) -> ScriptExtension {
    let own = ScriptExtension::from(c);
    if own.is_common() || own.is_inherited() {
        return own;
    }
    let cjk = [
        Script::Han,
        Script::Hiragana,
        Script::Katakana,
        Script::Hangul,
        Script::Bopomofo,
    ];
    if cjk.iter().any(|s| own.contains_script(*s)) {
        cjk.iter()
            .fold(own, |all, s| all.union(ScriptExtension::from(*s)))
    } else {
        own
    }
}

/// The first word of `s` whose letters are of more than one script (a Cyrillic
/// `а` in a Latin word): what a look-alike name is made of.
pub fn mixed_script_word(s: &str) -> Option<&str> {
    s.split_whitespace().find(|word| {
        word.chars()
            .fold(ScriptExtension::default(), |scripts, c| {
                scripts.intersection(scripts_of(c))
            })
            .is_empty()
    })
}

/// Legal forms, which say nothing about which company is meant.
const STOP_WORDS: [&str; 7] = ["bv", "nv", "vof", "cv", "ua", "ltd", "gmbh"];

/// `c` without its diacritics, lower case (é → e, Ĳ → ij, ß → ss).
fn fold_char(c: char, out: &mut String) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ç' | 'Ç' => "c",
        'ñ' | 'Ñ' => "n",
        'ĳ' | 'Ĳ' => "ij",
        'ß' => "ss",
        'æ' | 'Æ' => "ae",
        _ => {
            out.extend(c.to_lowercase());
            return;
        }
    };
    out.push_str(folded);
}

/// `s` folded: composed (NFC, so that a decomposed accent folds as the
/// composed one does), lower case, no diacritics.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfc() {
        fold_char(c, &mut out);
    }
    out
}

/// The words of `s`, folded, in order: runs of letters and digits. "B.V." is one
/// word (`bv`), as people type it.
pub fn words(s: &str) -> Vec<String> {
    let folded = fold(&s.replace('.', ""));
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words of `s` worth searching by: at least two characters, not only
/// digits (numbers have their own filters: KvK, SBI), no legal forms.
pub fn search_words(s: &str) -> Vec<String> {
    words(s)
        .into_iter()
        .filter(|w| {
            w.chars().count() >= 2
                && !w.chars().all(|c| c.is_ascii_digit())
                && !STOP_WORDS.contains(&w.as_str())
        })
        .collect()
}

/// The key a list is ordered by: the folded words of the name, space-separated.
pub fn sort_key(name: &str) -> String {
    if name.is_ascii() {
        return ascii_sort_key(name);
    }
    words(name).join(" ")
}

/// [`sort_key`] of an ASCII name without Unicode's machinery (lists walked in
/// name order compute it often): the same words, lower case, one space apart.
fn ascii_sort_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for b in name.bytes().filter(|b| *b != b'.') {
        if b.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            gap = true;
        }
    }
    out
}

/// What the text index holds for a company: the folded words of its name and
/// trade names, each once, in order.
pub fn search_text<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = Vec::new();
    for name in names {
        for word in search_words(name) {
            if seen.insert(word.clone()) {
                out.push(word);
            }
        }
    }
    out.join(" ")
}

/// The trigrams of a word, padded as pg_trgm pads them: two spaces before, one
/// after (`"  w"`, `" wo"`, …, `"rd "`).
pub fn trigrams(word: &str) -> BTreeSet<String> {
    let padded: Vec<char> = format!("  {word} ").chars().collect();
    padded.windows(3).map(|w| w.iter().collect()).collect()
}

/// How alike two words are: shared trigrams over all trigrams (0 to 1).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    let shared = ta.intersection(&tb).count();
    let all = ta.union(&tb).count();
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// The least similarity at which a word matches a query token.
pub const MATCH_THRESHOLD: f64 = 0.4;

/// How well `word` in a name answers `token` in a query: 1 when equal, 0.9 when
/// the word starts with the token (a prefix), else trigram similarity; `None`
/// below [`MATCH_THRESHOLD`].
pub fn token_score(token: &str, word: &str) -> Option<f64> {
    let score = if word == token {
        1.0
    } else if word.starts_with(token) {
        0.9
    } else {
        similarity(token, word).min(0.89)
    };
    (score >= MATCH_THRESHOLD).then_some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_searchable_words() {
        assert_eq!(
            words("Bouwbedrijf De Vries B.V."),
            ["bouwbedrijf", "de", "vries", "bv"]
        );
        assert_eq!(
            search_words("Bouwbedrijf De Vries B.V."),
            ["bouwbedrijf", "de", "vries"]
        );
        assert_eq!(words("Café Fryslân & Zn."), ["cafe", "fryslan", "zn"]);
        assert_eq!(sort_key("  Ábel  Tasman B.V."), "abel tasman bv");
        assert_eq!(
            search_text(["Drukkerij Jansen B.V.", "Jansen Print"]),
            "drukkerij jansen print"
        );
    }

    proptest::proptest! {
        /// The ASCII shortcut orders as the general path does.
        #[test]
        fn ascii_sort_keys_are_the_words_joined(name in "[ -~]{0,40}") {
            proptest::prop_assert_eq!(ascii_sort_key(&name), words(&name).join(" "));
        }
    }

    #[test]
    fn typos_and_prefixes_match_unrelated_words_do_not() {
        assert!(
            token_score("drukerij", "drukkerij").is_some_and(|s| s > 0.5),
            "a missing letter"
        );
        assert!(
            token_score("bouwbed", "bouwbedrijf") == Some(0.9),
            "a prefix"
        );
        assert!(
            token_score("jansen", "janssen").is_some(),
            "a doubled letter"
        );
        assert_eq!(token_score("jansen", "jansen"), Some(1.0));
        assert!(token_score("drukkerij", "bakkerij").is_none_or(|s| s < 0.5));
        assert!(token_score("bouw", "metaal").is_none());
        assert!(token_score("drukkerij", "drukkerij") > token_score("drukerij", "drukkerij"));
    }
}
