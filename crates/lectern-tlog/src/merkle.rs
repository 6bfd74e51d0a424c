//! A Merkle tree over the log, as RFC 6962 (and RFC 9162 §2.1) define it,
//! so that anyone holding a signed tree head can check that an event is in
//! the log (an inclusion proof) and that a later log extends an earlier one
//! (a consistency proof) without trusting the server.
//!
//! The leaves are the events' chain hashes in position order (leaf `i` is
//! the event at position `i + 1`); a leaf's hash is `SHA-256(0x00 ||
//! chain hash)`, an interior node's `SHA-256(0x01 || left || right)`, and
//! the tree of no leaves has root `SHA-256("")`.
//!
//! Generation works on the leaf hashes of the tree in memory; verification
//! needs only the proof, sizes and roots (it runs in an auditor's bundle
//! check with no database).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The leaf hash of `data` (for the log: an event's chain hash).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root (tree head hash) of the tree whose leaf hashes are `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    // Bottom up, level by level: the same tree as the recursive definition
    // (a lone last node moves up a level unchanged).
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                _ => pair[0],
            })
            .collect();
    }
    level[0]
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962
/// §2.1.1), nearest sibling first.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(index < leaves.len(), "leaf {index} of {}", leaves.len());
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    proof
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` (a leaf hash) is leaf `index` of the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The proof that the tree of the first `old` leaves is a prefix of the
/// tree of `leaves` (RFC 6962 §2.1.2).
pub fn consistency_proof(old: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(old <= leaves.len(), "old size {old} > {}", leaves.len());
    let mut proof = Vec::new();
    if old > 0 && old < leaves.len() {
        subproof(old, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        // The empty tree is a prefix of every tree.
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut proof = proof.to_vec();
    if old.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (proof[0], proof[0]);
    for c in &proof[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn h(s: &str) -> Hash {
        unhex(s).try_into().unwrap()
    }

    /// The Certificate Transparency reference leaves.
    fn reference() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|d| leaf_hash(&unhex(d)))
        .collect()
    }

    #[test]
    fn roots_match_rfc_6962_reference_values() {
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = reference();
        for (n, want) in roots.iter().enumerate() {
            assert_eq!(root(&leaves[..n]), h(want), "size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_rfc_6962_reference_values() {
        let leaves = reference();
        let root8 = root(&leaves);
        for (index, want) in [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ] {
            let proof = inclusion_proof(index, &leaves);
            let want: Vec<Hash> = want.iter().map(|w| h(w)).collect();
            assert_eq!(proof, want, "leaf {index}");
            assert!(verify_inclusion(
                index as u64,
                8,
                &leaves[index],
                &proof,
                &root8
            ));
        }
    }

    /// Leaves that differ in every tree.
    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn every_inclusion_proof_verifies_and_any_change_fails() {
        for n in 1..=40 {
            let all = leaves(n);
            let r = root(&all);
            for i in 0..n {
                let proof = inclusion_proof(i, &all);
                assert!(
                    verify_inclusion(i as u64, n as u64, &all[i], &proof, &r),
                    "{i} of {n}"
                );
                // Another leaf, another index, another size, a changed
                // step, a missing or extra step: each fails.
                let other = leaf_hash(b"not in the log");
                assert!(!verify_inclusion(i as u64, n as u64, &other, &proof, &r));
                if n > 1 {
                    let j = (i + 1) % n;
                    assert!(!verify_inclusion(j as u64, n as u64, &all[i], &proof, &r));
                }
                // (The size is bound by the signed tree head, not by the
                // proof: against the root of the larger tree it fails.)
                let grown = leaves(n + 1);
                assert!(!verify_inclusion(
                    i as u64,
                    n as u64 + 1,
                    &all[i],
                    &proof,
                    &root(&grown)
                ));
                assert!(!verify_inclusion(n as u64, n as u64, &all[i], &proof, &r));
                for k in 0..proof.len() {
                    let mut bent = proof.clone();
                    bent[k][0] ^= 1;
                    assert!(!verify_inclusion(i as u64, n as u64, &all[i], &bent, &r));
                }
                if !proof.is_empty() {
                    let short = &proof[..proof.len() - 1];
                    assert!(!verify_inclusion(i as u64, n as u64, &all[i], short, &r));
                }
                let mut long = proof.clone();
                long.push(other);
                assert!(!verify_inclusion(i as u64, n as u64, &all[i], &long, &r));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_change_fails() {
        for n in 1..=40 {
            let all = leaves(n);
            let new_root = root(&all);
            for m in 0..=n {
                let old_root = root(&all[..m]);
                let proof = consistency_proof(m, &all);
                assert!(
                    verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof),
                    "{m} → {n}"
                );
                if m == 0 || m == n {
                    continue;
                }
                // A different history: the old tree with one leaf changed.
                let mut forged = all[..m].to_vec();
                forged[m - 1][0] ^= 1;
                assert!(!verify_consistency(
                    m as u64,
                    n as u64,
                    &root(&forged),
                    &new_root,
                    &proof
                ));
                assert!(!verify_consistency(
                    m as u64,
                    n as u64,
                    &old_root,
                    &root(&leaves(n + 1)),
                    &proof
                ));
                for k in 0..proof.len() {
                    let mut bent = proof.clone();
                    bent[k][31] ^= 0x80;
                    assert!(!verify_consistency(
                        m as u64, n as u64, &old_root, &new_root, &bent
                    ));
                }
                if m + 1 < n {
                    assert!(!verify_consistency(
                        m as u64 + 1,
                        n as u64,
                        &old_root,
                        &new_root,
                        &proof
                    ));
                }
            }
        }
        // A larger tree cannot be a prefix of a smaller one.
        let all = leaves(5);
        assert!(!verify_consistency(
            5,
            4,
            &root(&all),
            &root(&all[..4]),
            &[]
        ));
    }
}
