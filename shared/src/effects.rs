//! Durable outside effects (a transactional outbox).
//!
//! A use case that changes state writes the outside effects the change causes ([`Effect`]: a message
//! to a user, a notice to the admins, a generation's album) into the effect log *in the same
//! transaction*, each under a dedupe key naming its cause. After commit the caller hands the new ids
//! to [`crate::dispatch`], which executes them at once; whatever is left (a transient failure, a
//! crash between commit and dispatch) is drained by the sweep. So a committed change always has its
//! effects, and one cause has them once. This module is only the data and its writing; executing is
//! [`crate::dispatch`]'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::{DbError, GenericClient};
use crate::domain::progress::Tracked;
use crate::repo::effects as log;

/// An outside effect, as written to the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// A message to a user, in their language (skipped if they blocked the bot).
    Notify { user_id: i64, notice: Notice },
    /// A message to the admins' chat (`ADMIN_CHAT_ID`; skipped when none is set).
    TellAdmins { notice: AdminNotice },
    /// A finished generation's images to its user as one album; the generation counts as
    /// succeeded once they are delivered (or cannot be: the user blocked the bot).
    DeliverGeneration { generation_id: i64 },
    /// A paid model's training job onto the training queue.
    QueueTraining { model_id: i64 },
    /// A trained version deleted at Replicate (`owner/name:<id>`; user data deletion).
    DeleteReplicateVersion { version: String },
    /// A file we uploaded to Replicate's files API deleted (a training zip, an uploaded photo),
    /// by its URL; a URL that is not one of Replicate's files is skipped.
    DeleteReplicateFile { url: String },
    /// Every object under a prefix of our bucket deleted (a model's training photos once it is
    /// trained, a person's objects when they erase their data).
    DeleteStoredObjects { prefix: String },
    /// A training in progress canceled at Replicate (its owner erased their data).
    CancelTraining { training_id: String },
    /// A prediction in progress canceled at Replicate (its owner erased their data).
    CancelPrediction { prediction_id: String },
    /// A user's own command menu (setMyCommands scoped to their chat) set to what they may use now,
    /// in their language: the owners' or the admins' menu, the users' menu in the language they
    /// chose, else none of their own (deleteMyCommands: Telegram's per-language default applies).
    /// Read at execution, so every run leaves the menu right whatever order they ran in.
    RefreshCommands { user_id: i64 },
    /// A job's status message shown with the progress last recorded: sent (`open`, once per job)
    /// or edited; nothing once the job settled.
    ShowProgress { job: Tracked, open: bool },
    /// A settled job's status message deleted (the ready, failed or album message replaces it).
    EndProgress { job: Tracked },
    /// A Stars payment refunded at Telegram (`refundStarPayment`), its tokens already taken back;
    /// Telegram refusing it for good returns them.
    RefundStarPayment { payment_id: i64, attempt: i32 },
}

/// The dedupe key of a menu refresh: one per change that causes it (a refresh reads the state it
/// finds, so a repeated one only sets the same menu again).
pub fn refresh_commands_key(user_id: i64, cause: &str) -> String {
    format!("commands:{user_id}:{cause}")
}

impl Effect {
    /// Whether a remote that keeps failing is asked again for as long as it takes, never given up on
    /// after [`MAX_ATTEMPTS`]: a refund whose tokens are already taken back. Giving up would leave them
    /// taken with no refund, and returning them could pay twice if a call that timed out did refund;
    /// only Telegram's answer settles it (the effect-backlog alarm tells a person meanwhile).
    pub fn retried_until_answered(&self) -> bool {
        matches!(self, Effect::RefundStarPayment { .. })
    }

    fn kind(&self) -> &'static str {
        match self {
            Effect::Notify { .. } => "notify",
            Effect::TellAdmins { .. } => "tell_admins",
            Effect::DeliverGeneration { .. } => "deliver_generation",
            Effect::QueueTraining { .. } => "queue_training",
            Effect::DeleteReplicateVersion { .. } => "delete_replicate_version",
            Effect::DeleteReplicateFile { .. } => "delete_replicate_file",
            Effect::DeleteStoredObjects { .. } => "delete_stored_objects",
            Effect::CancelTraining { .. } => "cancel_training",
            Effect::CancelPrediction { .. } => "cancel_prediction",
            Effect::RefreshCommands { .. } => "refresh_commands",
            Effect::ShowProgress { .. } => "show_progress",
            Effect::EndProgress { .. } => "end_progress",
            Effect::RefundStarPayment { .. } => "refund_star_payment",
        }
    }
}

/// What a user is told outside a conversation. Data only: the text is chosen when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    ModelReady {
        model_id: i64,
        name: String,
    },
    TrainingFailed {
        name: String,
        refunded: i64,
    },
    GenerationFailed {
        refunded: i64,
        /// A free redo of this generation failed: nothing was charged, and the redo may be asked
        /// for again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        free_redo_of: Option<i64>,
    },
    /// Replicate's safety checker refused the pictures: refunded like any failure, said plainly.
    GenerationUnsafe {
        refunded: i64,
    },
    /// After an album: the 1-5 rating buttons, and "more like this" (in a shape to pick) for
    /// `again_cost` tokens (absent from notices written before it was offered).
    RatePrompt {
        generation_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        again_cost: Option<i64>,
    },
    /// A rating of 1 or 2 earned a free redo of the generation: its button.
    FreeRedoOffered {
        generation_id: i64,
    },
    /// The payment did not match its invoice: recorded, nothing credited, the admins will settle it.
    PaymentDisputed {
        payment_id: i64,
    },
    PaymentReceived {
        tokens: i64,
        balance: i64,
    },
    ReferralJoined {
        friend: String,
    },
    ReferralBonus {
        tokens: i64,
    },
    /// Photos came with no training dialogue open: how to start one.
    StartTrainingFirst,
    /// A payment was refunded (by an admin, or as Telegram reported): `tokens` taken back.
    PaymentRefunded {
        tokens: i64,
        balance: i64,
        amount: i64,
        currency: String,
    },
}

/// What the admins are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum AdminNotice {
    NewUser {
        user_id: i64,
        referred: bool,
    },
    Payment {
        user_id: i64,
        tokens: i64,
        amount: i64,
        currency: String,
    },
    /// A payment for a pack we no longer sell: credited as its invoice said, or (an invoice that
    /// did not say) recorded with nothing credited, for the admins to settle.
    PaymentForUnknownPack {
        user_id: i64,
        payment_id: i64,
        pack_id: String,
        tokens: i64,
        amount: i64,
        currency: String,
    },
    PaymentDisputed {
        user_id: i64,
        payment_id: i64,
        amount: i64,
        currency: String,
        reason: String,
    },
    TrainingFailed {
        user_id: i64,
        model_id: i64,
        error: String,
    },
    GenerationFailed {
        user_id: i64,
        generation_id: i64,
        error: String,
    },
    /// Replicate refuses our API token: jobs wait, nobody is refunded, someone must renew it.
    ReplicateRefusedUs {
        error: String,
    },
    /// An effect failed for good: someone was not told something, or did not get their photos.
    EffectFailed {
        effect_id: i64,
        dedupe_key: String,
        error: String,
    },
    /// Telegram reported a payment we could not record (the update failed for good): the money is
    /// taken, nothing is credited, an admin must settle it.
    PaymentNotRecorded {
        user_id: i64,
        charge_id: String,
        amount: i64,
        currency: String,
    },
    /// A payment was refunded: `taken` of the `tokens` it bought were taken back (fewer only when
    /// Telegram reported a refund we did not ask for and they were spent).
    PaymentRefunded {
        user_id: i64,
        payment_id: i64,
        tokens: i64,
        taken: i64,
        amount: i64,
        currency: String,
        by_telegram: bool,
    },
    /// Telegram refused a refund we asked for: the tokens are back with the user, the payment paid.
    RefundRefused {
        user_id: i64,
        payment_id: i64,
        error: String,
    },
}

/// How many times an effect is taken before it counts as failed for good (with the backoff below,
/// about a day of trying).
pub const MAX_ATTEMPTS: i32 = 24;
/// The wait before the next attempt after `attempts` failed ones: 10 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 10) as u32 - 1;
    Duration::from_secs((10u64 << exponent).min(3600))
}

/// Writes `effect` under `dedupe_key`, in the caller's transaction. Returns the id to dispatch after
/// commit, or `None` when the same cause already wrote it.
pub async fn write(
    db: &impl GenericClient,
    dedupe_key: &str,
    effect: &Effect,
) -> Result<Option<i64>, DbError> {
    let payload = serde_json::to_value(effect).expect("effects serialise");
    log::insert(db, dedupe_key, effect.kind(), &payload).await
}

/// Writes `effect` under `dedupe_key` already taken by the caller for `lease_seconds`, in the
/// caller's transaction, to execute after commit without taking it again (see
/// [`log::insert_taken`]). `None` when the same cause already wrote it.
pub async fn write_taken(
    db: &impl GenericClient,
    dedupe_key: &str,
    effect: &Effect,
    lease_seconds: i64,
) -> Result<Option<log::EffectRow>, DbError> {
    let payload = serde_json::to_value(effect).expect("effects serialise");
    log::insert_taken(db, dedupe_key, effect.kind(), &payload, lease_seconds).await
}

/// How long the writer of an effect written taken ([`Written::write_taken`]) owns it: it executes
/// it right after its commit, and if it dies first the sweep may once this has passed.
pub const TAKEN_LEASE_SECS: i64 = 120;

pub use log::Tried;

/// Writes `effect` under `dedupe_key` as it went when its writer tried it before this transaction
/// ([`Tried`]): done, or pending for the sweep. Nothing when the same cause wrote it already.
pub async fn write_tried(
    db: &impl GenericClient,
    dedupe_key: &str,
    effect: &Effect,
    tried: &Tried,
) -> Result<(), DbError> {
    let payload = serde_json::to_value(effect).expect("effects serialise");
    log::insert_tried(db, dedupe_key, effect.kind(), &payload, tried).await
}

/// Settles `job`'s status message and, if that ended it now, writes its [`Effect::EndProgress`] as
/// it went when tried before, by someone who saw the message `seen` (see
/// [`log::settle_progress_and_insert_tried`]).
pub async fn settle_progress_tried(
    db: &impl GenericClient,
    job: Tracked,
    seen: Option<i64>,
    tried: &Tried,
) -> Result<(), DbError> {
    let effect = Effect::EndProgress { job };
    let payload = serde_json::to_value(&effect).expect("effects serialise");
    let key = progress_end_key(job);
    log::settle_progress_and_insert_tried(db, job, (&key, effect.kind(), &payload), seen, tried)
        .await
}

/// The dedupe key of a job's status message's end: once per job, whoever settles it.
pub fn progress_end_key(job: Tracked) -> String {
    format!("progress-end:{}", job.key())
}

/// Effects written in one transaction, to dispatch once it committed: by id, or written already
/// taken by the writer (no take when they are dispatched).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "written effects are dispatched after commit"]
pub struct Written {
    ids: Vec<i64>,
    taken: Vec<log::EffectRow>,
}

impl Written {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes an effect and remembers it for dispatch.
    pub async fn write(
        &mut self,
        db: &impl GenericClient,
        dedupe_key: &str,
        effect: &Effect,
    ) -> Result<(), DbError> {
        if let Some(id) = write(db, dedupe_key, effect).await? {
            self.ids.push(id);
        }
        Ok(())
    }

    /// Writes an effect taken by this writer ([`write_taken`]) and remembers it for dispatch: for
    /// a caller that dispatches right after its commit, one statement fewer than [`Written::write`]
    /// and the take.
    pub async fn write_taken(
        &mut self,
        db: &impl GenericClient,
        dedupe_key: &str,
        effect: &Effect,
    ) -> Result<(), DbError> {
        if let Some(row) = write_taken(db, dedupe_key, effect, TAKEN_LEASE_SECS).await? {
            self.taken.push(row);
        }
        Ok(())
    }

    /// Writes a notice to the user under `key` and one to the admins under `admins:<key>`: one
    /// cause, told to both, each once.
    pub async fn tell_user_and_admins(
        &mut self,
        db: &impl GenericClient,
        key: &str,
        user_id: i64,
        notice: Notice,
        admins: AdminNotice,
    ) -> Result<(), DbError> {
        self.write(db, key, &Effect::Notify { user_id, notice })
            .await?;
        self.write(
            db,
            &format!("admins:{key}"),
            &Effect::TellAdmins { notice: admins },
        )
        .await
    }

    /// What [`write`] returned, for dispatch.
    pub fn from_ids(ids: impl IntoIterator<Item = i64>) -> Self {
        Self {
            ids: ids.into_iter().collect(),
            taken: Vec::new(),
        }
    }

    /// Remembers an effect written taken elsewhere, for dispatch.
    pub fn push_taken(&mut self, row: log::EffectRow) {
        self.taken.push(row);
    }

    pub fn extend(&mut self, other: Written) {
        self.ids.extend(other.ids);
        self.taken.extend(other.taken);
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.taken.is_empty()
    }

    /// The ids of every effect written, taken ones last.
    pub fn ids(&self) -> Vec<i64> {
        self.ids
            .iter()
            .copied()
            .chain(self.taken.iter().map(|row| row.id))
            .collect()
    }

    /// The effects to take, and those written taken, for dispatch.
    pub fn into_parts(self) -> (Vec<i64>, Vec<log::EffectRow>) {
        (self.ids, self.taken)
    }
}

/// The dedupe key of a file's deletion: one per file, whoever asks (an erasure, a training that
/// settled).
pub fn delete_file_key(url: &str) -> String {
    format!("delete-file:{url}")
}

/// A training's cancel, under its key: asked once, whoever asks (an erasure, an attempt that
/// found its job unwanted).
pub fn cancel_training(training_id: String) -> (String, Effect) {
    let key = format!("cancel-training:{training_id}");
    (key, Effect::CancelTraining { training_id })
}

/// A prediction's cancel, under its key, as [`cancel_training`].
pub fn cancel_prediction(prediction_id: String) -> (String, Effect) {
    let key = format!("cancel-prediction:{prediction_id}");
    (key, Effect::CancelPrediction { prediction_id })
}
