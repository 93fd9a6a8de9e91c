//! The conversation state stored with the user: what the bot is waiting for from them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Dialog {
    #[default]
    Idle,
    /// `/train`: waiting for the model's name.
    AwaitingModelName,
    /// Collecting photos for the draft.
    CollectingPhotos { model_id: i64 },
    /// Generation: choosing a style.
    ChoosingStyle { model_id: i64 },
    /// Generation: waiting for the prompt (or a preset).
    AwaitingPrompt {
        model_id: i64,
        style_id: Option<i64>,
    },
    /// After a rating: an optional comment on the generation.
    AwaitingFeedbackComment { generation_id: i64 },
    /// Generation: choosing how many images.
    ChoosingCount {
        model_id: i64,
        style_id: Option<i64>,
        prompt: String,
    },
}

impl Dialog {
    /// An unreadable state (e.g. from an older version) is treated as idle.
    pub fn from_json(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a dialog serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_garbage_is_idle() {
        let d = Dialog::ChoosingCount {
            model_id: 1,
            style_id: None,
            prompt: "x".into(),
        };
        assert_eq!(Dialog::from_json(&d.to_json()), d);
        assert_eq!(
            Dialog::from_json(&serde_json::json!({"state": "idle"})),
            Dialog::Idle
        );
        assert_eq!(
            Dialog::from_json(&serde_json::json!({"state": "nope"})),
            Dialog::Idle
        );
    }
}
