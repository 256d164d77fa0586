//! The webhook handler's bytes-level entry (`Webhook::handle_bytes`) with an arbitrary method,
//! query, content type and body (raw, or a notification collection built from choice bytes;
//! see src/webhook_checks.rs): never panics, answers only documented statuses, and never
//! enqueues or reauthorizes without our tenant and an accepted clientState.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    autoenroll_fuzz::webhook_checks::check_webhook_bytes(data);
});
