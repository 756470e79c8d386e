//! Telling the daemon's own saves from outside edits. Pure.
//!
//! The rule: a file whose bytes equal the daemon's last write (and so carry its last stamped
//! generation) is its own save; bytes equal to what it last saw are nothing new; anything
//! else is an outside edit, sorted by how its generation compares with the daemon's.

use serde::Serialize;

/// Why a changed file counts as an outside edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "case", rename_all = "snake_case")]
pub enum OutsideEdit {
    /// The generation matches the daemon's, the bytes do not: edited by hand, stamp kept.
    ChangedKeepingStamp { generation: u64 },
    /// An older generation: a restored copy, or an edit based on a stale read.
    LowerGeneration { disk: u64, ours: u64 },
    /// A newer generation: another writer.
    HigherGeneration { disk: u64, ours: u64 },
    /// No `generation` key.
    NoGeneration,
}

impl std::fmt::Display for OutsideEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutsideEdit::ChangedKeepingStamp { generation } => {
                write!(f, "bytes differ but generation {generation} is ours")
            }
            OutsideEdit::LowerGeneration { disk, ours } => {
                write!(
                    f,
                    "lower generation {disk} < {ours} (restored or stale copy)"
                )
            }
            OutsideEdit::HigherGeneration { disk, ours } => {
                write!(f, "higher generation {disk} > {ours} (another writer)")
            }
            OutsideEdit::NoGeneration => write!(f, "no generation in the file"),
        }
    }
}

/// The verdict on the file as just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileVerdict {
    /// The daemon's own save, seen by the watcher for the first time.
    OwnWrite,
    /// Nothing new (a touch, a repeated event, our save seen again).
    Unchanged,
    Outside(OutsideEdit),
}

/// What the store knows about the file.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The bytes last read or written.
    pub known: Option<&'a [u8]>,
    /// The last write: its generation and bytes, and whether the watcher has seen it yet.
    pub last_write: Option<(u64, &'a [u8], bool)>,
    /// The generation outside edits are compared with: the last stamped one, else the last
    /// one read.
    pub generation: u64,
}

/// Classifies the file's current `bytes` (with the `generation` parsed from them, if any).
pub fn classify(bytes: &[u8], generation: Option<u64>, seen: &Seen<'_>) -> FileVerdict {
    if let Some((stamp, written, false)) = seen.last_write
        && generation == Some(stamp)
        && bytes == written
    {
        return FileVerdict::OwnWrite;
    }
    if seen.known == Some(bytes) {
        return FileVerdict::Unchanged;
    }
    FileVerdict::Outside(outside_case(generation, seen.generation))
}

/// Sorts a changed file by its generation against `ours`.
pub fn outside_case(disk: Option<u64>, ours: u64) -> OutsideEdit {
    match disk {
        None => OutsideEdit::NoGeneration,
        Some(g) if g == ours => OutsideEdit::ChangedKeepingStamp { generation: g },
        Some(g) if g < ours => OutsideEdit::LowerGeneration { disk: g, ours },
        Some(g) => OutsideEdit::HigherGeneration { disk: g, ours },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let written: &[u8] = b"W5";
        let fresh = Seen {
            known: Some(written),
            last_write: Some((5, written, false)),
            generation: 5,
        };
        let acked = Seen {
            last_write: Some((5, written, true)),
            ..fresh
        };
        let never_saved = Seen {
            known: Some(b"R3"),
            last_write: None,
            generation: 3,
        };
        type Case<'a> = (&'a str, &'a [u8], Option<u64>, Seen<'a>, FileVerdict);
        let cases: Vec<Case> = vec![
            (
                "own save, first sight",
                b"W5",
                Some(5),
                fresh,
                FileVerdict::OwnWrite,
            ),
            (
                "own save seen again",
                b"W5",
                Some(5),
                acked,
                FileVerdict::Unchanged,
            ),
            (
                "user kept our stamp",
                b"W5 edited",
                Some(5),
                fresh,
                FileVerdict::Outside(OutsideEdit::ChangedKeepingStamp { generation: 5 }),
            ),
            (
                "restored copy",
                b"W2",
                Some(2),
                fresh,
                FileVerdict::Outside(OutsideEdit::LowerGeneration { disk: 2, ours: 5 }),
            ),
            (
                "another writer",
                b"W9",
                Some(9),
                fresh,
                FileVerdict::Outside(OutsideEdit::HigherGeneration { disk: 9, ours: 5 }),
            ),
            (
                "stamp removed",
                b"{}",
                None,
                fresh,
                FileVerdict::Outside(OutsideEdit::NoGeneration),
            ),
            (
                "touch before any save",
                b"R3",
                Some(3),
                never_saved,
                FileVerdict::Unchanged,
            ),
            (
                "edit before any save",
                b"R3 edited",
                Some(3),
                never_saved,
                FileVerdict::Outside(OutsideEdit::ChangedKeepingStamp { generation: 3 }),
            ),
        ];
        for (name, bytes, generation, seen, want) in cases {
            assert_eq!(classify(bytes, generation, &seen), want, "{name}");
        }
    }
}
