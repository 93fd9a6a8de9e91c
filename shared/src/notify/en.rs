use super::{AdminNoticeTexts, NoticeTexts};

pub(super) static TEXTS: NoticeTexts = NoticeTexts {
    model_ready: "🎉 Your model “{name}” is ready! Tap “Generate photos” to get your first pictures.",
    button_generate: "✨ Generate photos",
    training_failed: "😔 Training your model “{name}” failed.{refund} Try again with other photos: /train",
    generation_failed: "😔 Generating your photos failed.{refund} Try another prompt.",
    refund: " {refunded} tokens are back on your balance.",
    rate_prompt: "How do you like these photos? Rate them 1 to 5:",
    payment_thanks: "✅ Payment received: +{tokens} tokens. Balance: {balance}.",
    payment_disputed: "We received your payment #{payment_id}, but it does not match the offer it was for. Nothing is lost: our team will look into it and get back to you.",
    referral_joined: "🎉 {name} joined through your link! Your bonus arrives with their first purchase.",
    referral_bonus: "🎁 Your friend made their first purchase: {tokens} tokens are yours!",
    start_training_first: "To train a model from your photos, start with /train.",
    invoice_title: "{tokens} Dream Photo tokens",
    invoice_description: "{tokens} tokens for training models and creating photos in Dream Photo.",
    admin: AdminNoticeTexts {
        new_user: "👋 New user: {user} (id {id}){referred}",
        referred: ", via a referral link",
        payment: "💰 Payment: {user} bought {tokens} tokens for {paid}",
        unknown_pack_credited: "⚠️ Payment #{payment_id}: {user} paid {paid} for pack «{pack}», which is no longer sold; credited {tokens} tokens as the invoice said",
        unknown_pack_not_credited: "⚠️ Payment #{payment_id}: {user} paid {paid} for pack «{pack}», which is no longer sold; nothing was credited, settle it by hand (/admin_users)",
        payment_disputed: "⚠️ Payment #{payment_id} from {user} ({paid}) does not match its invoice: {reason}. Nothing was credited; settle it by hand (/admin_users)",
        training_failed: "⚠️ Training of model #{model_id} ({user}) failed: {error}",
        generation_failed: "⚠️ Generation #{generation_id} ({user}) failed: {error}",
        replicate_refused_us: "🚨 Replicate refuses our API token ({error}). Trainings wait in the queue, nobody is refunded: renew the token or add credit.",
        effect_failed: "⚠️ Effect #{effect_id} ({what}) failed for good: {error}",
    },
};
