use lectern_tlog::merkle::{self, Hash};
use lectern_tlog::note::{Alg, Note, NoteSigner, TreeHead};
use lectern_tlog::witness::{
    WitnessError, add_checkpoint_request, check_extension, parse_add_checkpoint,
};

fn leaves(n: u8, salt: u8) -> Vec<Hash> {
    (0..n).map(|i| merkle::leaf_hash(&[i, salt])).collect()
}

fn signed(log: &NoteSigner, leaves: &[Hash]) -> (Note, TreeHead) {
    let head = TreeHead {
        origin: "lectern.example/log".into(),
        size: leaves.len() as u64,
        root: merkle::root(leaves),
    };
    let body = head.body();
    (
        Note {
            signatures: vec![log.sign(&body)],
            body,
        },
        head,
    )
}

#[test]
fn a_witness_follows_a_growing_log_and_names_each_rewrite() {
    let log = NoteSigner::new("lectern.example/log", Alg::Ed25519, &[1; 32]).unwrap();
    let key = log.key();
    let honest = leaves(35, 0);
    let (n30, h30) = signed(&log, &honest[..30]);
    let (n35, h35) = signed(&log, &honest);
    // First sight: accepted as is; then 30 → 35 with the proof.
    assert_eq!(check_extension(None, &n30, &[], key), Ok(h30.clone()));
    let proof = merkle::consistency_proof(30, &honest);
    assert_eq!(
        check_extension(Some(&h30), &n35, &proof, key),
        Ok(h35.clone())
    );
    assert_eq!(check_extension(Some(&h35), &n35, &[], key), Ok(h35.clone()));

    // Event 5 rewritten and the log re-signed with the real key.
    let mut rewritten = honest.clone();
    rewritten[4] = merkle::leaf_hash(b"forged");
    let (f35, _) = signed(&log, &rewritten);
    let (f36, _) = signed(&log, &[rewritten.clone(), leaves(1, 9)].concat());
    assert!(matches!(
        check_extension(Some(&h35), &f35, &[], key),
        Err(WitnessError::Forked { size: 35, .. })
    ));
    let proof = merkle::consistency_proof(35, &[rewritten.clone(), leaves(1, 9)].concat());
    let err = check_extension(Some(&h35), &f36, &proof, key).unwrap_err();
    assert_eq!(err, WitnessError::Inconsistent { old: 35, new: 36 });
    assert!(err.to_string().contains("history was rewritten"), "{err}");
    // The last events deleted.
    assert_eq!(
        check_extension(Some(&h35), &n30, &[], key),
        Err(WitnessError::Shrank { old: 35, new: 30 })
    );
    // Signed by a key the witness does not trust.
    let intruder = NoteSigner::new("lectern.example/log", Alg::Ed25519, &[2; 32]).unwrap();
    let (i36, _) = signed(&intruder, &[honest.clone(), leaves(1, 9)].concat());
    assert!(matches!(
        check_extension(Some(&h35), &i36, &[], key),
        Err(WitnessError::Unsigned { size: 36, .. })
    ));
}

#[test]
fn an_add_checkpoint_request_reads_back() {
    let log = NoteSigner::new("lectern.example/log", Alg::Ed25519, &[1; 32]).unwrap();
    let all = leaves(20, 0);
    let (note, _) = signed(&log, &all);
    let proof = merkle::consistency_proof(13, &all);
    let body = add_checkpoint_request(13, &proof, &note.text());
    assert!(body.starts_with("old 13\n"), "{body}");
    let (old, read, parsed) = parse_add_checkpoint(&body).unwrap();
    assert_eq!((old, read, parsed), (13, proof, note.clone()));
    let first = add_checkpoint_request(0, &[], &note.text());
    assert_eq!(parse_add_checkpoint(&first).unwrap().0, 0);
    assert!(parse_add_checkpoint("old x\n\n").is_err());
}
