//! The burn-free optimizer core of nas.
//!
//! - [`space`]: conditional search spaces read from TOML (the `nas-space` crate, re-exported).
//! - [`sampler`]: random search, TPE (univariate, multivariate, multi-objective, constrained),
//!   GP-BO and BOHB (TPE fitted per rung of a fidelity ladder).
//! - [`study`]: the [`study::Study`] handle over a study stored by `nas-store` (SQLite or
//!   PostgreSQL behind the [`study::Storage`] trait, re-exported).
//! - [`pareto`]: non-dominated sorting, Pareto fronts and hypervolume.
//! - [`schedule`]: multi-fidelity schedulers (successive halving, ASHA, Hyperband) over a
//!   fidelity ladder.
//!
//! Nothing here depends on burn: this crate builds in seconds and is tested on its own.

#![warn(missing_docs)]

pub mod pareto;
pub mod sampler;
pub mod schedule;
pub use nas_space as space;
pub mod study;
