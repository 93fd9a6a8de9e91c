//! The life cycles of a model (training) and a generation (prediction), and how Replicate's statuses
//! map onto them. Status only moves forward: a late `processing` after `succeeded` changes nothing.

use serde::{Deserialize, Serialize};

named_enum! {
    /// A personal model: photos collected (`draft`), paid and waiting for the worker (`queued`), on
    /// Replicate (`training`), then `ready`, `failed` or `canceled`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ModelStatus {
        Draft => "draft",
        Queued => "queued",
        Training => "training",
        Ready => "ready",
        Failed => "failed",
        Canceled => "canceled",
    }
}

impl ModelStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Failed | Self::Canceled)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Draft => 0,
            Self::Queued => 1,
            Self::Training => 2,
            Self::Ready | Self::Failed | Self::Canceled => 3,
        }
    }

    /// Whether moving from `self` to `next` is a step forward (never out of a final state).
    pub fn can_advance_to(self, next: ModelStatus) -> bool {
        !self.is_final() && next.rank() > self.rank()
    }
}

named_enum! {
    /// A generation: written (`pending`), sent to Replicate (`starting`, `processing`), then final.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum GenerationStatus {
        Pending => "pending",
        Starting => "starting",
        Processing => "processing",
        Succeeded => "succeeded",
        Failed => "failed",
        Canceled => "canceled",
    }
}

impl GenerationStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Starting => 1,
            Self::Processing => 2,
            Self::Succeeded | Self::Failed | Self::Canceled => 3,
        }
    }

    pub fn can_advance_to(self, next: GenerationStatus) -> bool {
        !self.is_final() && next.rank() > self.rank()
    }
}

/// A status as Replicate reports it for a training or a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicateStatus {
    Starting,
    Processing,
    Succeeded,
    Failed,
    Canceled,
    /// Stopped before it ran (e.g. a deadline passed); final, like `canceled`.
    Aborted,
}

impl ReplicateStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Canceled | Self::Aborted
        )
    }

    /// What this status means for a model in training.
    pub fn model_status(self) -> ModelStatus {
        match self {
            Self::Starting | Self::Processing => ModelStatus::Training,
            Self::Succeeded => ModelStatus::Ready,
            Self::Failed => ModelStatus::Failed,
            // A canceled or aborted training leaves the user without a model: it failed, and is refunded.
            Self::Canceled | Self::Aborted => ModelStatus::Failed,
        }
    }

    pub fn generation_status(self) -> GenerationStatus {
        match self {
            Self::Starting => GenerationStatus::Starting,
            Self::Processing => GenerationStatus::Processing,
            Self::Succeeded => GenerationStatus::Succeeded,
            Self::Failed => GenerationStatus::Failed,
            Self::Canceled | Self::Aborted => GenerationStatus::Canceled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_status_only_moves_forward() {
        use ModelStatus::*;
        assert!(Draft.can_advance_to(Queued));
        assert!(Queued.can_advance_to(Training));
        assert!(Training.can_advance_to(Ready));
        assert!(Queued.can_advance_to(Failed));
        assert!(!Ready.can_advance_to(Training));
        assert!(!Ready.can_advance_to(Failed));
        assert!(!Training.can_advance_to(Training));
        assert!(!Failed.can_advance_to(Ready));
    }

    #[test]
    fn generation_status_only_moves_forward() {
        use GenerationStatus::*;
        assert!(Pending.can_advance_to(Processing));
        assert!(Processing.can_advance_to(Succeeded));
        assert!(!Succeeded.can_advance_to(Processing));
        assert!(!Failed.can_advance_to(Succeeded));
    }

    #[test]
    fn names_round_trip() {
        for s in ModelStatus::ALL {
            assert_eq!(ModelStatus::parse(s.as_str()), Some(s));
        }
        for s in GenerationStatus::ALL {
            assert_eq!(GenerationStatus::parse(s.as_str()), Some(s));
        }
    }
}
