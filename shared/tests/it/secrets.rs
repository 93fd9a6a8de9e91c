//! Secrets read from Secrets Manager at cold start, against a local Secrets Manager (moto, from
//! PyPI; `.ci/setup` installs it), signed with given test keys (the process environment, shared
//! with the other tests, is left alone).

use std::collections::HashMap;

use shared::secrets::{resolve_as, CredentialsSource, SecretsError};

/// [`resolve_as`] with moto's test keys.
async fn resolve(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, SecretsError> {
    resolve_as(
        lookup,
        CredentialsSource::Given(testkit::moto::credentials()),
    )
    .await
}

#[tokio::test]
async fn secrets_named_in_the_environment_are_read_at_cold_start() {
    let moto = testkit::moto::Moto::start();
    let endpoint = moto.url();
    let bot = moto
        .create_secret("dream-photo/bot-token", "123:ABC-from-the-vault")
        .await;
    let hook = moto
        .create_secret("dream-photo/webhook", "w".repeat(40).as_str())
        .await;

    let env: HashMap<&str, String> = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.clone()),
        ("TELEGRAM_BOT_TOKEN_ARN", bot.clone()),
        (
            "TELEGRAM_WEBHOOK_SECRET_ARN",
            "dream-photo/webhook".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let lookup = |name: &str| env.get(name).cloned();
    let values = resolve(&lookup).await.expect("read");
    assert_eq!(values["TELEGRAM_BOT_TOKEN"], "123:ABC-from-the-vault");
    assert_eq!(values["TELEGRAM_WEBHOOK_SECRET"], "w".repeat(40));
    assert_eq!(values.len(), 2, "only what is named is read");
    let config = shared::config::Config::from_lookup(|name| {
        values.get(name).cloned().or_else(|| lookup(name))
    })
    .expect("a configuration with the secrets in it");
    assert!(config.telegram.bot_token.is_some());
    assert!(
        !format!("{config:?}").contains("from-the-vault"),
        "never printed"
    );
    let _ = hook;

    // A secret that does not exist stops the cold start, naming the setting, not the value.
    let missing = |name: &str| match name {
        "REPLICATE_API_TOKEN_ARN" => Some("dream-photo/nope".to_owned()),
        other => lookup(other).filter(|_| !other.ends_with("_ARN")),
    };
    let error = resolve(&missing).await.unwrap_err();
    assert!(
        matches!(
            error,
            SecretsError::Fetch {
                name: "REPLICATE_API_TOKEN",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("ResourceNotFound"), "{error}");

    // Both a value and a secret for one setting is a mistake, refused before any call.
    let both = |name: &str| match name {
        "TELEGRAM_BOT_TOKEN" => Some("123:plain".to_owned()),
        other => lookup(other),
    };
    assert!(matches!(
        resolve(&both).await.unwrap_err(),
        SecretsError::Both("TELEGRAM_BOT_TOKEN")
    ));
    // Nothing named: nothing read, no AWS needed.
    assert!(resolve(&|_: &str| None).await.unwrap().is_empty());
}
