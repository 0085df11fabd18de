#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = custody::record::Record::decode(data) {
        assert_eq!(r.encode(), data);
    }
});
