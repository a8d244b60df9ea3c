//! Runnable examples for Stepwise; see `src/bin/demo.rs` and `workflows/`.
#![forbid(unsafe_code)]

/// The order-fulfillment workflow used by the demo.
pub const ORDER_FULFILLMENT: &str = include_str!("../workflows/order-fulfillment.asl.json");
