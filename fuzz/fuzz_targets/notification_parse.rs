//! `notification::parse_collection` on arbitrary bytes: never panics, accepts only well-formed
//! user notifications, never shows a clientState in an error or a Debug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    autoenroll_fuzz::core_checks::check_notification(data);
});
