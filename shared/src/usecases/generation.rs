//! A generation: checked, paid per image, recorded, and sent to Replicate with our webhook.

use serde_json::json;

use rand::Rng;

use crate::attempts::{self as settle, Attached};
use crate::dispatch;
use crate::domain::progress::Tracked;
use crate::domain::rules;
use crate::domain::status::{GenerationStatus, ModelStatus};
use crate::effects::Written;
use crate::outcomes;
use crate::replicate::{Replicate, ReplicateError};
use crate::repo::attempts::{self, Attempt, Kind};
use crate::repo::events::{self, Event};
use crate::repo::generations::{self, Generation, NewGeneration};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::{models, styles};
use crate::services::Services;
use crate::transitions;

use super::ServiceError;

#[derive(Debug, Clone)]
pub struct GenerationRequest<'a> {
    pub user_id: i64,
    pub model_id: i64,
    pub style_id: Option<i64>,
    pub prompt: &'a str,
    pub images: i32,
}

/// Creates a generation with `replicate` (the caller refuses the request when Replicate is not
/// configured): validates it, debits `images x price` with the row and its attempt written
/// in the same transaction, then creates the Replicate prediction. If Replicate refuses, the
/// generation fails and is refunded at once; the caller gets the error. If the answer is lost (a
/// timeout, a 5xx), the prediction is looked up first: found, it is attached and runs.
pub async fn create(
    services: &Services,
    replicate: &Replicate,
    request: &GenerationRequest<'_>,
) -> Result<Generation, ServiceError> {
    let prompt = rules::validate_prompt(request.prompt)?;
    let images = rules::validate_image_count(request.images)?;
    // The images are kept in our storage before they count as delivered: none, nothing is paid.
    services.storage()?;
    let db = services.db();
    let mut conn = db.conn().await?;
    let model = models::get_usable(&**conn, request.model_id, request.user_id)
        .await?
        .ok_or(ServiceError::NotFound("model"))?;
    let version = match (&model.status, &model.version) {
        (ModelStatus::Ready, Some(version)) => version.clone(),
        _ => return Err(rules::RuleError::ModelNotReady.into()),
    };
    let style = match request.style_id {
        Some(id) => Some(
            styles::get(&**conn, id)
                .await?
                .filter(|s| s.is_active)
                .ok_or(ServiceError::NotFound("style"))?,
        ),
        None => None,
    };
    let full_prompt = rules::full_prompt(
        &model.trigger_word,
        &prompt,
        style.as_ref().map(|s| s.prompt_template.as_str()),
        style.as_ref().and_then(|s| s.trigger_word.as_deref()),
    );
    let cost = rules::generation_cost(&services.config.product, images);

    let tx = conn.transaction().await?;
    let generation = generations::create(
        &*tx,
        &NewGeneration {
            user_id: request.user_id,
            model_id: model.id,
            style_id: style.as_ref().map(|s| s.id),
            prompt: &prompt,
            full_prompt: &full_prompt,
            num_images: images,
            cost_tokens: cost,
        },
    )
    .await?;
    let reference = format!("generation:{}", generation.id);
    ledger::apply(
        &*tx,
        &Change {
            user_id: request.user_id,
            delta: -cost,
            reason: Reason::Generation,
            reference: &reference,
            note: None,
        },
    )
    .await?;
    events::record(
        &*tx,
        request.user_id,
        Event::GenerationRequested,
        json!({"generation_id": generation.id, "model_id": model.id, "images": images, "style_id": request.style_id}),
    )
    .await?;
    // The attempt is recorded with the debit, before the call: a seed of its own in the input and
    // its tag in the webhook URL find the prediction at Replicate if its answer is lost.
    let seed: u32 = rand::thread_rng().gen_range(1..i32::MAX as u32);
    let attempt = attempts::start(
        &*tx,
        Kind::Prediction,
        generation.id,
        &attempts::new_tag(),
        Some(&seed.to_string()),
        PREDICTION_LEASE_SECS,
    )
    .await?
    .ok_or_else(|| ServiceError::Conflict("the generation is already starting".into()))?;
    let mut written = Written::new();
    transitions::track(
        &*tx,
        &mut written,
        Tracked::Generation {
            generation_id: generation.id,
        },
        request.user_id,
    )
    .await?;
    tx.commit().await?;
    drop(conn);

    let mut input = json!({
        "prompt": full_prompt,
        "num_outputs": images,
        "aspect_ratio": "1:1",
        "output_format": "jpg",
        "output_quality": 90,
        "seed": seed,
    });
    if let Some(lora) = style.as_ref().and_then(|s| s.lora_url.as_ref()) {
        input["extra_lora"] = json!(lora);
        input["extra_lora_scale"] = json!(style.as_ref().map(|s| s.lora_scale).unwrap_or(1.0));
    }
    let webhook = settle::webhook_url(services, &attempt.tag);
    let created = replicate
        .create_prediction(&version, input, webhook.as_ref().map(|u| u.as_str()))
        .await;
    let job_id = match created {
        Ok(job) => job.id,
        Err(e) if e.may_have_created() => {
            // Replicate may have taken it: look before refunding (or starting it twice).
            match settle::find(replicate, &attempt).await {
                Ok(Some(job)) => job.id,
                Ok(None) => return not_started(services, &attempt, generation, e).await,
                Err(lookup) => {
                    // Unsettled: the sweep looks again and attaches or refunds it.
                    tracing::warn!(error = %crate::telemetry::error_chain(&lookup), generation_id = generation.id,
                        "a prediction start is unconfirmed; the sweep settles it");
                    attempts::release(&**db.conn().await?, &attempt.tag).await?;
                    return Err(ServiceError::Upstream(format!(
                        "the generation may not have started ({e}); it will be settled shortly"
                    )));
                }
            }
        }
        Err(e) => return not_started(services, &attempt, generation, e).await,
    };
    match settle::attach(db, &attempt, &job_id).await? {
        // "Creating…" goes out once the job runs: Telegram being slow never delays Replicate. (A
        // job that failed to start settles its status message unsent; the sweep finds it so.)
        Attached::Started | Attached::Already => dispatch::now(services, written).await,
        Attached::Unwanted => {
            // Settled without it meanwhile (failed and refunded): the job must not run.
            settle::cancel(replicate, Kind::Prediction, &job_id).await?;
            return Err(ServiceError::Upstream(
                "the generation could not start; the tokens were returned".into(),
            ));
        }
    }
    generations::get(&**db.conn().await?, generation.id)
        .await?
        .ok_or(ServiceError::NotFound("generation"))
}

/// How long a generation's start may take before the sweep may settle its attempt.
pub const PREDICTION_LEASE_SECS: i64 = 120;

/// Nothing is running at Replicate: the attempt is abandoned, the generation fails and is refunded
/// now, and the caller hears why.
async fn not_started(
    services: &Services,
    attempt: &Attempt,
    generation: Generation,
    e: ReplicateError,
) -> Result<Generation, ServiceError> {
    let db = services.db();
    attempts::abandon(&**db.conn().await?, &attempt.tag).await?;
    if e.is_auth() {
        // Our token refused: the admins hear of it (once per period), the user gets the refund.
        settle::replicate_refused_us(services, &e).await;
    }
    outcomes::fail_generation(
        services,
        generation,
        GenerationStatus::Failed,
        &e.to_string(),
    )
    .await?;
    Err(ServiceError::Upstream(format!(
        "the generation could not start ({e}); the tokens were returned"
    )))
}
