//! Benchmarks of the nas optimizer core, run by `nas bench …`; each prints numbers.
//!
//! - [`speed`]: the sampler's own time per proposal as a study grows.
//! - [`quality`]: median best value after a fixed number of trials on standard functions.
//! - [`study`]: one ask and tell through a study and its SQLite storage.
//! - [`workers`]: asks per second with several workers sharing one study (SQLite or
//!   PostgreSQL).
//!
//! The first two drive the samplers directly on an in-memory history; the last measures the
//! whole round trip.

#![warn(missing_docs)]

pub mod driver;
pub mod functions;
pub mod quality;
pub mod speed;
pub mod study;
pub mod workers;
