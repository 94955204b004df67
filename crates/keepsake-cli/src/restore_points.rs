//! `keepsake restore-point` and `keepsake reset-immich`: list the timeline, make, pin and delete
//! points, restore from one (plan first, then the plan's phrase typed back), drills, settings,
//! and emptying Immich or undoing that. What is printed is built in `restore_view`.

use chrono::Local;
use keepsake_api::{Client, RestorePointCreate, RestorePointSettings, RestoreRequest, RestoreScope};

use crate::args::{OrNever, RestorePointCommand, SettingsChanges};
use crate::jobs::wait_for;
use crate::restore_view::{self as view, scope_word};
use crate::term::{ask_phrase, phrase_matches, print_json_or, say};

/// The phrases the agent wants for `POST /instance/reset` and `…/reset/undo`.
use keepsake_api::limits::{CONFIRM_RESET as RESET_PHRASE, CONFIRM_UNDO_RESET as UNDO_RESET_PHRASE};

pub async fn run(client: &Client, cmd: RestorePointCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        RestorePointCommand::List => {
            let l = client.restore_points().await?;
            print_json_or(json, &l, || print_lines(&view::list_lines(&l, &Local)))?;
            Ok(0)
        }
        RestorePointCommand::Create { note, no_wait } => {
            let job = client.create_restore_point(&RestorePointCreate { note }).await?;
            wait_for(client, job, "making a restore point", no_wait, json).await
        }
        RestorePointCommand::Pin { id } => pin(client, &id, true, json).await,
        RestorePointCommand::Unpin { id } => pin(client, &id, false, json).await,
        RestorePointCommand::Delete { id, yes } => {
            if !yes && !ask_phrase(&format!("Delete restore point {id}? This cannot be undone."), &id, "--yes")? {
                eprintln!("not deleted");
                return Ok(1);
            }
            let done = client.delete_restore_point(&id).await?;
            print_json_or(json, &done, || println!("{}", done.message))?;
            Ok(0)
        }
        RestorePointCommand::Restore { id, scope, paths, confirm, no_wait } => {
            let mut request = restore_request(scope, paths)?;
            let plan = client.restore_plan(&id, &request).await?;
            view::plan_lines(&plan).iter().for_each(|l| say(json, l));
            if !confirmed(confirm, &plan.confirmation, "Restore?")? {
                eprintln!("not restored: the confirmation was not `{}`", plan.confirmation);
                return Ok(1);
            }
            request.confirm = Some(plan.confirmation);
            let job = client.restore(&id, &request).await?;
            wait_for(client, job, "the restore", no_wait, json).await
        }
        RestorePointCommand::Drill { no_wait } => {
            let job = client.start_restore_drill().await?;
            wait_for(client, job, "a restore drill", no_wait, json).await
        }
        RestorePointCommand::Settings(changes) => settings(client, changes, json).await,
    }
}

/// `keepsake reset-immich [--undo]`: says what it does, asks for the phrase, follows the job.
pub async fn reset_immich(
    client: &Client,
    undo: bool,
    confirm: Option<String>,
    no_wait: bool,
    json: bool,
) -> anyhow::Result<i32> {
    if undo {
        let Some(u) = client.restore_points().await?.undo_reset else {
            eprintln!("there is no reset to undo");
            return Ok(1);
        };
        view::undo_reset_lines(&u, &Local).iter().for_each(|l| say(json, l));
        if !confirmed(confirm, UNDO_RESET_PHRASE, "Undo the reset?")? {
            eprintln!("reset not undone");
            return Ok(1);
        }
        let job = client.undo_reset(UNDO_RESET_PHRASE).await?;
        wait_for(client, job, "undoing the reset", no_wait, json).await
    } else {
        view::RESET_WARNING.iter().for_each(|l| say(json, l));
        if !confirmed(confirm, RESET_PHRASE, "Empty Immich?")? {
            eprintln!("nothing was reset");
            return Ok(1);
        }
        let job = client.reset_instance(RESET_PHRASE).await?;
        wait_for(client, job, "the reset", no_wait, json).await
    }
}

async fn pin(client: &Client, id: &str, pinned: bool, json: bool) -> anyhow::Result<i32> {
    let p = client.pin_restore_point(id, pinned).await?;
    print_json_or(json, &p, || {
        if pinned {
            println!("pinned {}: retention never removes it", p.id);
        } else {
            println!("unpinned {}: retention decides again", p.id);
        }
    })?;
    Ok(0)
}

/// Shows the settings; with changes, reads them, changes what was given and saves them.
async fn settings(client: &Client, changes: SettingsChanges, json: bool) -> anyhow::Result<i32> {
    let current = client.restore_point_settings().await?;
    if changes == SettingsChanges::default() {
        print_json_or(json, &current, || print_lines(&view::settings_lines(&current)))?;
        return Ok(0);
    }
    let wanted = apply(current.clone(), &changes);
    let (shown, heading) = if wanted == current {
        (current, "nothing to change; the settings are:")
    } else {
        (client.set_restore_point_settings(&wanted).await?, "saved:")
    };
    print_json_or(json, &shown, || {
        println!("{heading}");
        print_lines(&view::settings_lines(&shown));
    })?;
    Ok(0)
}

/// `s` with what `c` gives changed, and the rest as it was.
fn apply(mut s: RestorePointSettings, c: &SettingsChanges) -> RestorePointSettings {
    if let Some(OrNever(hour)) = c.daily_at {
        s.daily_at_hour = hour;
    }
    if let Some(OrNever(days)) = c.drill_every {
        s.drill_every_days = days;
    }
    let r = &mut s.retention;
    let counts = [
        (&mut r.keep_last, c.keep_last),
        (&mut r.keep_hourly, c.keep_hourly),
        (&mut r.keep_daily, c.keep_daily),
        (&mut r.keep_weekly, c.keep_weekly),
        (&mut r.keep_monthly, c.keep_monthly),
        (&mut r.keep_yearly, c.keep_yearly),
        (&mut r.safety_days, c.safety_days),
    ];
    for (field, value) in counts {
        if let Some(v) = value {
            *field = v;
        }
    }
    s
}

/// The request for a plan: `--path` belongs to `--scope files`, which needs at least one.
fn restore_request(scope: RestoreScope, paths: Vec<String>) -> anyhow::Result<RestoreRequest> {
    match (scope, paths.is_empty()) {
        (RestoreScope::Files, true) => {
            anyhow::bail!("--scope files restores chosen files: name them with --path (repeat it for more)")
        }
        (RestoreScope::Files, false) | (_, true) => Ok(RestoreRequest { scope, paths, confirm: None }),
        (other, false) => anyhow::bail!(
            "--path is only for --scope files; --scope {} restores everything it covers",
            scope_word(other)
        ),
    }
}

/// Whether the person confirmed with `phrase`: passed with `--confirm`, or typed at the terminal
/// (refused, naming `--confirm`, when there is no terminal).
fn confirmed(given: Option<String>, phrase: &str, question: &str) -> anyhow::Result<bool> {
    match given {
        Some(g) => Ok(phrase_matches(&g, phrase)),
        None => ask_phrase(question, phrase, &format!("--confirm '{phrase}'")),
    }
}

fn print_lines(lines: &[String]) {
    for l in lines {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use keepsake_api::RetentionSettings;

    use super::*;

    fn settings() -> RestorePointSettings {
        RestorePointSettings {
            daily_at_hour: Some(3),
            retention: RetentionSettings {
                keep_last: 3,
                keep_hourly: 0,
                keep_daily: 7,
                keep_weekly: 4,
                keep_monthly: 12,
                keep_yearly: 2,
                safety_days: 14,
            },
            drill_every_days: Some(7),
        }
    }

    #[test]
    fn settings_change_only_what_was_given() {
        assert_eq!(apply(settings(), &SettingsChanges::default()), settings());
        let changed = apply(
            settings(),
            &SettingsChanges {
                daily_at: Some(OrNever(None)),
                keep_daily: Some(30),
                keep_yearly: Some(0),
                safety_days: Some(3),
                drill_every: Some(OrNever(Some(1))),
                ..SettingsChanges::default()
            },
        );
        let mut expected = settings();
        expected.daily_at_hour = None;
        expected.retention.keep_daily = 30;
        expected.retention.keep_yearly = 0;
        expected.retention.safety_days = 3;
        expected.drill_every_days = Some(1);
        assert_eq!(changed, expected);
        let changed = apply(
            changed,
            &SettingsChanges {
                daily_at: Some(OrNever(Some(22))),
                keep_last: Some(1),
                keep_hourly: Some(24),
                keep_weekly: Some(8),
                keep_monthly: Some(6),
                drill_every: Some(OrNever(None)),
                ..SettingsChanges::default()
            },
        );
        assert_eq!(changed.daily_at_hour, Some(22));
        assert_eq!(changed.drill_every_days, None);
        let r = &changed.retention;
        assert_eq!(
            [r.keep_last, r.keep_hourly, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_yearly, r.safety_days],
            [1, 24, 30, 8, 6, 0, 3]
        );
    }

    #[test]
    fn paths_belong_to_the_files_scope() {
        let r = restore_request(RestoreScope::Files, vec!["upload/a.jpg".into()]).unwrap();
        assert_eq!(r, RestoreRequest { scope: RestoreScope::Files, paths: vec!["upload/a.jpg".into()], confirm: None });
        let r = restore_request(RestoreScope::Instance, Vec::new()).unwrap();
        assert_eq!((r.scope, r.paths.len(), r.confirm), (RestoreScope::Instance, 0, None));
        let err = restore_request(RestoreScope::Files, Vec::new()).unwrap_err().to_string();
        assert!(err.contains("name them with --path"), "{err}");
        let err = restore_request(RestoreScope::Library, vec!["upload".into()]).unwrap_err().to_string();
        assert!(err.contains("--path is only for --scope files; --scope library"), "{err}");
    }

    #[test]
    fn a_passed_phrase_is_checked_before_anything_is_sent() {
        assert!(confirmed(Some("reset everything".into()), RESET_PHRASE, "Empty Immich?").unwrap());
        assert!(!confirmed(Some("reset".into()), RESET_PHRASE, "Empty Immich?").unwrap());
        assert!(!confirmed(Some("reset everything".into()), UNDO_RESET_PHRASE, "Undo?").unwrap());
    }
}
