//! `phone::normalize` (and `mask`, `canonical`, `same_number`) on arbitrary text with a region
//! from a short list (first byte): never panics, a normalized number re-normalizes to itself in
//! Graph's format, masked text keeps at most the country code and 3 digits in clear.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    autoenroll_fuzz::core_checks::check_phone_bytes(data);
});
