//! Tests of the rule engine on a real (in-memory) store.
