//! Stepwise agent (being written).
