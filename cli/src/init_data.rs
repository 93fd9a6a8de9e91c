//! `dream-photo init-data`: a valid `Authorization` header value for the REST API, signed with
//! TELEGRAM_BOT_TOKEN the way Telegram signs a Mini App's init data (for local testing, e.g.
//! `curl -H "Authorization: $(dream-photo init-data --user 42)" localhost:8000/api/me`).

use shared::config::Config;

use crate::ops::CliResult;

#[derive(clap::Args)]
pub struct InitDataArgs {
    /// The Telegram user id to sign in as.
    #[arg(long)]
    pub user: i64,
    /// The user's first name.
    #[arg(long, default_value = "Test")]
    pub first_name: String,
    /// The user's @username (without the @).
    #[arg(long)]
    pub username: Option<String>,
    /// A referral code, as a Mini App link's `startapp` parameter would carry it.
    #[arg(long)]
    pub start_param: Option<String>,
}

/// `tma <init data>`, signed now.
pub fn header_value(bot_token: &str, args: &InitDataArgs, now: i64) -> String {
    let user = shared::auth::user_json(args.user, &args.first_name, args.username.as_deref());
    let mut fields = vec![("user", user.as_str()), ("query_id", "dream-photo-cli")];
    if let Some(code) = &args.start_param {
        fields.push(("start_param", code));
    }
    format!("tma {}", shared::auth::sign(bot_token, &fields, now))
}

pub fn print(args: InitDataArgs) -> CliResult {
    if args.user <= 0 {
        return Err("--user must be a Telegram user id (a positive number)".into());
    }
    let config = Config::from_env()?;
    let token = config
        .telegram
        .bot_token
        .ok_or("TELEGRAM_BOT_TOKEN is not set: init data is signed with the bot's token")?;
    println!("{}", header_value(token.expose(), &args, unix_now()));
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_validates_with_the_same_token_only() {
        let args = InitDataArgs {
            user: 42,
            first_name: "Ann Lee".into(),
            username: Some("ann".into()),
            start_param: Some("code1".into()),
        };
        let now = unix_now();
        let header = header_value("123:SECRET", &args, now);
        let raw = header.strip_prefix("tma ").unwrap();
        let data = shared::auth::validate(raw, "123:SECRET", Some(60), now).unwrap();
        let user = data.user.unwrap();
        assert_eq!((user.id, user.first_name.as_str()), (42, "Ann Lee"));
        assert_eq!(data.start_param.as_deref(), Some("code1"));
        assert!(shared::auth::validate(raw, "123:OTHER", Some(60), now).is_err());
    }
}
