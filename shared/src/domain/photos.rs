//! The check of a training photo (crate `photo-check`: the measurements and where the lines are
//! drawn), and how many photos a draft may keep.

pub use photo_check::{distance, Checker, Measurements, Problem, Thresholds, Unreadable};

use super::rules::MAX_PHOTOS;

/// Photos a draft keeps at most, good and to be replaced together: a person replacing photos may
/// send more than the 20 that count, but not without end.
pub const MAX_KEPT_PHOTOS: i64 = 3 * MAX_PHOTOS;

/// A stored hash (Postgres has no unsigned 64-bit integer: the same bits as a `BIGINT`).
pub fn stored_hash(hash: u64) -> i64 {
    hash as i64
}

pub fn hash_of(stored: i64) -> u64 {
    stored as u64
}
