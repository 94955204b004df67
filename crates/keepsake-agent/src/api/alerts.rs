//! Handlers for alerts, rules, channels, the alert history and the weekly summary. Thin: the
//! alerts module does the work; these name the audit target and detail.

use std::sync::Arc;

use keepsake_api::{
    AlertHistory, AlertInfo, AlertList, ChannelInfo, ChannelList, ChannelTestResult, ChannelUpsert, Done, HistoryQuery,
    NoParams, RuleInfo, RuleList, RuleUpdate, SnoozeRequest, SummarySettings,
};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<AlertList, ApiError> {
    Ok(agent.alerts.list()?)
}

pub async fn history(agent: Arc<Agent>, _: Cx, q: HistoryQuery, _: NoBody) -> Result<AlertHistory, ApiError> {
    Ok(agent.alerts.history(&q)?)
}

pub async fn snooze(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: SnoozeRequest) -> Result<AlertInfo, ApiError> {
    let a = agent.alerts.snooze(cx.id("id")?, r.minutes)?;
    cx.note(|n| {
        n.target = Some(format!("alert={} {}", a.rule, a.subject));
        n.detail =
            Some(if r.minutes == 0 { "snooze ended".into() } else { format!("snoozed for {} minutes", r.minutes) });
    });
    Ok(a)
}

pub async fn rules(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<RuleList, ApiError> {
    Ok(agent.alerts.rules()?)
}

pub async fn update_rule(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: RuleUpdate) -> Result<RuleInfo, ApiError> {
    let id = cx.param("rule").to_owned();
    let rule = agent.alerts.update_rule(&id, &r)?;
    cx.note(|n| {
        n.target = Some(format!("rule={id}"));
        n.detail = Some(format!(
            "threshold {:?}, muted {}, minimum repeat {} minutes",
            rule.threshold.as_ref().map(|t| t.value),
            rule.muted,
            rule.min_repeat_minutes
        ));
    });
    Ok(rule)
}

pub async fn channels(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<ChannelList, ApiError> {
    Ok(agent.alerts.channels()?)
}

fn note_channel(cx: &Cx, c: &ChannelInfo, what: &str) {
    cx.note(|n| {
        n.target = Some(format!("channel={}", c.name));
        n.detail = Some(format!(
            "{what} {} channel (secret {})",
            c.settings.kind(),
            if c.secret_set { "set" } else { "not set" }
        ));
    });
}

pub async fn create_channel(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: ChannelUpsert) -> Result<ChannelInfo, ApiError> {
    let c = agent.alerts.save_channel(None, &r)?;
    note_channel(&cx, &c, "created");
    Ok(c)
}

pub async fn update_channel(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: ChannelUpsert) -> Result<ChannelInfo, ApiError> {
    let c = agent.alerts.save_channel(Some(cx.id("id")?), &r)?;
    note_channel(&cx, &c, "changed");
    Ok(c)
}

pub async fn delete_channel(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let c = agent.alerts.delete_channel(cx.id("id")?)?;
    note_channel(&cx, &c, "deleted");
    Ok(Done::new(format!("the channel {} was deleted, with its queued messages", c.name)))
}

pub async fn test_channel(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<ChannelTestResult, ApiError> {
    let id = cx.id("id")?;
    let r = agent.alerts.test_channel(id).await?;
    cx.note(|n| {
        n.target = Some(format!("channel={id}"));
        n.detail = Some(match &r.error {
            None => format!("test message delivered in {} ms", r.took_ms),
            Some(e) => format!("test message failed: {}", super::error::clip(e, 300)),
        });
    });
    Ok(r)
}

pub async fn summary(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<SummarySettings, ApiError> {
    Ok(agent.alerts.summary_settings()?)
}

pub async fn set_summary(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: SummarySettings,
) -> Result<SummarySettings, ApiError> {
    let s = agent.alerts.set_summary_settings(&r)?;
    cx.note(|n| n.detail = Some(format!("enabled {}, weekday {}, hour {}", s.enabled, s.weekday, s.hour)));
    Ok(s)
}

pub async fn send_summary(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Done, ApiError> {
    let n = agent.alerts.send_summary_now().await?;
    cx.note(|note| note.detail = Some(format!("queued for {n} channel(s)")));
    Ok(Done::new(format!("the weekly summary is on its way to {n} channel(s)")))
}
