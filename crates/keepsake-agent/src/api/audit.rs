//! Handlers for the audit log: list and export, and verification of its hash chain.

use std::sync::Arc;

use keepsake_api::{AuditEntry, AuditList, AuditQuery, AuditVerification, AuditVerifyRequest, ExportFormat};

use super::ApiError;
use super::contract::{Cx, JsonOrCsv, NoBody, NoQuery};
use crate::Agent;
use crate::store::AuditFilter;

pub async fn list(agent: Arc<Agent>, _: Cx, q: AuditQuery, _: NoBody) -> Result<JsonOrCsv<AuditList>, ApiError> {
    let f = AuditFilter {
        actor: q.actor.filter(|s| !s.is_empty()),
        action: q.action.filter(|s| !s.is_empty()),
        outcome: q.outcome.filter(|s| !s.is_empty()),
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(200),
    };
    let entries: Vec<AuditEntry> = agent.store.audit_entries(&f)?;
    Ok(match q.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => JsonOrCsv::Json(AuditList { entries }),
        ExportFormat::Csv => JsonOrCsv::Csv { filename: "keepsake-audit.csv", text: csv(&entries) },
    })
}

fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("id,at,actor,action,target,outcome,source,detail\r\n");
    for e in entries {
        let row = [
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.source.clone(),
            e.detail.clone(),
        ];
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// Quotes a CSV field, and defuses spreadsheet formulas (a field starting with = + - @).
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) { format!("'{f}") } else { f.to_owned() };
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
}

pub async fn verify(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: AuditVerifyRequest,
) -> Result<AuditVerification, ApiError> {
    // The walk reads the whole log: off the async runtime, and the store is taken per chunk.
    let (v, head) = super::blocking(&agent, move |a| {
        let v = a.store.verify_audit_to(r.head.as_deref())?;
        Ok((v, a.store.audit_head()?.map(|h| h.hash)))
    })
    .await?;
    cx.note(|n| {
        n.detail =
            Some(if v.ok { format!("{} rows verified", v.checked) } else { v.problem.clone().unwrap_or_default() })
    });
    Ok(AuditVerification { ok: v.ok, checked: v.checked, bad_row: v.bad_row, problem: v.problem, head })
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("=cmd()"), "'=cmd()");
    }
}
