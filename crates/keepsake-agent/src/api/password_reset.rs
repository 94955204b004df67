//! Handlers for the forgotten-password flow. The request's answer is the same whether or not the
//! account exists, has an address, or was sent a link a minute ago; only the audit log says which.

use std::sync::Arc;

use keepsake_api::{Done, PasswordResetAvailability, PasswordResetConfirm, PasswordResetRequest};

use super::contract::{Cx, NoBody, NoQuery};
use super::{ApiError, blocking};
use crate::Agent;

pub async fn availability(
    agent: Arc<Agent>,
    _: Cx,
    _: NoQuery,
    _: NoBody,
) -> Result<PasswordResetAvailability, ApiError> {
    Ok(PasswordResetAvailability { by_email: agent.alerts.reset_by_email_available()? })
}

pub async fn request(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: PasswordResetRequest) -> Result<Done, ApiError> {
    cx.note(|n| n.actor = Some(crate::auth::claimed_name(&r.name)));
    if !agent.alerts.reset_by_email_available()? {
        return Err(ApiError::new(
            http::StatusCode::CONFLICT,
            "auth.reset_needs_email",
            "no email channel is set up, so no reset link can be sent: at the appliance's console, run \
             `keepsake user reset-password NAME`",
        ));
    }
    let who = r.name.clone();
    let outcome = blocking(&agent, move |a| a.auth.begin_password_reset(&who).map_err(ApiError::from)).await?;
    match outcome {
        Ok((user, token)) => {
            cx.note(|n| {
                n.target = Some(format!("user={}", user.name));
                n.detail = Some("reset link sent".into());
            });
            // Sent in the background, so the answer takes as long whether or not a link went out.
            let agent = Arc::clone(&agent);
            tokio::spawn(async move { agent.alerts.mail_reset_link(&user, &token).await });
        }
        Err(why) => cx.note(|n| n.detail = Some(format!("no link sent: {}", why.describe()))),
    }
    Ok(Done::new(
        "If this account exists and has an email address, a reset link is on its way. It works once, for 30 minutes.",
    ))
}

pub async fn confirm(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: PasswordResetConfirm) -> Result<Done, ApiError> {
    let user = blocking(&agent, move |a| a.auth.complete_password_reset(&r.token, &r.password).map_err(ApiError::from))
        .await?;
    cx.note(|n| {
        n.actor = Some(user.name.clone());
        n.target = Some(format!("user={}", user.name));
        n.detail = Some("password reset by email link; every session ended".into());
    });
    Ok(Done::new("Your password was changed. Sign in with the new one."))
}
