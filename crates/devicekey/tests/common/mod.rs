//! Helpers shared by the integration tests: keys built from known parts.

#![allow(dead_code)] // each test binary uses a different subset

use devicekey::{DeviceKey, KdfParams, Source, danger};

/// The smallest Argon2id work, so tests that need many distinct keys stay fast. The defaults
/// are exercised by the tests that build keys with `device_key`.
pub const CHEAP: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

pub const MACHINE_ID: &str = "5f1c0e7a9d2b4c3e8a6f0b1d2c3e4f50";
pub const PRODUCT_UUID: &str = "4c4c4544-0042-3510-8052-b2c04f4e3732";
pub const CPU_BRAND: &str = "AMD EPYC 7B13 64-Core Processor";

/// A fingerprint with all three sources.
pub fn fingerprint() -> Vec<(Source, Vec<u8>)> {
    vec![
        (Source::MachineId, MACHINE_ID.as_bytes().to_vec()),
        (Source::ProductUuid, PRODUCT_UUID.as_bytes().to_vec()),
        (Source::CpuBrand, CPU_BRAND.as_bytes().to_vec()),
    ]
}

/// A device key with the default KDF parameters.
pub fn device_key(secret: u8, fingerprint: Vec<(Source, Vec<u8>)>) -> DeviceKey {
    danger::from_parts([secret; 32], fingerprint).expect("the fingerprint has a machine-id")
}

/// A device key with cheap KDF parameters.
pub fn cheap_key(secret: u8, fingerprint: Vec<(Source, Vec<u8>)>) -> DeviceKey {
    device_key(secret, fingerprint)
        .with_kdf_params(CHEAP)
        .expect("CHEAP is valid")
}

/// `fingerprint()` with `source` set to `value` (or removed when `value` is `None`).
pub fn fingerprint_with(source: Source, value: Option<&str>) -> Vec<(Source, Vec<u8>)> {
    let mut parts: Vec<_> = fingerprint()
        .into_iter()
        .filter(|(s, _)| *s != source)
        .collect();
    if let Some(value) = value {
        parts.push((source, value.as_bytes().to_vec()));
    }
    parts
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length in {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}
