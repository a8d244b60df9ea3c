//! Crash-loop protection: an execution that was running each time the
//! coordinator died abnormally is failed instead of being resumed for ever.
//!
//! A workflow can take the process down in ways no limit inside it catches
//! (the kernel's OOM killer, a bug in a library). Resumed after the restart,
//! it would take it down again, and again. So the data directory holds a
//! marker, `stepwise.running`, while a coordinator runs on it; a clean stop
//! removes it. Finding it at start means the last process died abnormally:
//! every execution running then counts one abnormal stop, kept in the marker
//! (JSON, execution ARN → count). One that reaches the limit
//! (`crash_loop_limit`, 2 by default) is failed with `States.Runtime` and a
//! cause that says why. A clean stop forgets the counts.
//!
//! This cannot tell the execution that crashed the process from one that was
//! merely running at the time; the limit is a count of abnormal stops *in a
//! row*, so only a crash loop (or a machine that keeps losing power) fails
//! anything.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MARKER: &str = "stepwise.running";

/// The error an execution failed this way ends with.
pub const ERROR: &str = "States.Runtime";

/// Counts abnormal stops per running execution, in the data directory.
#[derive(Debug)]
pub struct CrashGuard {
    path: PathBuf,
    limit: u32,
}

/// Why the marker could not be written or removed.
#[derive(Debug, thiserror::Error)]
#[error("crash marker {path}: {source}")]
pub struct GuardError {
    path: String,
    source: std::io::Error,
}

impl CrashGuard {
    /// The guard of `data_dir`; `limit` 0 never fails anything (the marker is
    /// still kept, so counting starts when a limit is set).
    pub fn new(data_dir: &Path, limit: u32) -> Self {
        Self {
            path: data_dir.join(MARKER),
            limit,
        }
    }

    fn err(&self, source: std::io::Error) -> GuardError {
        GuardError {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// At start, with the executions the store says are running: those to
    /// fail. Writes the new counts (the marker) before returning, so a crash
    /// from here on counts.
    pub fn at_start(&self, running: &[String]) -> Result<HashSet<String>, GuardError> {
        let previous: BTreeMap<String, u32> = match fs::read(&self.path) {
            // The last process died abnormally.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %self.path.display(), error = %e, "crash marker unreadable; counting from its presence alone");
                BTreeMap::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A clean stop (or a new data directory): nothing counts.
                self.write(&BTreeMap::new())?;
                return Ok(HashSet::new());
            }
            Err(e) => return Err(self.err(e)),
        };
        let mut counts = BTreeMap::new();
        let mut doomed = HashSet::new();
        for arn in running {
            let n = previous.get(arn).copied().unwrap_or(0).saturating_add(1);
            if self.limit > 0 && n >= self.limit {
                doomed.insert(arn.clone());
            } else {
                counts.insert(arn.clone(), n);
            }
        }
        if !running.is_empty() {
            tracing::warn!(
                running = running.len(),
                failed = doomed.len(),
                "the last coordinator process stopped abnormally"
            );
        }
        self.write(&counts)?;
        Ok(doomed)
    }

    /// The cause written on an execution failed this way.
    pub fn cause(&self) -> String {
        format!(
            "The coordinator stopped abnormally {} times in a row while this execution was running (crash_loop_limit); it was failed instead of resumed, in case it is what stops the coordinator",
            self.limit
        )
    }

    fn write(&self, counts: &BTreeMap<String, u32>) -> Result<(), GuardError> {
        let text = serde_json::to_vec(counts).map_err(|e| self.err(e.into()))?;
        let tmp = self.path.with_extension("running.tmp");
        let mut f = fs::File::create(&tmp).map_err(|e| self.err(e))?;
        f.write_all(&text).map_err(|e| self.err(e))?;
        f.sync_all().map_err(|e| self.err(e))?;
        fs::rename(&tmp, &self.path).map_err(|e| self.err(e))
    }

    /// After a clean stop: removes the marker.
    pub fn clean_stop(&self) -> Result<(), GuardError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn counts_abnormal_stops_in_a_row_and_forgets_them_on_a_clean_stop() {
        let dir = tempfile::tempdir().unwrap();
        let g = CrashGuard::new(dir.path(), 2);
        // A fresh start: nothing to fail.
        assert!(g.at_start(&arns(&["a", "b"])).unwrap().is_empty());
        // Died: a and b ran through one abnormal stop.
        assert!(g.at_start(&arns(&["a", "b"])).unwrap().is_empty());
        // Died again: a was running again, c is new.
        let doomed = g.at_start(&arns(&["a", "c"])).unwrap();
        assert_eq!(doomed, HashSet::from(["a".to_owned()]));
        // A clean stop forgets every count.
        g.clean_stop().unwrap();
        assert!(g.at_start(&arns(&["c"])).unwrap().is_empty());
        assert!(g.at_start(&arns(&["c"])).unwrap().is_empty());
    }

    #[test]
    fn limit_zero_never_fails_and_a_bad_marker_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let g = CrashGuard::new(dir.path(), 0);
        for _ in 0..5 {
            assert!(g.at_start(&arns(&["a"])).unwrap().is_empty());
        }
        fs::write(dir.path().join(MARKER), b"not json").unwrap();
        let g = CrashGuard::new(dir.path(), 1);
        assert_eq!(g.at_start(&arns(&["a"])).unwrap().len(), 1);
    }
}
