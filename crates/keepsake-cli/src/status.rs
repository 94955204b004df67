//! `keepsake health` and `keepsake status`: is the agent alive, and how are the host facilities.

use keepsake_api::{Client, FacilityState};

use crate::term::{humanize_secs, print_json_or};

pub async fn health(client: &Client, json: bool) -> anyhow::Result<i32> {
    let h = client.health().await?;
    print_json_or(json, &h, || println!("agent: {}", h.status))?;
    Ok(0)
}

pub async fn status(client: &Client, json: bool) -> anyhow::Result<i32> {
    let s = client.status().await?;
    print_json_or(json, &s, || {
        println!("Keepsake agent {} — up {}", s.version, humanize_secs(s.uptime_seconds));
        for f in &s.facilities {
            println!(
                "  {:<8} {:<24} {}{}",
                state_word(f.state),
                f.label,
                f.version.as_deref().map(|v| format!("{v} — ")).unwrap_or_default(),
                f.detail
            );
            if let Some(r) = &f.remedy {
                println!("  {:<8} {:<24} → {r}", "", "");
            }
        }
    })?;
    Ok(0)
}

fn state_word(s: FacilityState) -> &'static str {
    match s {
        FacilityState::Ok => "ok",
        FacilityState::Degraded => "ATTENTION",
        FacilityState::Missing => "MISSING",
    }
}
