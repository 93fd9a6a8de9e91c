//! Who is calling: `Authorization: tma <initData>`, the Telegram Mini App's init data, validated
//! with the bot's token ([`shared::auth`]). The user is registered on first sight (and joins through
//! a referral code given as `start_param`), and their names are refreshed when Telegram's differ.
//!
//! - no `tma` credentials: 401 `missing_auth`
//! - a bad signature or malformed data: 401 `invalid_init_data`
//! - older than `INIT_DATA_MAX_AGE_SECONDS`: 401 `expired_init_data`
//! - a user blocked by an admin: 403 `blocked`; [`AdminUser`] for someone who is no admin: 403

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::json;
use shared::auth::{self, InitDataError};
use shared::repo::users::{self, User};
use shared::usecases::{self, admin::Role};

use crate::error::Error;
use crate::State;

/// The caller, registered, not blocked.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    /// Registered by this request.
    pub created: bool,
}

/// The caller, who is an owner (ADMIN_IDS) or an admin an owner added.
#[derive(Debug, Clone)]
pub struct AdminUser {
    pub user: User,
    pub role: Role,
}

fn unauthorized(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, code, message)
}

impl From<InitDataError> for Error {
    fn from(e: InitDataError) -> Self {
        match e {
            InitDataError::Missing => unauthorized(
                "missing_auth",
                "send the Mini App's init data as Authorization: tma <initData>",
            ),
            InitDataError::Expired {
                age_seconds,
                max_age_seconds,
            } => unauthorized("expired_init_data", e.to_string()).with_details(
                json!({"age_seconds": age_seconds, "max_age_seconds": max_age_seconds}),
            ),
            InitDataError::BadSignature => unauthorized("invalid_init_data", e.to_string())
                .with_details(json!({"reason": "bad_signature"})),
            InitDataError::Malformed(_) => unauthorized("invalid_init_data", e.to_string())
                .with_details(json!({"reason": "malformed"})),
        }
    }
}

/// The raw init data of `Authorization: tma <initData>` (the scheme is case-insensitive).
pub fn init_data_of(parts: &Parts) -> Result<&str, InitDataError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(InitDataError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| InitDataError::Malformed("the Authorization header is not text".into()))?
        .trim();
    let (scheme, data) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("tma") {
        return Err(InitDataError::Missing);
    }
    let data = data.trim();
    if data.is_empty() {
        return Err(InitDataError::Missing);
    }
    Ok(data)
}

impl FromRequestParts<Arc<State>> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<AuthUser>() {
            return Ok(known.clone());
        }
        let services = &state.services;
        let token =
            services
                .config
                .telegram
                .bot_token
                .as_ref()
                .ok_or(shared::services::Unavailable {
                    what: "Mini App sign-in",
                    var: "TELEGRAM_BOT_TOKEN",
                })?;
        let raw = init_data_of(parts)?;
        let init = auth::validate(
            raw,
            token.expose(),
            Some(services.config.init_data_max_age_seconds),
            chrono::Utc::now().timestamp(),
        )?;
        let Some(web_user) = init.user else {
            return Err(unauthorized(
                "invalid_init_data",
                "the init data names no user (open the Mini App from a chat with the bot)",
            )
            .with_details(json!({"reason": "no_user"})));
        };
        let profile = web_user.profile();
        if profile.first_name.contains('\0')
            || profile
                .username
                .as_deref()
                .is_some_and(|u| u.contains('\0'))
            || profile
                .last_name
                .as_deref()
                .is_some_and(|u| u.contains('\0'))
            || profile
                .language_code
                .as_deref()
                .is_some_and(|u| u.contains('\0'))
        {
            return Err(
                unauthorized("invalid_init_data", "the user's names hold NUL characters")
                    .with_details(json!({"reason": "malformed"})),
            );
        }

        let db = services.db();
        let conn = db.conn().await?;
        let known = users::get(&**conn, profile.id).await?;
        // A blocked account changes nothing, not even its names.
        if known.as_ref().is_some_and(|u| u.is_blocked) {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "blocked",
                "this account is blocked",
            ));
        }
        let (mut user, created) =
            usecases::users::meet(&**conn, &profile, usecases::users::FROM_THE_MINI_APP, known)
                .await?;
        // (The service decides whether the user is new enough to be referred, with no query
        // for one who is not.)
        if let Some(code) = init.start_param.as_deref().filter(|c| !c.contains('\0')) {
            if let Some(referrer) = usecases::referrals::join(&**conn, &user, created, code).await?
            {
                tracing::info!(
                    user_id = user.id,
                    referrer,
                    "joined through a referral code"
                );
                user.referred_by = Some(referrer);
            }
        }
        drop(conn);
        if user.is_blocked {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "blocked",
                "this account is blocked",
            ));
        }
        tracing::Span::current().record("user_id", user.id);
        let auth = AuthUser { user, created };
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

impl FromRequestParts<Arc<State>> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        let AuthUser { user, .. } = AuthUser::from_request_parts(parts, state).await?;
        let db = state.services.db();
        let role = usecases::admin::role(&state.services, &**db.conn().await?, user.id).await?;
        match role {
            Some(role) => Ok(AdminUser { user, role }),
            None => Err(Error::forbidden("only admins may use this route")),
        }
    }
}
