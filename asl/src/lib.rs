//! # stepwise-asl
//!
//! The Amazon States Language, pure and without I/O: the definition model,
//! validation with precise errors, JSONPath data flow, intrinsic functions,
//! Choice rules, error matching for Retry/Catch, and a stepping API that
//! decides what happens next without reading a clock, a random source or the
//! network. The coordinator does the I/O; this crate decides.
#![forbid(unsafe_code)]

pub mod arn;
pub mod choice;
pub mod compile;
pub mod diagnostic;
pub mod env;
pub mod error;
pub mod exec;
pub mod intrinsics;
pub mod jsonata;
pub mod local;
pub mod model;
pub mod path;
pub mod resource;
pub mod step;
pub mod template;
pub mod test_state;

pub use diagnostic::{DefinitionError, Diagnostic};
pub use env::{Env, Variables};
pub use error::{StatesError, names};
