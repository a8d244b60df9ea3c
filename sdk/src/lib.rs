//! # stepwise-sdk
//!
//! The typed client for the AWS Step Functions API and the activity Worker
//! runtime. It works against real AWS Step Functions (SigV4) and against the
//! Stepwise coordinator alike.
//!
//! With `default-features = false` only the wire types ([`types`]) and the
//! error codes ([`error`]) are compiled: that is what the coordinator uses.
#![forbid(unsafe_code)]

pub mod error;
pub mod types;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod credentials;
#[cfg(feature = "client")]
pub mod worker;

#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder, Credentials, Error, sign_request};
pub use error::{ApiErrorBody, ErrorCode};
#[cfg(feature = "client")]
pub use worker::{
    ActivityOptions, TaskContext, TaskEvent, TaskFailure, Worker, WorkerBuilder, run, service_fn,
};
