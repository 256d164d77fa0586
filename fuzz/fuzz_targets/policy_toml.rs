//! `Policy::from_toml_str` on arbitrary text (first byte 0xFF: the same bytes as
//! `NAME=value` environment lines through `Policy::from_lookup`, the code `from_env` runs):
//! never panics, what it accepts is valid and round-trips through the file and env forms.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    autoenroll_fuzz::core_checks::check_policy_bytes(data);
});
