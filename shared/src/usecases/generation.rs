//! A generation: checked, paid per image, recorded, and sent to Replicate with our webhook; a
//! second try of one ("more like this", or the free redo a rating of 1 or 2 earns); its rating.

use serde_json::json;

use rand::Rng;

use crate::attempts::{self as settle, Attached};
use crate::db::{Burst, GenericClient};
use crate::dispatch;
use crate::domain::moderation;
use crate::domain::progress::Tracked;
use crate::domain::rules::{self, AspectRatio};
use crate::domain::status::{GenerationStatus, ModelStatus};
use crate::metrics;
use crate::notify::ProgressOf;
use crate::outcomes;
use crate::replicate::{Replicate, ReplicateError};
use crate::repo::attempts::{self, Attempt, Kind};
use crate::repo::events::{self, Event};
use crate::repo::feedback;
use crate::repo::generations::{self, Generation, NewGeneration};
use crate::repo::ledger::{self, Change, LedgerError, Reason};
use crate::repo::models;
use crate::repo::styles::{self, Style};
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
    pub aspect_ratio: AspectRatio,
}

/// A generation checked against its model and style, with the id it will be written under: what
/// [`start`] pays for.
#[derive(Debug, Clone)]
pub struct Checked {
    id: i64,
    user_id: i64,
    model_id: i64,
    version: String,
    style: Option<Style>,
    prompt: String,
    full_prompt: String,
    images: i32,
    cost: i64,
    aspect_ratio: AspectRatio,
    /// The generation this one repeats.
    again_of: Option<i64>,
    /// A free redo: the ledger reference its price is credited under, once.
    free_redo: Option<String>,
}

/// Checks `request` (its prompt and count, a ready model the user may use, an active style) and
/// takes the new generation's id. Its reads go out together, in one round trip, and write nothing
/// that matters: the caller may send them beside its own (the caller's row, the rate limit).
pub async fn check(
    services: &Services,
    db: &impl GenericClient,
    request: &GenerationRequest<'_>,
) -> Result<Checked, ServiceError> {
    let prompt = rules::validate_prompt(request.prompt, &services.config.product.block_list)?;
    let images = rules::validate_image_count(request.images)?;
    // The images are kept in our storage before they count as delivered: none, nothing is paid.
    services.storage()?;
    let style = async {
        match request.style_id {
            Some(id) => styles::get(db, id).await,
            None => Ok(None),
        }
    };
    let (model, style, id) = tokio::join!(
        models::get_usable(db, request.model_id, request.user_id),
        style,
        generations::next_id(db),
    );
    let model = model?.ok_or(ServiceError::NotFound("model"))?;
    let version = match (&model.status, &model.version) {
        (ModelStatus::Ready, Some(version)) => version.clone(),
        _ => return Err(rules::RuleError::ModelNotReady.into()),
    };
    let style = match request.style_id {
        Some(_) => Some(
            style?
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
    Ok(Checked {
        id: id?,
        user_id: request.user_id,
        model_id: model.id,
        version,
        style,
        prompt,
        full_prompt,
        images,
        cost: rules::generation_cost(&services.config.product, images),
        aspect_ratio: request.aspect_ratio,
        again_of: None,
        free_redo: None,
    })
}

/// A second try of a generation: the same model, prompt, style and count with a new seed, in
/// `aspect_ratio` (else the one it had).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// "More like this": paid like any generation.
    MoreLikeThis,
    /// The free redo a rating of 1 or 2 earned ([`rules::free_redo`]): its price is credited and
    /// debited together, so the balance does not move.
    FreeRedo,
}

/// Checks a second try of the user's generation `source_id` as [`check`] does, and for a free redo
/// that one is still due (which slot of the ledger it takes).
pub async fn check_again(
    services: &Services,
    db: &impl GenericClient,
    user_id: i64,
    source_id: i64,
    aspect_ratio: Option<AspectRatio>,
    again: Again,
) -> Result<Checked, ServiceError> {
    let state = async {
        match again {
            Again::FreeRedo => generations::redo_state(db, source_id, user_id).await,
            Again::MoreLikeThis => Ok(None),
        }
    };
    let (source, state) = tokio::join!(generations::get_owned(db, source_id, user_id), state);
    let source = source?.ok_or(ServiceError::NotFound("generation"))?;
    let free_redo = match again {
        Again::FreeRedo => {
            let state = state?.ok_or(ServiceError::NotFound("generation"))?;
            let slot = rules::free_redo(services.config.product.free_redos, &state)?;
            Some(rules::free_redo_reference(source.id, slot))
        }
        Again::MoreLikeThis => None,
    };
    let model_id = source.model_id.ok_or(ServiceError::NotFound("model"))?;
    // A model retrained since is served by its retraining (same name and trigger word).
    let model_id = models::ready_in_place_of(db, model_id)
        .await?
        .unwrap_or(model_id);
    let request = GenerationRequest {
        user_id,
        model_id,
        style_id: source.style_id,
        prompt: &source.prompt,
        images: source.num_images,
        aspect_ratio: aspect_ratio.unwrap_or(source.aspect_ratio),
    };
    let mut checked = check(services, db, &request).await?;
    checked.again_of = Some(source.id);
    checked.free_redo = free_redo;
    Ok(checked)
}

/// A second try of the user's generation `source_id` with `replicate`: [`check_again`], then
/// [`start`].
pub async fn again(
    services: &Services,
    replicate: &Replicate,
    user_id: i64,
    source_id: i64,
    aspect_ratio: Option<AspectRatio>,
    again: Again,
) -> Result<Generation, ServiceError> {
    let conn = services.db().conn().await?;
    let checked = check_again(services, &**conn, user_id, source_id, aspect_ratio, again).await?;
    drop(conn);
    // Boxed: the start's future is deep, and the bot's handlers that await it deeper still.
    Box::pin(start(services, replicate, checked)).await
}

/// What a press of "more like this" under an album did.
#[derive(Debug, Clone)]
pub enum Pressed {
    /// The new generation's id.
    Started(i64),
    /// That button (this generation, this shape) made its generation already, or is making it.
    AlreadyMade,
}

/// "More like this" from the bot's buttons: each (generation, shape) makes one new generation,
/// however often or however fast it is pressed (a double tap pays once); for more, the new
/// album's buttons. A press that did not start one (refused, too few tokens), or whose generation
/// failed (refunded), can be pressed again.
pub async fn again_once(
    services: &Services,
    replicate: &Replicate,
    user_id: i64,
    source_id: i64,
    aspect_ratio: Option<AspectRatio>,
) -> Result<Pressed, ServiceError> {
    use crate::repo::idempotency::{self, Claimed, KeyClaim, StoredAnswer};
    use sha2::{Digest, Sha256};
    let shape = aspect_ratio.map_or("same", AspectRatio::as_str);
    let key = format!("bot-again:{source_id}:{shape}");
    let hash = Sha256::digest(key.as_bytes());
    let claim = KeyClaim {
        user_id,
        key: &key,
        request_hash: &hash,
    };
    let conn = services.db().conn().await?;
    let mut claimed = idempotency::claim(&**conn, &claim, 300.0).await?;
    if let Claimed::Done(made) = &claimed {
        let made_id = std::str::from_utf8(&made.body)
            .ok()
            .and_then(|id| id.parse::<i64>().ok());
        let failed = match made_id {
            Some(id) => generations::get(&**conn, id)
                .await?
                .is_some_and(|g| g.status == GenerationStatus::Failed),
            None => false,
        };
        // What that press made failed and was refunded: the button works again.
        if failed && idempotency::forget_answer(&**conn, &claim, &made.body).await? {
            claimed = idempotency::claim(&**conn, &claim, 300.0).await?;
        }
    }
    drop(conn);
    let held = match claimed {
        Claimed::New(held) => held,
        _ => return Ok(Pressed::AlreadyMade),
    };
    match again(
        services,
        replicate,
        user_id,
        source_id,
        aspect_ratio,
        Again::MoreLikeThis,
    )
    .await
    {
        Ok(generation) => {
            let made = StoredAnswer {
                status: 202,
                content_type: None,
                body: generation.id.to_string().into_bytes(),
            };
            idempotency::store(&**services.db().conn().await?, &claim, held, &made).await?;
            Ok(Pressed::Started(generation.id))
        }
        Err(e) => {
            // Nothing was paid: the button works again.
            idempotency::release(&**services.db().conn().await?, &claim, held).await?;
            Err(e)
        }
    }
}

/// A rating stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rated {
    /// A free redo of the generation may be asked for now ([`Again::FreeRedo`]).
    pub free_redo: bool,
}

/// Rates the user's generation 1-5 (again, to change it): whether that earns a free redo.
pub async fn rate(
    services: &Services,
    user_id: i64,
    generation_id: i64,
    rating: i16,
) -> Result<Rated, ServiceError> {
    let conn = services.db().conn().await?;
    if !feedback::rate(&**conn, generation_id, user_id, rating).await? {
        return Err(ServiceError::NotFound("generation"));
    }
    if rating > rules::LOW_RATING_MAX {
        return Ok(Rated { free_redo: false });
    }
    let state = generations::redo_state(&**conn, generation_id, user_id).await?;
    let free_redo = state
        .is_some_and(|state| rules::free_redo(services.config.product.free_redos, &state).is_ok());
    Ok(Rated { free_redo })
}

/// Creates a generation with `replicate` (the caller refuses the request when Replicate is not
/// configured): [`check`], then [`start`].
pub async fn create(
    services: &Services,
    replicate: &Replicate,
    request: &GenerationRequest<'_>,
) -> Result<Generation, ServiceError> {
    let checked = check(services, &**services.db().conn().await?, request).await?;
    Box::pin(start(services, replicate, checked)).await
}

/// Pays for a checked generation and starts it at Replicate: `images x price` is debited with the
/// row, its attempt and its status message written in the same transaction, sent with its `COMMIT`
/// in one burst (a free redo's credit of the same price goes first, once per slot, so the two net
/// to zero; any refusal fails its statement, so the transaction rolls back). Then the prediction is
/// created while the status message goes out (its effect taken in that transaction), and the
/// prediction and the message are recorded together. If Replicate refuses, the generation fails
/// and is refunded at once; the caller gets the error. If the answer is lost (a timeout, a 5xx), the
/// prediction is looked up first: found, it is attached and runs.
///
/// Once the debit commits, an error comes only with its refund. A generation paid whose outcome is
/// not known yet (the answer lost and the lookup failed too, the prediction not recorded, the
/// refund not written) is returned as it stands, in flight, like one started: an error would let
/// the same request be paid again. Its webhook or the sweep settles it, started or refunded.
pub async fn start(
    services: &Services,
    replicate: &Replicate,
    checked: Checked,
) -> Result<Generation, ServiceError> {
    let db = services.db();
    // The attempt is recorded with the debit, before the call: a seed of its own in the input and
    // its tag in the webhook URL find the prediction at Replicate if its answer is lost.
    let seed: u32 = rand::thread_rng().gen_range(1..i32::MAX as u32);
    let tag = attempts::new_tag();
    let reference = format!("generation:{}", checked.id);
    let style_id = checked.style.as_ref().map(|s| s.id);
    let new = NewGeneration {
        id: Some(checked.id),
        user_id: checked.user_id,
        model_id: checked.model_id,
        style_id,
        prompt: &checked.prompt,
        full_prompt: &checked.full_prompt,
        num_images: checked.images,
        cost_tokens: checked.cost,
        aspect_ratio: checked.aspect_ratio,
        again_of: checked.again_of,
        free_redo: checked.free_redo.is_some(),
    };
    let credit = checked.free_redo.as_deref().map(|reference| Change {
        user_id: checked.user_id,
        delta: checked.cost,
        reason: Reason::FreeRedo,
        reference,
        note: None,
    });
    let debit = Change {
        user_id: checked.user_id,
        delta: -checked.cost,
        reason: Reason::Generation,
        reference: &reference,
        note: None,
    };
    let requested = json!({"generation_id": checked.id, "model_id": checked.model_id,
                           "images": checked.images, "style_id": style_id,
                           "aspect_ratio": checked.aspect_ratio.as_str(),
                           "again_of": checked.again_of, "free_redo": checked.free_redo.is_some()});
    let seed_ref = seed.to_string();
    let job = Tracked::Generation {
        generation_id: checked.id,
    };
    let burst = Burst::new(db.conn().await?);
    let paid = {
        let tx = burst.client();
        let credit = async {
            match &credit {
                Some(credit) => ledger::apply_or_fail(tx, credit).await.map(Some),
                None => Ok(None),
            }
        };
        let about = ProgressOf::Generation {
            images: checked.images,
        };
        // Every statement refuses by failing: the COMMIT that follows them commits only if none
        // did, so what the answers say below is what the database has.
        let (begun, generation, credited, debited, recorded, attempt, opening, committed) = tokio::join!(
            burst.begin(),
            generations::create(tx, &new),
            credit,
            ledger::apply_or_fail(tx, &debit),
            events::record(tx, checked.user_id, Event::GenerationRequested, requested),
            attempts::start_or_fail(
                tx,
                Kind::Prediction,
                checked.id,
                &tag,
                Some(&seed_ref),
                PREDICTION_LEASE_SECS,
            ),
            transitions::track_taken(tx, job, checked.user_id, about),
            burst.commit_joined(),
        );
        // The first failure is the cause (the statements after it fail for the aborted transaction).
        (|| -> Result<_, ServiceError> {
            begun?;
            let generation = generation?;
            // A second press of the same free redo (or one racing it) finds its slot credited.
            credited.map_err(|e| match e {
                LedgerError::AlreadyApplied { .. } => rules::RuleError::FreeRedoUsed.into(),
                e => ServiceError::from(e),
            })?;
            debited?;
            recorded?;
            let attempt = attempt.map_err(|e| {
                if attempts::refused_start(&e) {
                    ServiceError::Conflict("the generation is already starting".into())
                } else {
                    e.into()
                }
            })?;
            let opening = opening?;
            committed?;
            Ok((generation, attempt, opening))
        })()
    };
    drop(burst.ended());
    let (mut generation, attempt, opening) = paid?;

    let mut input = json!({
        "prompt": checked.full_prompt,
        "num_outputs": checked.images,
        "aspect_ratio": checked.aspect_ratio.as_str(),
        "output_format": "jpg",
        "output_quality": 90,
        "seed": seed,
    });
    if let Some(style) = &checked.style {
        if let Some(lora) = &style.lora_url {
            input["extra_lora"] = json!(lora);
            input["extra_lora_scale"] = json!(style.lora_scale);
        }
    }
    let webhook = settle::webhook_url(services, &attempt.tag);
    // "Creating…" goes out while Replicate is asked: neither waits for the other. (If the job does
    // not start, settling it deletes the status message.)
    let opened = async {
        match opening {
            Some(opening) => Some(dispatch::open(services, opening).await),
            None => None,
        }
    };
    let (created, opened) = tokio::join!(
        replicate.create_prediction(
            &checked.version,
            input,
            webhook.as_ref().map(|u| u.as_str())
        ),
        opened,
    );
    let created = match created {
        Ok(job) => Ok(job.id),
        Err(e) if e.may_have_created() => {
            // Replicate may have taken it: look before refunding (or starting it twice).
            match settle::find(replicate, &attempt).await {
                Ok(Some(job)) => Ok(job.id),
                Ok(None) => Err(Unstarted::No(e)),
                Err(lookup) => Err(Unstarted::Unknown(e, lookup)),
            }
        }
        Err(e) => Err(Unstarted::No(e)),
    };
    let job_id = match created {
        Ok(job_id) => job_id,
        Err(unstarted) => {
            // The status message is recorded first, so settling the generation deletes it.
            if let Some(opened) = opened {
                opened.settle(services, None).await;
            }
            return match unstarted {
                Unstarted::No(e) => not_started(services, &attempt, generation, e).await,
                Unstarted::Unknown(e, lookup) => {
                    tracing::warn!(error = %e, lookup = %crate::telemetry::error_chain(&lookup),
                        generation_id = generation.id,
                        "a prediction start is unconfirmed; the sweep settles it");
                    // The sweep takes the attempt over once its lease is given back or runs out.
                    let released =
                        async { attempts::release(&**db.conn().await?, &attempt.tag).await };
                    if let Err(e) = released.await {
                        tracing::warn!(error = %crate::telemetry::error_chain(&e), "the lease runs out instead");
                    }
                    Ok(generation)
                }
            };
        }
    };
    // The prediction attached and the status message recorded in one transaction, sent with its
    // COMMIT; whatever of it did not commit is done again on its own below.
    let burst = Burst::new(db.conn().await?);
    let (begun, attached, recorded, committed) = {
        let tx = burst.client();
        let recorded = async {
            match &opened {
                Some(opened) => opened.record(tx).await,
                None => Ok(None),
            }
        };
        tokio::join!(
            burst.begin(),
            attempts::attach_prediction(tx, &attempt.tag, &job_id),
            recorded,
            burst.commit_joined(),
        )
    };
    drop(burst.ended());
    let committed = begun.and(committed).is_ok() && attached.is_ok() && recorded.is_ok();
    if let Some(opened) = opened {
        opened
            .settle(services, recorded.ok().flatten().filter(|_| committed))
            .await;
    }
    let attached = match attached {
        Ok(true) if committed => {
            metrics::generation(metrics::Generation::Started);
            Attached::Started
        }
        // Already attached (a webhook came first), moved on meanwhile, or not committed.
        _ => match settle::attach(services, &attempt, &job_id).await {
            Ok(attached) => attached,
            Err(e) => {
                // Running and paid: its webhook (by the attempt's tag) or the sweep attaches it.
                tracing::warn!(error = %crate::telemetry::error_chain(&e), generation_id = generation.id,
                    prediction_id = %job_id, "a started prediction is not recorded yet");
                return Ok(generation);
            }
        },
    };
    match attached {
        Attached::Started => {
            // As it stands now (a callback may have moved it on meanwhile: the caller polls).
            generation.status = GenerationStatus::Starting;
            generation.replicate_prediction_id = Some(job_id);
            Ok(generation)
        }
        Attached::Already => {
            let now = async { generations::get(&**db.conn().await?, generation.id).await };
            // As it stands now; as written when that cannot be read (it runs, paid, either way).
            Ok(match now.await {
                Ok(Some(now)) => now,
                _ => generation,
            })
        }
        Attached::Unwanted => {
            // Settled without it meanwhile (failed and refunded): the job, canceled, must not run.
            Err(ServiceError::Upstream(
                "the generation could not start; the tokens were returned".into(),
            ))
        }
    }
}

/// Why a prediction is not running.
enum Unstarted {
    /// Replicate refused it, or its answer was lost and it is not there.
    No(ReplicateError),
    /// Its answer was lost and looking for it failed too.
    Unknown(ReplicateError, ReplicateError),
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
    if e.is_auth() {
        // Our token refused: the admins hear of it (once per period), the user gets the refund.
        settle::replicate_refused_us(services, &e).await;
    }
    let error = e.to_string();
    let refunded = async {
        attempts::abandon(&**db.conn().await?, &attempt.tag).await?;
        outcomes::fail_generation(
            services,
            generation.clone(),
            GenerationStatus::Failed,
            &error,
        )
        .await
    };
    if let Err(refund) = refunded.await {
        // Paid and not refunded yet: the sweep refunds it (no prediction, none at Replicate).
        tracing::warn!(error = %e, refund = %crate::telemetry::error_chain(&refund),
            generation_id = generation.id, "a refused generation is left for the sweep to refund");
        return Ok(generation);
    }
    if moderation::is_safety_refusal(&error) {
        return Err(rules::RuleError::PromptUnsafe.into());
    }
    Err(ServiceError::Upstream(format!(
        "the generation could not start ({e}); the tokens were returned"
    )))
}
