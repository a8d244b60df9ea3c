//! Stepwise coordinator (being written).
