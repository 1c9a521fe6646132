//! Process exit codes, named once. Terraform's convention for plans: 0 = nothing to do,
//! 1 = error, 2 = changes present (only with `--detailed-exitcode`).

/// Success; with `--detailed-exitcode`, also "no changes".
pub(crate) const SUCCESS: u8 = 0;
/// Any error: invalid manifests, failed reads, failed applies.
pub(crate) const ERROR: u8 = 1;
/// `plan --detailed-exitcode`: the plan has changes.
pub(crate) const CHANGES_PRESENT: u8 = 2;
/// `apply PLAN`: the saved plan is stale (the tenants or the manifests changed since).
pub const STALE_PLAN: u8 = 3;
/// `apply`: another apply holds the apply lease (`--lease-wait` ran out); nothing was written.
pub const LEASE_HELD: u8 = 4;
/// `twins`: objects the tool owns match one natural key more than once (nothing removed).
pub(crate) const TWINS_FOUND: u8 = 5;
/// The command line itself was wrong (unknown flag, missing argument).
pub(crate) const USAGE: u8 = 64;
/// `apply` stopped by Ctrl-C (128 + SIGINT, as shells report it): the writes in flight
/// finished and were journaled, none started after.
pub(crate) const INTERRUPTED: u8 = 130;
