use keepsake_api::{ChannelSettings, ChatWebhookSettings, EmailSettings, NtfySettings, SmtpSecurity, WebhookSettings};

use super::*;

fn email() -> EmailSettings {
    EmailSettings {
        host: "smtp.example.com".to_owned(),
        port: 587,
        security: SmtpSecurity::Starttls,
        username: Some("anna@example.com".to_owned()),
        from: "keepsake@example.com".to_owned(),
        to: vec!["anna@example.com".to_owned(), "ben@example.com".to_owned()],
        extra_ca_pem: None,
    }
}

fn code(settings: &ChannelSettings, secret: Option<&str>) -> Option<&'static str> {
    validate(settings, secret).err().map(|e| {
        assert!(e.message.len() > 20 && e.message.ends_with('.'), "{}: {}", e.code, e.message);
        e.code
    })
}

#[test]
fn a_good_email_channel_passes() {
    assert_eq!(code(&ChannelSettings::Email(email()), Some("app password")), None);
    let relay = EmailSettings {
        host: "127.0.0.1".to_owned(),
        port: 25,
        security: SmtpSecurity::None,
        username: None,
        ..email()
    };
    assert_eq!(code(&ChannelSettings::Email(relay), None), None);
}

#[test]
fn email_addresses_must_parse() {
    let bad_from = EmailSettings { from: "not an address".to_owned(), ..email() };
    let e = validate(&ChannelSettings::Email(bad_from), Some("pw")).expect_err("bad from");
    assert_eq!((e.code, e.field), ("channel.bad_address", "from"));
    let bad_to = EmailSettings { to: vec!["anna@example.com".to_owned(), "ben@".to_owned()], ..email() };
    let e = validate(&ChannelSettings::Email(bad_to), Some("pw")).expect_err("bad to");
    assert_eq!((e.code, e.field), ("channel.bad_address", "to"));
    assert!(e.message.contains("\"ben@\""), "{}", e.message);
    let nobody = EmailSettings { to: vec![], ..email() };
    assert_eq!(code(&ChannelSettings::Email(nobody), Some("pw")), Some("channel.no_recipients"));
}

#[test]
fn email_credentials_come_in_pairs_and_never_in_clear_over_the_internet() {
    assert_eq!(code(&ChannelSettings::Email(email()), None), Some("channel.password_missing"));
    let no_user = EmailSettings { username: None, ..email() };
    assert_eq!(code(&ChannelSettings::Email(no_user), Some("pw")), Some("channel.username_missing"));
    let clear = EmailSettings { security: SmtpSecurity::None, port: 25, ..email() };
    assert_eq!(code(&ChannelSettings::Email(clear.clone()), Some("pw")), Some("channel.unencrypted_secret"));
    let lan = EmailSettings { host: "192.168.1.5".to_owned(), ..clear };
    assert_eq!(code(&ChannelSettings::Email(lan), Some("pw")), None);
}

#[test]
fn email_host_port_and_ca() {
    let url_as_host = EmailSettings { host: "https://smtp.example.com".to_owned(), ..email() };
    assert_eq!(code(&ChannelSettings::Email(url_as_host), Some("pw")), Some("channel.bad_host"));
    let port = EmailSettings { port: 0, ..email() };
    assert_eq!(code(&ChannelSettings::Email(port), Some("pw")), Some("channel.bad_port"));
    let garbage = EmailSettings { extra_ca_pem: Some("hello".to_owned()), ..email() };
    assert_eq!(code(&ChannelSettings::Email(garbage), Some("pw")), Some("channel.bad_ca"));
    let broken = EmailSettings {
        extra_ca_pem: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned()),
        ..email()
    };
    assert_eq!(code(&ChannelSettings::Email(broken), Some("pw")), Some("channel.bad_ca"));
}

#[test]
fn discord_addresses() {
    let discord = ChannelSettings::Discord(ChatWebhookSettings {});
    for good in [
        "https://discord.com/api/webhooks/1234567890/abcDEF_-123",
        "https://discordapp.com/api/webhooks/1234567890/abc",
        "https://discord.com/api/v10/webhooks/1234567890/abc?thread_id=5",
        "https://canary.discord.com/api/webhooks/1/x",
    ] {
        assert_eq!(code(&discord, Some(good)), None, "{good}");
    }
    for bad in [
        "http://discord.com/api/webhooks/1234567890/abc",
        "https://discord.com.evil.example/api/webhooks/1/abc",
        "https://discord.com/api/webhooks/abc/def",
        "https://discord.com/channels/1/2",
        "https://hooks.slack.com/services/T0/B0/x",
        "not a url",
    ] {
        assert_eq!(code(&discord, Some(bad)), Some("channel.bad_discord_url"), "{bad}");
    }
    assert_eq!(code(&discord, None), Some("channel.secret_missing"));
    assert_eq!(code(&discord, Some("")), Some("channel.secret_missing"));
}

#[test]
fn slack_addresses() {
    let slack = ChannelSettings::Slack(ChatWebhookSettings {});
    assert_eq!(code(&slack, Some("https://hooks.slack.com/services/T000/B000/XXXXabcd")), None);
    for bad in [
        "https://hooks.slack.com/workflows/T000/A000/1/x",
        "https://slack.com/services/T000/B000/XXXX",
        "http://hooks.slack.com/services/T000/B000/XXXX",
        "https://discord.com/api/webhooks/1/x",
    ] {
        assert_eq!(code(&slack, Some(bad)), Some("channel.bad_slack_url"), "{bad}");
    }
    assert_eq!(code(&slack, None), Some("channel.secret_missing"));
}

#[test]
fn ntfy_server_topic_and_token() {
    let ntfy = |server: &str, topic: &str| {
        ChannelSettings::Ntfy(NtfySettings { server: server.to_owned(), topic: topic.to_owned() })
    };
    assert_eq!(code(&ntfy("https://ntfy.sh", "family_photos-1"), Some("tk_abc")), None);
    assert_eq!(code(&ntfy("ntfy.sh", "t"), None), Some("channel.bad_url"));
    assert_eq!(code(&ntfy("https://ntfy.sh", "has space"), None), Some("channel.bad_topic"));
    assert_eq!(code(&ntfy("https://ntfy.sh", "t"), Some("tk abc")), Some("channel.bad_token"));
    assert_eq!(code(&ntfy("http://ntfy.example.com", "t"), Some("tk_abc")), Some("channel.unencrypted_secret"));
    assert_eq!(code(&ntfy("http://ntfy.example.com", "t"), None), None);
    assert_eq!(code(&ntfy("http://nas.local:8080", "t"), Some("tk_abc")), None);
}

#[test]
fn webhook_url_and_template() {
    let hook = |url: &str, template: Option<&str>| {
        ChannelSettings::Webhook(WebhookSettings { url: url.to_owned(), template: template.map(str::to_owned) })
    };
    assert_eq!(code(&hook("https://example.com/hook", None), Some("token")), None);
    assert_eq!(code(&hook("https://example.com/hook", Some(r#"{"msg": "{{title}}: {{summary}}"}"#)), None), None);
    assert_eq!(code(&hook("https://user:pw@example.com/hook", None), None), Some("channel.bad_url"));
    assert_eq!(code(&hook("ftp://example.com/hook", None), None), Some("channel.bad_url"));
    let e = validate(&hook("https://example.com/hook", Some(r#"{"msg": "{{titel}}"}"#)), None).expect_err("unknown");
    assert_eq!((e.code, e.field), ("channel.bad_template", "template"));
    assert!(e.message.starts_with("The template uses {{titel}}"), "{}", e.message);
    assert_eq!(
        code(&hook("https://example.com/hook", Some(r#"{"msg": {{title}}"#)), None),
        Some("channel.bad_template")
    );
    assert_eq!(code(&hook("http://example.com/hook", None), Some("token")), Some("channel.unencrypted_secret"));
}

#[test]
fn local_hosts() {
    for local in [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "nas",
        "nas.local",
        "box.home.arpa",
        "fd00::1",
    ] {
        assert!(is_local_host(local), "{local}");
    }
    for remote in ["smtp.gmail.com", "8.8.8.8", "172.32.0.1", "2001:db8::1", "local.example.com"] {
        assert!(!is_local_host(remote), "{remote}");
    }
}
