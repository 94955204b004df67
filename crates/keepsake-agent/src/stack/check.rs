//! "Check for updates": the version this Keepsake release runs, when newer than the running one,
//! with its server image's digest read from the registry's manifest (nothing pulled) and whether
//! the update rules let it be taken directly. Answers come from a cache for a few hours, so an
//! open dashboard does not ask the registry on every look.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use keepsake_api::StackUpdateCheck;
use keepsake_stack::{ImmichVersion, Role};

use super::{Inner, StackError, state};

const CACHE_FOR: Duration = Duration::from_secs(6 * 3600);
/// How often the agent looks by itself.
pub const EVERY: Duration = Duration::from_secs(12 * 3600);

/// The last answer and when it was made.
#[derive(Default)]
pub struct Cache(Mutex<Option<(Instant, StackUpdateCheck)>>);

pub async fn check(inner: &Inner, refresh: bool) -> Result<StackUpdateCheck, StackError> {
    let st = state::load(&inner.store)?;
    if !refresh
        && let Some((at, c)) = inner.update_cache.0.lock().expect("cache lock").clone()
        && at.elapsed() < CACHE_FOR
        && c.current == st.version
    {
        return Ok(c);
    }
    let current: Option<ImmichVersion> = st.version.as_deref().and_then(|v| v.parse().ok());
    let offered: ImmichVersion = inner.config.default_version.parse().map_err(|e| StackError::Spec(format!("{e}")))?;
    let newer = current.as_ref().is_none_or(|c| &offered > c);
    let mut answer = StackUpdateCheck {
        current: st.version.clone(),
        available: None,
        digest: None,
        release_notes: None,
        blocked: None,
        checked_at: chrono::Utc::now(),
        error: None,
    };
    if newer && st.installed {
        let spec = inner.spec_for(&offered.to_string(), st.machine_learning, &Default::default())?;
        let server = spec.service(Role::Server).expect("the stack has a server");
        match inner.engine.registry_digest(&server.image.tagged()).await {
            Ok(d) => answer.digest = Some(d),
            Err(e) => answer.error = Some(e.to_string()),
        }
        let db = &spec.service(Role::Database).expect("the stack has a database").image;
        answer.blocked = keepsake_stack::check_update(current.as_ref(), &offered, db).err().map(|e| e.to_string());
        answer.release_notes = Some(format!("https://github.com/immich-app/immich/releases/tag/{offered}"));
        answer.available = Some(offered.to_string());
    }
    if answer.error.is_none() {
        *inner.update_cache.0.lock().expect("cache lock") = Some((Instant::now(), answer.clone()));
        // The `update.available` alert: firing while a newer version is offered, resolved by the
        // answer that none is (`latest == current`).
        if let Some(current) = &answer.current {
            let latest = answer.available.clone().unwrap_or_else(|| current.clone());
            let event = crate::events::Event::UpdateAvailable { current: current.clone(), latest };
            if let Err(e) = inner.events.publish(&event) {
                tracing::warn!("cannot publish the update check: {e}");
            }
        }
    }
    Ok(answer)
}
