//! The rule engine: turns observations into alert transitions, history and queued messages.
//!
//! An alert is a rule's state for one subject, kept in the database. A message is queued only on a
//! transition (firing → resolved or back), never for an observation that changes nothing, so the
//! same condition seen a hundred times is one message. Each event's consequences (facts, alert
//! changes, history, queued messages) and the outbox cursor move commit in one transaction: an
//! agent killed mid-way handles the event again from scratch, and the notification keys
//! (`alert-{id}-{transition}-ch{channel}`) are unique, so nothing is queued twice.

use chrono::{DateTime, TimeDelta, Utc};
use keepsake_api::{AlertState, HistoryKind, NotifyOn};

use super::evaluate::{self, Observation};
use super::message;
use super::rules::{self, RuleConfig};
use crate::events::Event;
use crate::store::{AlertRow, Result, Tx};

/// What applying observations did, for the caller to wake the delivery worker.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub transitions: usize,
    pub queued: usize,
}

/// Everything the engine reads besides the store.
pub struct Context<'a> {
    pub configs: &'a [RuleConfig],
    pub origin: Option<&'a url::Url>,
    pub now: DateTime<Utc>,
}

/// Handles one event inside `tx`.
pub fn apply_event(tx: &Tx<'_>, cx: &Context<'_>, event: &Event) -> Result<Applied> {
    let obs = evaluate::on_event(tx, cx.configs, event, cx.now)?;
    apply(tx, cx, &obs)
}

/// Re-evaluates the rules that change with time.
pub fn apply_tick(tx: &Tx<'_>, cx: &Context<'_>) -> Result<Applied> {
    let obs = evaluate::on_tick(tx, cx.configs, cx.now)?;
    apply(tx, cx, &obs)
}

fn apply(tx: &Tx<'_>, cx: &Context<'_>, observations: &[Observation]) -> Result<Applied> {
    let mut applied = Applied::default();
    for o in observations {
        let Some(config) = cx.configs.iter().find(|c| c.rule.id == o.rule) else { continue };
        let existing = tx.alert(o.rule, &o.subject)?;
        let firing_now = existing.as_ref().is_some_and(|a| a.state == AlertState::Firing);
        match (existing, o.firing) {
            (None, false) => {}
            (Some(mut a), true) if firing_now => {
                // Still firing: keep its facts current, but this is no news.
                a.observed_at = cx.now;
                a.facts = o.facts.clone();
                tx.save_alert(&a)?;
            }
            (existing, true) => {
                let mut a = existing.unwrap_or_else(|| AlertRow {
                    id: 0,
                    rule: o.rule.to_owned(),
                    subject: o.subject.clone(),
                    state: AlertState::Firing,
                    severity: config.rule.severity,
                    title: String::new(),
                    message: String::new(),
                    facts: Vec::new(),
                    since: cx.now,
                    changed_at: cx.now,
                    observed_at: cx.now,
                    transitions: 0,
                    notified_firing: false,
                    last_notified_at: None,
                    snoozed_until: None,
                });
                a.state = AlertState::Firing;
                a.severity = config.rule.severity;
                a.title = o.title.clone();
                a.message = o.detail.clone();
                a.facts = o.facts.clone();
                a.since = cx.now;
                a.changed_at = cx.now;
                a.observed_at = cx.now;
                a.transitions += 1;
                a.notified_firing = false;
                a.id = tx.save_alert(&a)?;
                tx.add_history(Some(a.id), o.rule, &o.subject, HistoryKind::Fired, None, &o.title)?;
                applied.transitions += 1;
                applied.queued += announce(tx, cx, config, &mut a)?;
                tx.save_alert(&a)?;
            }
            (Some(mut a), false) if firing_now => {
                a.state = AlertState::Resolved;
                a.changed_at = cx.now;
                a.transitions += 1;
                tx.save_alert(&a)?;
                tx.add_history(Some(a.id), o.rule, &o.subject, HistoryKind::Resolved, None, config.rule.resolved)?;
                applied.transitions += 1;
                applied.queued += announce(tx, cx, config, &mut a)?;
                tx.save_alert(&a)?;
            }
            (Some(_), false) => {}
        }
    }
    Ok(applied)
}

/// Queues the messages for an alert's latest transition, or records why none went out.
fn announce(tx: &Tx<'_>, cx: &Context<'_>, config: &RuleConfig, a: &mut AlertRow) -> Result<usize> {
    let firing = a.state == AlertState::Firing;
    let hold = |why: String| tx.add_history(Some(a.id), &a.rule, &a.subject, HistoryKind::Suppressed, None, &why);
    if config.muted {
        hold("not sent: the rule is muted".into())?;
        return Ok(0);
    }
    if let Some(until) = a.snoozed_until.filter(|u| *u > cx.now) {
        hold(format!("not sent: the alert is snoozed until {}", until.format("%Y-%m-%d %H:%M UTC")))?;
        return Ok(0);
    }
    if !firing && !a.notified_firing {
        hold("not sent: its firing was not announced either".into())?;
        return Ok(0);
    }
    let min_repeat = TimeDelta::minutes(i64::from(config.min_repeat_minutes));
    if let Some(last) = a.last_notified_at.filter(|l| firing && cx.now - *l < min_repeat) {
        hold(format!(
            "not sent: it fired again {} minutes after the last message, sooner than the rule's {} minutes",
            (cx.now - last).num_minutes(),
            config.min_repeat_minutes
        ))?;
        return Ok(0);
    }
    let mut queued = 0;
    let mut wanted = 0;
    for ch in tx.channels()?.into_iter().filter(|c| c.enabled) {
        let on = ch.rules.get(config.rule.id).copied().unwrap_or(ch.notify_on);
        let wants = match on {
            NotifyOn::Always => true,
            NotifyOn::Failure => firing,
            NotifyOn::Success => !firing,
            NotifyOn::Never => false,
        };
        if !wants {
            continue;
        }
        wanted += 1;
        let key = format!("alert-{}-{}-ch{}", a.id, a.transitions, ch.id);
        let draft = message::for_alert(key.clone(), config.rule, a, cx.origin);
        let json = serde_json::to_string(&draft).expect("a draft serializes");
        if tx.enqueue_notification(&key, ch.id, Some(a.id), &json)? {
            queued += 1;
        }
    }
    if wanted == 0 {
        hold("not sent: no enabled channel asks for this kind of change".into())?;
        return Ok(0);
    }
    if firing {
        a.notified_firing = true;
        a.last_notified_at = Some(cx.now);
    }
    Ok(queued)
}

/// The effective configuration of every rule, read inside `tx`.
pub fn configs(tx: &Tx<'_>) -> Result<Vec<RuleConfig>> {
    Ok(rules::configs(&tx.rule_overrides()?))
}
