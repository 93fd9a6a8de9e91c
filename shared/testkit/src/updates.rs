//! Real Telegram `Update` JSON, as Telegram sends it, for driving the webhook in tests.

use serde_json::{json, Value};

/// A Telegram user in tests.
#[derive(Debug, Clone)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TgUser {
    pub fn new(id: i64, first_name: &str) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            username: Some(first_name.to_lowercase()),
            language_code: Some("en".to_owned()),
        }
    }

    pub fn russian(mut self) -> Self {
        self.language_code = Some("ru".to_owned());
        self
    }

    pub fn json(&self) -> Value {
        let mut v = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        if let Some(l) = &self.language_code {
            v["language_code"] = json!(l);
        }
        v
    }

    fn chat(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }
}

fn message_base(update_id: i64, from: &TgUser, message_id: i64) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_764_000_000,
            "from": from.json(),
            "chat": from.chat(),
        }
    })
}

/// A text message (a command when it starts with `/`).
pub fn text(update_id: i64, from: &TgUser, text: &str) -> Value {
    let mut update = message_base(update_id, from, update_id);
    update["message"]["text"] = json!(text);
    if let Some(command) = text.strip_prefix('/') {
        let len = command
            .split_whitespace()
            .next()
            .map(|c| c.len() + 1)
            .unwrap_or(1);
        update["message"]["entities"] =
            json!([{"type": "bot_command", "offset": 0, "length": len}]);
    }
    update
}

/// A photo message; `media_group_id` makes it part of an album.
pub fn photo(
    update_id: i64,
    from: &TgUser,
    file_unique_id: &str,
    media_group_id: Option<&str>,
) -> Value {
    let mut update = message_base(update_id, from, update_id);
    update["message"]["photo"] = json!([
        {"file_id": format!("small-{file_unique_id}"), "file_unique_id": format!("s-{file_unique_id}"),
         "width": 90, "height": 90, "file_size": 1500},
        {"file_id": format!("file-{file_unique_id}"), "file_unique_id": file_unique_id,
         "width": 1280, "height": 1280, "file_size": 250_000}
    ]);
    if let Some(group) = media_group_id {
        update["message"]["media_group_id"] = json!(group);
    }
    update
}

/// A document message (e.g. an image sent as a file).
pub fn document(
    update_id: i64,
    from: &TgUser,
    file_unique_id: &str,
    mime_type: &str,
    file_size: i64,
) -> Value {
    let mut update = message_base(update_id, from, update_id);
    update["message"]["document"] = json!({
        "file_id": format!("file-{file_unique_id}"), "file_unique_id": file_unique_id,
        "file_name": "photo.jpg", "mime_type": mime_type, "file_size": file_size
    });
    update
}

/// A press on an inline keyboard button.
pub fn callback(update_id: i64, from: &TgUser, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cq-{update_id}"),
            "from": from.json(),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": 1, "date": 1_764_000_000,
                "chat": from.chat(),
                "from": {"id": crate::BOT_ID, "is_bot": true, "first_name": "Dream Photo"},
                "text": "menu"
            }
        }
    })
}

pub fn pre_checkout(
    update_id: i64,
    from: &TgUser,
    currency: &str,
    total: i64,
    payload: &str,
) -> Value {
    json!({
        "update_id": update_id,
        "pre_checkout_query": {
            "id": format!("pcq-{update_id}"),
            "from": from.json(),
            "currency": currency,
            "total_amount": total,
            "invoice_payload": payload
        }
    })
}

pub fn successful_payment(
    update_id: i64,
    from: &TgUser,
    currency: &str,
    total: i64,
    payload: &str,
    charge_id: &str,
) -> Value {
    let mut update = message_base(update_id, from, update_id);
    update["message"]["successful_payment"] = json!({
        "currency": currency,
        "total_amount": total,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": ""
    });
    update
}

/// The service message Telegram sends when a Stars payment was refunded (`refunded_payment`).
pub fn refunded_payment(
    update_id: i64,
    from: &TgUser,
    total: i64,
    payload: &str,
    charge_id: &str,
) -> Value {
    let mut update = message_base(update_id, from, update_id);
    update["message"]["refunded_payment"] = json!({
        "currency": "XTR",
        "total_amount": total,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id
    });
    update
}
