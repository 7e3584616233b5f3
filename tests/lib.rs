//! Tests live in the `[[test]]` targets.
