//! Fuzzes the envelope decoder: any input either fails with an error or decodes to an envelope
//! whose text form is exactly the input (one envelope, one text).

#![no_main]

use devicekey::{Envelope, is_envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(envelope) = Envelope::parse(text) {
        assert_eq!(envelope.to_text(), text, "decoding is canonical");
        assert!(is_envelope(text));
        // Accessors never panic either.
        let _ = (envelope.mode(), envelope.kdf_params(), envelope.sources());
    }
});
