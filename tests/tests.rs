//! Integration tests: the real binary, real files, a real sled database.

mod util;

mod adversary;
mod archive;
mod attest;
mod authority;
mod bad_input;
mod bundle;
mod cli;
mod concurrency;
mod crash;
mod differential;
mod field;
mod fuzz;
mod kat;
mod openssl;
mod output;
mod report;
mod seal;
mod seal_adversary;
mod serve;
mod sweep;
mod tamper;
mod tiles;
mod timestamp;
mod vectors;
mod verdicts;
mod witness;
