//! Diagnostic events that can happen on every request, counted in memory and written to the
//! database's counters in batches.
//!
//! A site behind an unconfigured Cloudflare sees the same event on every request; writing each
//! one would add a database write to every page view. So the first event of a kind is written
//! at once (the doctor sees the problem immediately) and later ones at most every
//! [`FLUSH_SECONDS`], as one added count. A crash loses at most that many seconds of counts,
//! which is acceptable for diagnostics.
//!
//! This file only batches; [`super::Diagnostics::note`] writes what it hands back.

use std::collections::HashMap;
use std::sync::Mutex;

/// Events of one kind are written at most this often.
pub const FLUSH_SECONDS: i64 = 10;

#[derive(Debug)]
struct Pending {
    count: i64,
    sample: String,
    last_flush: i64,
}

/// Events not yet written, by counter name and label.
#[derive(Debug, Default)]
pub struct Events {
    pending: Mutex<HashMap<(&'static str, String), Pending>>,
}

/// A batch that is due to be written.
#[derive(Debug, PartialEq, Eq)]
pub struct Batch {
    pub name: &'static str,
    pub label: String,
    pub sample: String,
    pub count: i64,
}

impl Events {
    /// Counts one event and returns the batch to write, if one is due.
    pub fn note(&self, name: &'static str, label: &str, sample: &str, now: i64) -> Option<Batch> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.len() > 10_000 {
            // Bounded: labels come from requests; never let them grow without limit.
            pending.clear();
        }
        let entry = pending.entry((name, label.to_owned())).or_insert(Pending {
            count: 0,
            sample: String::new(),
            last_flush: i64::MIN,
        });
        entry.count += 1;
        entry.sample = sample.chars().take(200).collect();
        if now.saturating_sub(entry.last_flush) < FLUSH_SECONDS {
            return None;
        }
        let batch = Batch {
            name,
            label: label.to_owned(),
            sample: entry.sample.clone(),
            count: entry.count,
        };
        entry.count = 0;
        entry.last_flush = now;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_is_due_at_once_and_later_ones_are_batched() {
        let events = Events::default();
        assert_eq!(events.note("x", "a", "s1", 100).map(|b| b.count), Some(1));
        assert_eq!(events.note("x", "a", "s2", 101), None);
        assert_eq!(events.note("x", "a", "s3", 105), None);
        let b = events.note("x", "a", "s4", 110).unwrap();
        assert_eq!((b.count, b.sample.as_str()), (3, "s4"));
        assert_eq!(
            events.note("x", "b", "s", 111).map(|b| b.count),
            Some(1),
            "labels are separate"
        );
    }
}
