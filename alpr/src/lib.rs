//! The `alpr` binary's library: configuration of the whole application, the subcommands, and
//! the single-process modes (`alpr run`, `alpr demo`). `main.rs` only parses and calls in here,
//! so tests drive the same code.

pub mod admin;
pub mod app_config;
pub mod audit;
pub mod cli;
pub mod components;
pub mod demo;
pub mod generator;
pub mod local_kafka;
pub mod retention;
pub mod search;
