//! Starting, stopping or restarting the whole stack (the `stack.action` job): stops go server
//! first and the database last, starts the other way round, so Immich never runs without its
//! database; a start or restart waits until every service is healthy. A whole stop marks every
//! service stopped on purpose (a reconcile leaves them so); a whole start clears that.

use std::collections::BTreeSet;
use std::sync::Arc;

use keepsake_api::{Job, JobResult, StackAction, StackActionReport};

use super::install::wait_healthy;
use super::{Inner, StackError, role_of, state};
use crate::jobs::{JobContext, JobKind, Outcome, Resource};

use super::job_failed as failed;

pub fn submit(inner: &Arc<Inner>, action: StackAction, by: &str) -> Result<Job, StackError> {
    if !state::load(&inner.store)?.installed {
        return Err(StackError::NotInstalled);
    }
    if let Some(job) = inner.jobs.busy_with(&Resource::Stack) {
        return Err(StackError::Busy(format!("job #{job} is changing the stack; wait for it to finish")));
    }
    let inner = Arc::clone(inner);
    Ok(inner.jobs.clone().submit(
        JobKind::StackAction { action },
        by,
        Box::new(move |ctx| Box::pin(async move { run(&inner, &ctx, action).await })),
    )?)
}

async fn run(inner: &Inner, ctx: &JobContext, action: StackAction) -> Outcome {
    let mut st = state::load(&inner.store).map_err(failed)?;
    let spec = inner.spec(&st).map_err(failed)?;
    let order = spec.start_order();
    let grace = inner.config.stop_grace;
    let mut done = Vec::new();
    if matches!(action, StackAction::Stop | StackAction::Restart) {
        for s in order.iter().rev() {
            ctx.progress(done.len() as u64, Some(order.len() as u64), "services", &format!("stopping {}", s.container));
            inner.engine.stop(&s.container, grace).await.map_err(failed)?;
            ctx.info(format!("{} stopped", s.container));
            if action == StackAction::Stop {
                done.push(role_of(s.role));
            }
        }
    }
    if matches!(action, StackAction::Start | StackAction::Restart) {
        for s in &order {
            ctx.progress(done.len() as u64, Some(order.len() as u64), "services", &format!("starting {}", s.container));
            inner.engine.start(&s.container).await.map_err(failed)?;
            ctx.info(format!("{} started", s.container));
            done.push(role_of(s.role));
        }
    }
    st.stopped = if action == StackAction::Stop { done.iter().copied().collect() } else { BTreeSet::new() };
    state::save(&inner.store, &st).map_err(failed)?;
    if action != StackAction::Stop {
        wait_healthy(inner, ctx, &spec, &BTreeSet::new()).await?;
        ctx.info("every service is healthy");
    }
    Ok(Some(JobResult::StackActed(StackActionReport { action, services: done })))
}
