//! Telegram Mini App init data (`Telegram.WebApp.initData`): validated exactly as Telegram specifies
//! (core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app), and signed the same way
//! for the CLI's `init-data` command and for tests.
//!
//! - `secret_key = HMAC_SHA256(key = "WebAppData", msg = bot_token)`
//! - `data_check_string` = every received field but `hash`, as `key=value` with the value
//!   form-URL-decoded (`+` is a space), sorted by key, joined with `\n`
//! - valid when `hex(HMAC_SHA256(key = secret_key, msg = data_check_string)) == hash` (compared in
//!   constant time), and `auth_date` is no older than the allowed age.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::repo::users::TelegramProfile;

type HmacSha256 = Hmac<Sha256>;

/// Why init data was refused. Each kind is told apart (the API answers with a different code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitDataError {
    #[error("no init data was given")]
    Missing,
    #[error("the init data is malformed: {0}")]
    Malformed(String),
    #[error("the init data's signature does not match (not signed with this bot's token)")]
    BadSignature,
    #[error("the init data expired: signed {age_seconds} s ago, at most {max_age_seconds} s are accepted")]
    Expired {
        age_seconds: i64,
        max_age_seconds: i64,
    },
}

/// The Telegram user of the Mini App, as the `user` field describes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebAppUser {
    /// Up to 52 bits.
    #[serde(deserialize_with = "integer_or_string")]
    pub id: i64,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
}

impl WebAppUser {
    /// The profile to register or refresh the user with (as the bot does with a message's `from`).
    pub fn profile(&self) -> TelegramProfile {
        TelegramProfile {
            id: self.id,
            username: self.username.clone().filter(|u| !u.is_empty()),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone().filter(|n| !n.is_empty()),
            language_code: self.language_code.clone().filter(|c| !c.is_empty()),
        }
    }
}

/// Telegram sends numbers; some clients (and aiogram's test vector) send the id as a string.
fn integer_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(i64),
        Text(String),
    }
    match Id::deserialize(d)? {
        Id::Number(n) => Ok(n),
        Id::Text(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom("user id is not an integer")),
    }
}

/// Init data whose signature (and age, when asked) checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitData {
    /// Unix seconds when Telegram signed it.
    pub auth_date: i64,
    pub user: Option<WebAppUser>,
    /// The `startapp` parameter of the link that opened the Mini App (our referral code).
    pub start_param: Option<String>,
    pub query_id: Option<String>,
    /// Every field, decoded (including `hash`).
    pub fields: BTreeMap<String, String>,
}

/// The fields of raw init data, form-URL-decoded. A key given twice is malformed (which of the two
/// was signed would be ambiguous).
pub fn parse_fields(raw: &str) -> Result<BTreeMap<String, String>, InitDataError> {
    let mut fields = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw.trim().as_bytes()) {
        if key.is_empty() {
            return Err(InitDataError::Malformed("a field has no name".into()));
        }
        if fields.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(InitDataError::Malformed(format!(
                "the field `{key}` is given twice"
            )));
        }
    }
    Ok(fields)
}

/// `key=value` lines of every field but `hash`, sorted by key (a `BTreeMap` iterates in key order).
pub fn data_check_string(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "hash")
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `HMAC_SHA256(key = "WebAppData", msg = bot_token)`.
pub fn secret_key(bot_token: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(b"WebAppData").expect("HMAC takes any key length");
    mac.update(bot_token.as_bytes());
    mac.finalize().into_bytes().into()
}

fn signature(bot_token: &str, data_check_string: &str) -> [u8; 32] {
    let mut mac =
        HmacSha256::new_from_slice(&secret_key(bot_token)).expect("HMAC takes any key length");
    mac.update(data_check_string.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Validates raw init data (the query string the Mini App has) against the bot's token.
///
/// `max_age_seconds`: how old `auth_date` may be at `now` (Unix seconds); `None` skips the age check
/// (only for published test vectors signed long ago).
pub fn validate(
    raw: &str,
    bot_token: &str,
    max_age_seconds: Option<i64>,
    now: i64,
) -> Result<InitData, InitDataError> {
    if raw.trim().is_empty() {
        return Err(InitDataError::Missing);
    }
    let fields = parse_fields(raw)?;
    let hash = fields
        .get("hash")
        .ok_or_else(|| InitDataError::Malformed("the `hash` field is missing".into()))?;
    let given = hex::decode(hash).map_err(|_| InitDataError::BadSignature)?;
    let expected = signature(bot_token, &data_check_string(&fields));
    if given.len() != expected.len() || !bool::from(expected.ct_eq(&given)) {
        return Err(InitDataError::BadSignature);
    }

    let auth_date: i64 = fields
        .get("auth_date")
        .ok_or_else(|| InitDataError::Malformed("the `auth_date` field is missing".into()))?
        .parse()
        .map_err(|_| InitDataError::Malformed("`auth_date` is not a Unix time".into()))?;
    if let Some(max_age_seconds) = max_age_seconds {
        let age_seconds = now.saturating_sub(auth_date);
        if age_seconds > max_age_seconds {
            return Err(InitDataError::Expired {
                age_seconds,
                max_age_seconds,
            });
        }
    }

    let user = match fields.get("user") {
        None => None,
        Some(json) => {
            let user: WebAppUser = serde_json::from_str(json)
                .map_err(|e| InitDataError::Malformed(format!("`user` is not a user: {e}")))?;
            if user.id <= 0 {
                return Err(InitDataError::Malformed(
                    "`user.id` is not a Telegram user id".into(),
                ));
            }
            Some(user)
        }
    };
    Ok(InitData {
        auth_date,
        user,
        start_param: fields.get("start_param").cloned(),
        query_id: fields.get("query_id").cloned(),
        fields,
    })
}

/// Signs init data as Telegram would: `fields` (values as they are, e.g. the `user` JSON) plus
/// `auth_date`, with `hash` appended; returns the query string (form-URL-encoded).
pub fn sign(bot_token: &str, fields: &[(&str, &str)], auth_date: i64) -> String {
    let auth_date = auth_date.to_string();
    let mut all: BTreeMap<String, String> = fields
        .iter()
        .filter(|(key, _)| *key != "hash" && *key != "auth_date")
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.insert("auth_date".into(), auth_date.clone());
    let hash = hex::encode(signature(bot_token, &data_check_string(&all)));
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields
        .iter()
        .filter(|(key, _)| *key != "hash" && *key != "auth_date")
    {
        query.append_pair(key, value);
    }
    query.append_pair("auth_date", &auth_date);
    query.append_pair("hash", &hash);
    query.finish()
}

/// The `user` field for `sign`: `{"id":…,"first_name":…}` (plus `username` when given).
pub fn user_json(id: i64, first_name: &str, username: Option<&str>) -> String {
    let mut user = serde_json::json!({"id": id, "first_name": first_name});
    if let Some(username) = username {
        user["username"] = serde_json::json!(username);
    }
    user.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Vec<Value> {
        // Published vectors (aiogram, telegram-apps), mirrored in the shared reference.
        let text = include_str!("../tests/data/test-vectors.json");
        let all: Value = serde_json::from_str(text).expect("vectors parse");
        all["telegram_initdata_hmac"]
            .as_array()
            .expect("a list")
            .clone()
    }

    #[test]
    fn every_published_vector_validates() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            let token = v["bot_token"].as_str().unwrap();
            let raw = v["init_data"].as_str().unwrap();
            let data = validate(raw, token, None, 0)
                .unwrap_or_else(|e| panic!("{} must validate: {e}", v["source"]));
            assert!(data.user.is_some());
        }
    }

    #[test]
    fn the_data_check_string_is_the_documented_one() {
        let v = &vectors()[0];
        let fields = parse_fields(v["init_data"].as_str().unwrap()).unwrap();
        assert_eq!(
            data_check_string(&fields),
            v["data_check_string"].as_str().unwrap()
        );
        let data = validate(
            v["init_data"].as_str().unwrap(),
            v["bot_token"].as_str().unwrap(),
            None,
            0,
        )
        .unwrap();
        assert_eq!(data.user.unwrap().id, 42);
        assert_eq!(data.auth_date, 1650385342);
        assert_eq!(data.query_id.as_deref(), Some("test"));
    }

    #[test]
    fn plus_decodes_to_a_space() {
        let v = &vectors()[1];
        let data = validate(
            v["init_data"].as_str().unwrap(),
            v["bot_token"].as_str().unwrap(),
            None,
            0,
        )
        .unwrap();
        let user = data.user.unwrap();
        assert_eq!(user.id, 123456789);
        assert_eq!(user.first_name, "PlaceholderFirstName");
        assert_eq!(user.username.as_deref(), Some("Latand"));
    }

    #[test]
    fn the_negative_variants_fail() {
        let vectors = vectors();
        // aiogram: the same init data with another token.
        let raw = vectors[0]["init_data"].as_str().unwrap();
        assert_eq!(
            validate(raw, "42:INVALID", None, 0),
            Err(InitDataError::BadSignature)
        );
        // aiogram's `+` vector with another token.
        let raw = vectors[1]["init_data"].as_str().unwrap();
        assert_eq!(
            validate(raw, "42:INVALID", None, 0),
            Err(InitDataError::BadSignature)
        );
        // telegram-apps: token + "A".
        let token = format!("{}A", vectors[2]["bot_token"].as_str().unwrap());
        let raw = vectors[2]["init_data"].as_str().unwrap();
        assert_eq!(
            validate(raw, &token, None, 0),
            Err(InitDataError::BadSignature)
        );
    }

    #[test]
    fn telegram_apps_vector_keeps_its_fields() {
        let v = &vectors()[2];
        let data = validate(
            v["init_data"].as_str().unwrap(),
            v["bot_token"].as_str().unwrap(),
            None,
            0,
        )
        .unwrap();
        assert_eq!(data.auth_date, 1);
        assert_eq!(data.start_param.as_deref(), Some("debug"));
        assert_eq!(data.user.unwrap().id, 222);
    }

    #[test]
    fn expiry_is_checked_after_the_signature() {
        let v = &vectors()[0];
        let raw = v["init_data"].as_str().unwrap();
        let token = v["bot_token"].as_str().unwrap();
        let now = 1650385342 + 86_401;
        assert_eq!(
            validate(raw, token, Some(86_400), now),
            Err(InitDataError::Expired {
                age_seconds: 86_401,
                max_age_seconds: 86_400
            })
        );
        assert!(validate(raw, token, Some(86_400), now - 1).is_ok());
        // A bad signature is told as such even when the data is old too.
        assert_eq!(
            validate(raw, "42:INVALID", Some(86_400), now),
            Err(InitDataError::BadSignature)
        );
    }

    #[test]
    fn tampering_or_malformed_data_is_refused() {
        let v = &vectors()[0];
        let raw = v["init_data"].as_str().unwrap();
        let token = v["bot_token"].as_str().unwrap();
        let tampered = raw.replace("%22id%22%3A42", "%22id%22%3A43");
        assert_eq!(
            validate(&tampered, token, None, 0),
            Err(InitDataError::BadSignature)
        );
        let without_hash = raw.split("&hash=").next().unwrap();
        assert!(matches!(
            validate(without_hash, token, None, 0),
            Err(InitDataError::Malformed(_))
        ));
        assert_eq!(
            validate(&format!("{raw}&hash=00"), token, None, 0),
            Err(InitDataError::Malformed(
                "the field `hash` is given twice".into()
            ))
        );
        assert_eq!(validate("  ", token, None, 0), Err(InitDataError::Missing));
        assert_eq!(
            validate("hash=zz", token, None, 0),
            Err(InitDataError::BadSignature)
        );
    }

    #[test]
    fn what_we_sign_validates_and_round_trips_awkward_text() {
        let user = user_json(7_000_000_000_123, "Ann + Bob / é & co", Some("ann"));
        let raw = sign(
            "123:ABC",
            &[
                ("user", &user),
                ("start_param", "ref_x1"),
                ("signature", ""),
            ],
            1_700_000_000,
        );
        let data = validate(&raw, "123:ABC", Some(60), 1_700_000_030).unwrap();
        let user = data.user.unwrap();
        assert_eq!(user.id, 7_000_000_000_123);
        assert_eq!(user.first_name, "Ann + Bob / é & co");
        assert_eq!(data.start_param.as_deref(), Some("ref_x1"));
        assert_eq!(data.fields["signature"], "");
        assert_eq!(
            validate(&raw, "123:ABD", None, 0),
            Err(InitDataError::BadSignature)
        );
    }

    #[test]
    fn a_user_without_a_valid_id_is_malformed() {
        let raw = sign("1:A", &[("user", r#"{"id":"x"}"#)], 5);
        assert!(matches!(
            validate(&raw, "1:A", None, 0),
            Err(InitDataError::Malformed(_))
        ));
        let raw = sign("1:A", &[("user", r#"{"id":0}"#)], 5);
        assert!(matches!(
            validate(&raw, "1:A", None, 0),
            Err(InitDataError::Malformed(_))
        ));
    }
}
