//! The Merkle tree of RFC 6962 (section 2.1, as RFC 9162 restates it) over the
//! log's leaves: leaf and node hashes, the hashes a log stores, the right edge
//! an append extends, and the audit paths and consistency proofs of its
//! section 2.1.3 and 2.1.4, with their checks.
//!
//! A tree of `n` leaves stores the hash of every *complete* subtree: at level
//! `l` (leaves are level 0) the node `i` covers leaves `i·2^l .. (i+1)·2^l` and
//! is stored once that range is whole. Every other hash a proof or a root needs
//! combines stored ones (see [`range_hash`]).

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A leaf's hash: SHA-256 of `0x00 ‖ leaf`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// An inner node's hash: SHA-256 of `0x01 ‖ left ‖ right`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A stored hash: the complete subtree at `level` with index `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

/// The right edge of a tree: its size and the roots of its complete subtrees,
/// largest (leftmost) first, one per bit set in the size. What an append
/// extends, and what gives the root without reading anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// The roots of the complete subtrees, largest first.
    roots: Vec<Hash>,
}

/// Why stored bytes are not a frontier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a log frontier of {size} leaves needs {expected} hashes, found {found} bytes")]
pub struct BadFrontier {
    pub size: u64,
    pub expected: u32,
    pub found: usize,
}

impl Frontier {
    /// The edge of a tree of `size` leaves from its stored form (the roots
    /// concatenated, largest first).
    pub fn from_parts(size: u64, bytes: &[u8]) -> Result<Frontier, BadFrontier> {
        let expected = size.count_ones();
        let bad = BadFrontier {
            size,
            expected,
            found: bytes.len(),
        };
        if bytes.len() != expected as usize * 32 {
            return Err(bad);
        }
        let roots = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().map_err(|_| bad))
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, roots })
    }

    /// The stored form: the roots concatenated, largest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.roots.concat()
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root hash (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        let mut roots = self.roots.iter().rev();
        match roots.next() {
            None => empty_root(),
            Some(last) => roots.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends a leaf by its hash and answers the hashes this completes, each
    /// to be stored: the leaf itself, then one per subtree it closes.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut stored = Vec::with_capacity(1 + index.trailing_ones() as usize);
        stored.push((NodeId { level: 0, index }, leaf));
        let mut hash = leaf;
        let mut level = 0u8;
        let mut at = index;
        // Each low bit set in the old size is a complete subtree to the left
        // of the same size: it merges with the new one.
        while at & 1 == 1 {
            let Some(left) = self.roots.pop() else { break };
            hash = node_hash(&left, &hash);
            level += 1;
            at >>= 1;
            stored.push((NodeId { level, index: at }, hash));
        }
        self.roots.push(hash);
        self.size += 1;
        stored
    }

    /// The nodes whose hashes form the frontier of a tree of `size` leaves,
    /// largest first: to check a stored frontier against the stored hashes.
    pub fn nodes(size: u64) -> Vec<NodeId> {
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size >> level & 1 == 1 {
                nodes.push(NodeId {
                    level,
                    index: start >> level,
                });
                start += 1 << level;
            }
        }
        nodes
    }
}

/// The largest power of two smaller than `n` (for `n ≥ 2`): where RFC 6962
/// splits a tree of `n` leaves.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    NoSuchLeaf { index: u64, size: u64 },
    #[error("a tree of {from} leaves is not a prefix of one of {to}")]
    NotAPrefix { from: u64, to: u64 },
    #[error("the log holds no hash for node {0:?}")]
    Missing(NodeId),
    #[error("the proof does not lead to the root")]
    Mismatch,
}

/// The hashes of stored nodes, by their ids: the log's table, or a tree in memory.
pub trait NodeSource {
    /// The hashes of `nodes`, in their order; an error names one that is missing.
    fn hashes(&mut self, nodes: &[NodeId]) -> Result<Vec<Hash>, ProofError>;
}

/// A hash that a proof or root needs: the complete subtrees it is made of,
/// largest first (one, when it is stored).
type Part = Vec<NodeId>;

/// The complete subtrees that make up leaves `lo..hi` as RFC 6962 splits them
/// (the range starts at a multiple of its split, as every range of a proof
/// does), largest first.
fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut start = lo;
    while start < hi {
        let n = hi - start;
        // The largest aligned power of two that fits.
        let mut size = if n.is_power_of_two() { n } else { split(n) };
        while !start.is_multiple_of(size) {
            size >>= 1;
        }
        nodes.push(NodeId {
            level: size.trailing_zeros() as u8,
            index: start / size,
        });
        start += size;
    }
    nodes
}

/// Combines the hashes of consecutive complete subtrees (largest first) into
/// the hash RFC 6962 gives their range: right to left.
fn combine(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    match it.next() {
        None => empty_root(),
        Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Resolves parts to hashes with one read of the source.
fn resolve(parts: &[Part], source: &mut impl NodeSource) -> Result<Vec<Hash>, ProofError> {
    let wanted: Vec<NodeId> = parts
        .iter()
        .flat_map(|nodes| nodes.iter().copied())
        .collect();
    let hashes = source.hashes(&wanted)?;
    let mut at = 0;
    Ok(parts
        .iter()
        .map(|nodes| {
            let h = combine(&hashes[at..at + nodes.len()]);
            at += nodes.len();
            h
        })
        .collect())
}

/// The hash of leaves `lo..hi` (RFC 6962 MTH of that range).
pub fn range_hash(lo: u64, hi: u64, source: &mut impl NodeSource) -> Result<Hash, ProofError> {
    let parts = [range_nodes(lo, hi)];
    Ok(resolve(&parts, source)?[0])
}

/// The root hash of the first `size` leaves.
pub fn root_at(size: u64, source: &mut impl NodeSource) -> Result<Hash, ProofError> {
    range_hash(0, size, source)
}

/// The audit path of leaf `index` in the tree of the first `size` leaves
/// (RFC 9162 2.1.3.1), from the leaf up.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    source: &mut impl NodeSource,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::NoSuchLeaf { index, size });
    }
    // PATH(m, D[lo..hi]) from the root down, then reversed.
    let mut parts = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < k {
            parts.push(range_nodes(lo + k, hi));
            hi = lo + k;
        } else {
            parts.push(range_nodes(lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    parts.reverse();
    resolve(&parts, source)
}

/// The proof that the tree of the first `from` leaves is a prefix of the tree
/// of the first `to` (RFC 9162 2.1.4.1), for `1 ≤ from ≤ to`; empty when the
/// two are the same tree.
pub fn consistency_proof(
    from: u64,
    to: u64,
    source: &mut impl NodeSource,
) -> Result<Vec<Hash>, ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::NotAPrefix { from, to });
    }
    // SUBPROOF(m, D[lo..hi], b) from the root down, then reversed.
    let mut parts = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, to, from, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                parts.push(range_nodes(lo, hi));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            parts.push(range_nodes(lo + k, hi));
            hi = lo + k;
        } else {
            parts.push(range_nodes(lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    parts.reverse();
    resolve(&parts, source)
}

/// Checks an audit path (RFC 9162 2.1.3.2): that the leaf with hash `leaf` is
/// leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::NoSuchLeaf { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::Mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Checks a consistency proof (RFC 9162 2.1.4.2): that the tree of `from`
/// leaves with root `from_root` is a prefix of the tree of `to` leaves with
/// root `to_root`.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::NotAPrefix { from, to });
    }
    if from == to {
        return if proof.is_empty() && from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if from.is_power_of_two() {
        path.insert(0, *from_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::Mismatch);
    };
    let (mut f_n, mut s_n) = (from - 1, to - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::Mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && fr == *from_root && sr == *to_root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// A tree in memory: every stored hash, by level. For tests, and for the
/// start-up check that rebuilds the log from the events.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// Appends a leaf by its hash.
    pub fn push(&mut self, leaf: Hash) {
        for (node, hash) in self.frontier.push(leaf) {
            let level = usize::from(node.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(hash);
        }
    }

    /// The tree's edge.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryTree {
    fn hashes(&mut self, nodes: &[NodeId]) -> Result<Vec<Hash>, ProofError> {
        nodes
            .iter()
            .map(|n| {
                usize::try_from(n.index)
                    .ok()
                    .and_then(|i| self.levels.get(usize::from(n.level))?.get(i))
                    .copied()
                    .ok_or(ProofError::Missing(*n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from RFC 6962's definition, over the leaves themselves.
    fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// PATH from RFC 6962's definition.
    fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n as u64) as usize;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    /// SUBPROOF from RFC 6962's definition.
    fn subproof(m: usize, leaves: &[Vec<u8>], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], whole);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
    }

    fn tree(leaves: &[Vec<u8>]) -> MemoryTree {
        let mut t = MemoryTree::default();
        for l in leaves {
            t.push(leaf_hash(l));
        }
        t
    }

    #[test]
    fn the_empty_tree_hashes_as_rfc_6962_says() {
        // RFC 6962 2.1: MTH({}) = SHA-256(); the well-known value.
        let hex: String = empty_root().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Frontier::default().root(), empty_root());
    }

    #[test]
    fn roots_proofs_and_frontiers_match_the_definitions() {
        for n in 1..=70usize {
            let ls = leaves(n);
            let mut t = tree(&ls);
            let root = mth(&ls);
            assert_eq!(t.frontier().root(), root, "root of {n}");
            assert_eq!(root_at(n as u64, &mut t).ok(), Some(root));
            // The stored frontier is the stored hashes it names.
            let f = Frontier::from_parts(n as u64, &t.frontier().to_bytes()).expect("frontier");
            assert_eq!(f.root(), root);
            let named = t.hashes(&Frontier::nodes(n as u64)).expect("nodes");
            assert_eq!(
                named.concat(),
                t.frontier().to_bytes(),
                "frontier nodes of {n}"
            );
            for m in 0..n {
                let p = inclusion_proof(m as u64, n as u64, &mut t).expect("path");
                assert_eq!(p, path(m, &ls), "path {m} of {n}");
                verify_inclusion(&leaf_hash(&ls[m]), m as u64, n as u64, &p, &root)
                    .expect("verifies");
                assert!(
                    verify_inclusion(&leaf_hash(b"other"), m as u64, n as u64, &p, &root).is_err()
                );
                if m > 0 {
                    let from = m;
                    let c = consistency_proof(from as u64, n as u64, &mut t).expect("proof");
                    assert_eq!(c, subproof(from, &ls, true), "consistency {from}..{n}");
                    let old = mth(&ls[..from]);
                    verify_consistency(from as u64, n as u64, &c, &old, &root).expect("consistent");
                    assert!(verify_consistency(from as u64, n as u64, &c, &root, &old).is_err());
                }
            }
            assert_eq!(
                consistency_proof(n as u64, n as u64, &mut t).ok(),
                Some(Vec::new())
            );
        }
    }

    #[test]
    fn proofs_outside_the_tree_are_refused() {
        let mut t = tree(&leaves(5));
        assert!(matches!(
            inclusion_proof(5, 5, &mut t),
            Err(ProofError::NoSuchLeaf { .. })
        ));
        assert!(matches!(
            consistency_proof(0, 5, &mut t),
            Err(ProofError::NotAPrefix { .. })
        ));
        assert!(matches!(
            consistency_proof(6, 5, &mut t),
            Err(ProofError::NotAPrefix { .. })
        ));
        assert!(matches!(
            inclusion_proof(2, 9, &mut t),
            Err(ProofError::Missing(_))
        ));
    }

    #[test]
    fn a_frontier_of_the_wrong_length_is_refused() {
        assert!(Frontier::from_parts(3, &[0u8; 32]).is_err());
        assert!(Frontier::from_parts(0, &[]).is_ok());
    }
}
