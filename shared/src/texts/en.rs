use super::Texts;

pub struct En;

impl Texts for En {
    fn welcome(&self, first_name: &str) -> String {
        format!(
            "Hi, {first_name}! 👋\n\n\
             I'm <b>Dream Photo</b>. Send me 10–20 selfies and I'll train your personal model, \
             then create photos of you in any look and style.\n\n\
             Start with /train or use the menu below."
        )
    }
    fn help(&self) -> String {
        "<b>What I can do</b>\n\n\
         /train — train your model from 10–20 photos\n\
         /models — your models, and generating photos\n\
         /history — your latest generations\n\
         /balance — your token balance\n\
         /buy — buy tokens\n\
         /referral — invite friends and earn a bonus\n\
         /cancel — leave the current dialogue\n\
         /help — this help"
            .to_owned()
    }
    fn unknown_command(&self) -> String {
        "I don't know that command. See /help for the list.".to_owned()
    }
    fn blocked(&self) -> String {
        "Your account is blocked. If you think this is a mistake, contact support.".to_owned()
    }
    fn menu_train(&self) -> String {
        "📸 Train a model".to_owned()
    }
    fn menu_models(&self) -> String {
        "🖼 My models".to_owned()
    }
    fn menu_balance(&self) -> String {
        "💰 Balance".to_owned()
    }
    fn menu_buy(&self) -> String {
        "🛒 Buy tokens".to_owned()
    }
    fn menu_referral(&self) -> String {
        "🎁 Invite a friend".to_owned()
    }
    fn menu_help(&self) -> String {
        "❓ Help".to_owned()
    }

    fn button_generate(&self) -> String {
        "✨ Generate photos".to_owned()
    }
    fn model_ready(&self, name: &str) -> String {
        format!(
            "🎉 Your model “{name}” is ready! Tap “Generate photos” to get your first pictures."
        )
    }
    fn training_failed(&self, name: &str, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} tokens are back on your balance.")
        } else {
            String::new()
        };
        format!(
            "😔 Training your model “{name}” failed.{refund} Try again with other photos: /train"
        )
    }
    fn generation_caption(&self, prompt: &str) -> String {
        format!("✨ {prompt}")
    }
    fn generation_failed(&self, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} tokens are back on your balance.")
        } else {
            String::new()
        };
        format!("😔 Generating your photos failed.{refund} Try another prompt.")
    }
    fn admin_training_failed(&self, user: &str, model_id: i64, error: &str) -> String {
        format!("⚠️ Training of model #{model_id} ({user}) failed: {error}")
    }
    fn admin_generation_failed(&self, user: &str, generation_id: i64, error: &str) -> String {
        format!("⚠️ Generation #{generation_id} ({user}) failed: {error}")
    }
    fn admin_payment(&self, user: &str, tokens: i64, amount: i64, currency: &str) -> String {
        format!(
            "💰 Payment: {user} bought {tokens} tokens for {}",
            super::money(amount, currency)
        )
    }
}
