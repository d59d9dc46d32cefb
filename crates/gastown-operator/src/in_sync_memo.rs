//! Verdicts of "the observed object already holds the desired one", kept so
//! that a reconcile finding an object as it found it last time does not
//! compare it field by field again.
//!
//! The verdict is a pure function of the observed object's content and the
//! desired object's content. The API server names the first by uid and
//! resourceVersion (a new version for every change); a 128-bit hash of the
//! desired object's JSON names the second. So a verdict recorded for those
//! three holds for as long as all three are the same, whichever reconcile,
//! or operator in the same process, asks. Comparing serialised objects was
//! the largest cost of a converged reconcile (docs/benchmarks.md).

use std::collections::HashMap;
use std::hash::Hasher as _;
use std::sync::{LazyLock, Mutex};

/// Verdicts kept at most; past that the memo starts again (objects deleted
/// leave their verdicts behind, and this bounds them).
const CAPACITY: usize = 50_000;

/// Only "in sync" is remembered: a verdict of drift is followed by a write,
/// which gives the object a new version anyway.
static IN_SYNC: LazyLock<Mutex<HashMap<String, (String, u128)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A 128-bit hash of `bytes` as written by serde_json: FNV-1a and SipHash
/// side by side, so that two different desired objects are never taken for
/// one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentHash(pub u128);

/// Hashes what is written to it.
pub struct HashWriter {
    fnv: u64,
    sip: std::hash::DefaultHasher,
}

impl Default for HashWriter {
    fn default() -> Self {
        Self {
            fnv: 0xcbf2_9ce4_8422_2325,
            sip: std::hash::DefaultHasher::new(),
        }
    }
}

impl HashWriter {
    /// The FNV-1a half alone: stable across runs and builds, for annotations.
    pub fn fnv(&self) -> u64 {
        self.fnv
    }

    pub fn finish(&self) -> ContentHash {
        ContentHash((u128::from(self.fnv) << 64) | u128::from(self.sip.finish()))
    }
}

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.fnv = bytes.iter().fold(self.fnv, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
        });
        self.sip.write(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether the object `uid` at `version` was found holding the desired
/// object of hash `desired`.
pub fn known_in_sync(uid: &str, version: &str, desired: ContentHash) -> bool {
    let memo = IN_SYNC
        .lock()
        .expect("the lock is never held across a panic");
    memo.get(uid)
        .is_some_and(|(v, hash)| v == version && *hash == desired.0)
}

/// Records that the object `uid` at `version` holds the desired object of
/// hash `desired`.
pub fn record_in_sync(uid: &str, version: &str, desired: ContentHash) {
    let mut memo = IN_SYNC
        .lock()
        .expect("the lock is never held across a panic");
    if memo.len() >= CAPACITY && !memo.contains_key(uid) {
        memo.clear();
    }
    memo.insert(uid.to_string(), (version.to_string(), desired.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn hash(bytes: &[u8]) -> ContentHash {
        let mut writer = HashWriter::default();
        writer.write_all(bytes).unwrap();
        writer.finish()
    }

    #[test]
    fn a_verdict_holds_only_for_the_same_version_and_desired_object() {
        let (a, b) = (hash(b"{\"a\":1}"), hash(b"{\"a\":2}"));
        assert_ne!(a, b);
        assert!(!known_in_sync("memo-test-uid", "1", a));
        record_in_sync("memo-test-uid", "1", a);
        assert!(known_in_sync("memo-test-uid", "1", a));
        assert!(!known_in_sync("memo-test-uid", "2", a), "a new version");
        assert!(
            !known_in_sync("memo-test-uid", "1", b),
            "another desired object"
        );
        assert!(!known_in_sync("memo-test-other", "1", a), "another object");
    }

    #[test]
    fn hashing_in_pieces_equals_hashing_at_once() {
        let mut pieces = HashWriter::default();
        pieces.write_all(b"{\"a\":").unwrap();
        pieces.write_all(b"1}").unwrap();
        assert_eq!(pieces.finish(), hash(b"{\"a\":1}"));
    }
}
