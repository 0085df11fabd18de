#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = custody::note::open_note(s, "example.org/custody/kat", &[0x11; 32]);
        let _ = custody::checkpoint::Checkpoint::parse_body(s);
    }
});
