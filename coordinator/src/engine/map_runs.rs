//! Map Runs: a distributed Map state's run, observed (`DescribeMapRun`,
//! `ListMapRuns`) and steered (`UpdateMapRun`) while its iterations run inline
//! in the execution. A run's record is stored when it starts and when it ends;
//! while it runs, its counts come from the execution's runtime.

use super::runtime::{Children, Pending, Runtime};
use super::{Engine, Exec};
use crate::api::ApiError;
use crate::store::MapRunRecord;

/// The execution a Map Run ARN belongs to: `…:mapRun:<machine>:<execution>/<label>:<id>`.
pub fn execution_of(map_run_arn: &str) -> Option<String> {
    let (head, tail) = map_run_arn.split_once(":mapRun:")?;
    let (machine_and_execution, _) = tail.split_once('/')?;
    Some(format!("{head}:execution:{machine_and_execution}"))
}

/// The records of the runs still going in `rt`: live (`status` `RUNNING`,
/// no `stop`), or ended with their execution.
pub(super) fn runs(
    rt: &Runtime,
    execution_arn: &str,
    status: &str,
    stop: Option<i64>,
) -> Vec<MapRunRecord> {
    let mut out = Vec::new();
    rt.root.walk(&mut |f| {
        if let Pending::Children(ch) = &f.pending
            && let Some(r) = ch.map_run(execution_arn, status, stop)
        {
            out.push(r);
        }
    });
    out
}

impl Engine {
    /// Changes a running Map Run's concurrency or failure tolerance; more
    /// iterations start at once if the limit went up.
    pub(super) fn update_map_run(
        &mut self,
        arn: &str,
        max_concurrency: Option<u64>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    ) -> Result<(), ApiError> {
        let not_running = || {
            ApiError::resource_not_found(format!(
                "Map Run Does Not Exist or is not running: '{arn}'"
            ))
        };
        let execution = execution_of(arn).ok_or_else(not_running)?;
        let mut exec: Exec = self.execs.remove(&execution).ok_or_else(not_running)?;
        let mut found = None;
        exec.rt.root.walk_mut(&mut |f| {
            if let Pending::Children(ch) = &mut f.pending
                && ch.run.as_ref().is_some_and(|r| r.arn == arn)
            {
                apply(
                    ch,
                    max_concurrency,
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                );
                found = ch.map_run(&execution, "RUNNING", None);
            }
        });
        let Some(record) = found else {
            self.execs.insert(execution, exec);
            return Err(not_running());
        };
        if !exec.express {
            self.batch.push(crate::store::Write::PutMapRun(record));
        }
        // Start what a higher limit allows, and record the change with the next round.
        self.step(exec, |rt, cx| rt.drive(cx));
        Ok(())
    }
}

fn apply(
    ch: &mut Children,
    max_concurrency: Option<u64>,
    tolerated_failure_count: Option<u64>,
    tolerated_failure_percentage: Option<f64>,
) {
    if let Some(m) = max_concurrency {
        ch.max_concurrency = m;
    }
    if let Some(c) = tolerated_failure_count {
        ch.tolerated_count = Some(c);
    }
    if let Some(p) = tolerated_failure_percentage {
        ch.tolerated_percentage = Some(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_run_arn_names_its_execution() {
        assert_eq!(
            execution_of("arn:aws:states:us-east-1:123456789012:mapRun:m:e-1/Each:7").as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:execution:m:e-1")
        );
        assert_eq!(
            execution_of("arn:aws:states:us-east-1:1:execution:m:e"),
            None
        );
        assert_eq!(execution_of("arn:aws:states:us-east-1:1:mapRun:m:e"), None);
    }
}
