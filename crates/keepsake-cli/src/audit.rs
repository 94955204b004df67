//! `keepsake audit`: check the audit log's hash chain (optionally against a head witnessed outside
//! the machine) and list recent entries.

use keepsake_api::paths;
use keepsake_api::{AuditList, AuditVerification, AuditVerifyRequest, Client};

use crate::args::AuditCommand;
use crate::term::print_json_or;

pub async fn run(client: &Client, cmd: AuditCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        AuditCommand::Verify { head } => verify(client, head, json).await,
        AuditCommand::List { limit } => list(client, limit, json).await,
    }
}

/// Exit code 1 when the chain is broken or does not lead to the witnessed head, so a script (or
/// the alerts timer) can act on it.
async fn verify(client: &Client, head: Option<String>, json: bool) -> anyhow::Result<i32> {
    let body = serde_json::to_value(AuditVerifyRequest { head: head.clone() })?;
    let v: AuditVerification = client.call_json(http::Method::POST, paths::AUDIT_VERIFY, Some(&body)).await?;
    print_json_or(json, &v, || {
        if v.ok {
            match &head {
                Some(h) => println!(
                    "audit log intact: {} entries verified; the chain leads to the witnessed head {h}",
                    v.checked
                ),
                None => println!("audit log intact: {} entries verified", v.checked),
            }
            if let Some(now) = &v.head {
                println!(
                    "head: {now}  (keep it elsewhere; `keepsake audit verify --head {now}` checks against it later)"
                );
            }
        } else {
            let problem = v.problem.as_deref().unwrap_or("chain broken");
            match v.bad_row {
                Some(row) => println!("AUDIT LOG TAMPERED: row {row}: {problem}"),
                None => println!("AUDIT LOG TAMPERED: {problem}"),
            }
        }
    })?;
    Ok(if v.ok { 0 } else { 1 })
}

async fn list(client: &Client, limit: u32, json: bool) -> anyhow::Result<i32> {
    let l: AuditList = client.call_json(http::Method::GET, &format!("{}?limit={limit}", paths::AUDIT), None).await?;
    print_json_or(json, &l, || {
        for e in l.entries.iter().rev() {
            println!(
                "{:>6} {} {:<16} {:<28} {:<18} {} {}",
                e.id,
                e.at.format("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.outcome,
                e.target.as_deref().unwrap_or("-"),
                e.source
            );
        }
    })?;
    Ok(0)
}
