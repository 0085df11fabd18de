#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = custody::bundle::verify_bundle(std::io::Cursor::new(data), &Default::default());
});
