#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = custody::proof::InclusionProofText::parse(s) {
            let _ = custody::merkle::verify_inclusion_proof(&[0; 32], p.index, p.index + 1, &p.hashes, &[0; 32]);
        }
        let _ = custody::proof::ConsistencyProofText::parse(s);
    }
});
