//! Given/when/then tests of the domain, without a database.
#![allow(unreachable_pub)] // a test binary exports nothing

mod appraisal;
mod award;
mod dispute;
mod fixtures;
mod kiosk;
mod manifest;
mod monthly;
mod org;
mod person;
mod programme;
mod properties;
mod proxy;
mod report;
mod session;
mod shapes;
mod study;
