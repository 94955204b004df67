//! `keepsake user`: create accounts and recover access from the console (new password, second
//! factors removed), for when nobody can sign in to the dashboard any more.

use std::io::IsTerminal;

use keepsake_api::paths;
use keepsake_api::{Client, NewUser, PasswordSet, UserInfo, UserList};

use crate::args::UserCommand;
use crate::term::{confirm, print_json_or};

pub async fn run(client: &Client, cmd: UserCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        UserCommand::List => {
            let l = users(client).await?;
            print_json_or(json, &l, || {
                for u in &l.users {
                    println!(
                        "{:>4} {:<20} {:<9} {}{}",
                        u.id,
                        u.name,
                        u.role,
                        u.display_name,
                        if u.disabled { " (disabled)" } else { "" }
                    );
                }
            })?;
        }
        UserCommand::Create { name, role, display_name } => {
            let (password, made_up) = read_or_make_password()?;
            let body =
                NewUser { name, display_name, password: password.clone(), role, groups: Vec::new(), email: None };
            let u: UserInfo =
                client.call_json(http::Method::POST, paths::USERS, Some(&serde_json::to_value(&body)?)).await?;
            print_json_or(json, &u, || {
                println!("created {} ({})", u.name, u.role);
                if made_up {
                    println!("password: {password}\n(shown once: give it to {} and ask them to change it)", u.name);
                }
            })?;
        }
        UserCommand::ResetPassword { name } => {
            let u = find(users(client).await?, &name)?;
            let (password, made_up) = read_or_make_password()?;
            let body = serde_json::to_value(PasswordSet { password: password.clone() })?;
            let _: serde_json::Value = client
                .call_json(http::Method::POST, &paths::fill(paths::USER_PASSWORD, &[("id", &u.id)]), Some(&body))
                .await?;
            println!("password of {} reset; their sessions ended", u.name);
            if made_up {
                println!("new password: {password}\n(shown once)");
            }
        }
        UserCommand::Reset2fa { name, yes } => {
            let u = find(users(client).await?, &name)?;
            if !yes && !confirm(&format!("Remove every second factor (app, recovery codes, passkeys) of {}?", u.name))?
            {
                eprintln!("nothing changed");
                return Ok(1);
            }
            let _: serde_json::Value = client
                .call_json(
                    http::Method::POST,
                    &paths::fill(paths::USER_RESET_SECOND_FACTOR, &[("id", &u.id)]),
                    Some(&serde_json::json!({})),
                )
                .await?;
            println!(
                "second factors of {} removed; they can sign in with their password and set them up again",
                u.name
            );
        }
    }
    Ok(0)
}

async fn users(client: &Client) -> anyhow::Result<UserList> {
    Ok(client.call_json(http::Method::GET, paths::USERS, None).await?)
}

fn find(users: UserList, name: &str) -> anyhow::Result<UserInfo> {
    users
        .users
        .into_iter()
        .find(|u| u.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| anyhow::anyhow!("there is no account named `{name}`"))
}

/// A password from standard input (when piped), or a strong made-up one.
fn read_or_make_password() -> anyhow::Result<(String, bool)> {
    if !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        let s = s.trim_end_matches(['\n', '\r']).to_owned();
        if !s.is_empty() {
            return Ok((s, false));
        }
    }
    Ok((make_password()?, true))
}

/// Twenty characters from an alphabet without look-alikes (no l, o, 0, 1), in groups of five so
/// it can be read out over the phone: about 100 bits.
fn make_password() -> anyhow::Result<String> {
    const WORDS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let s: String = raw.iter().map(|b| WORDS[*b as usize % WORDS.len()] as char).collect();
    Ok(format!("{}-{}-{}-{}", &s[0..5], &s[5..10], &s[10..15], &s[15..20]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn made_up_passwords_are_four_groups_of_five_and_differ() {
        let a = super::make_password().unwrap();
        let b = super::make_password().unwrap();
        assert_ne!(a, b);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.len(), 4, "{a}");
        assert!(groups.iter().all(|g| g.len() == 5 && g.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())));
        assert!(!a.contains(['l', 'o', '0', '1']), "{a}");
    }
}
