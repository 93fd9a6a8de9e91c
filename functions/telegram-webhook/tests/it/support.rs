//! `/paysupport` and `/terms`, which Telegram asks of every bot that sells for Stars, and the
//! support contact they (and the "blocked" answer) name.

use testkit::fixtures;
use testkit::updates::TgUser;
use testkit::ADMIN_ID;

use crate::app::App;

async fn app_with_contact(contact: Option<&str>) -> App {
    App::spawn_with_var("SUPPORT_CONTACT", contact).await
}

#[tokio::test]
async fn paysupport_and_terms_name_the_configured_contact_in_the_users_language() {
    let app = app_with_contact(Some("@dream_support")).await;
    let ann = app.started(1, TgUser::new(5101, "Ann")).await;
    let support = app.says(2, &ann, "/paysupport").await;
    assert!(support.contains("@dream_support"), "{support}");
    assert!(support.contains("Payment support"), "{support}");
    let terms = app.says(3, &ann, "/terms").await;
    assert!(terms.contains("@dream_support"), "{terms}");
    assert!(
        terms.contains("100 tokens each"),
        "the training's price: {terms}"
    );
    assert!(
        terms.contains("5 tokens an image"),
        "the image's price: {terms}"
    );

    let ivan = app.started(4, TgUser::new(5102, "Иван").russian()).await;
    let support = app.says(5, &ivan, "/paysupport").await;
    assert!(
        support.contains("Поддержка по оплате") && support.contains("@dream_support"),
        "{support}"
    );
}

#[tokio::test]
async fn without_a_contact_the_first_owner_is_it_and_a_blocked_user_is_told_whom_to_write() {
    let app = app_with_contact(None).await;
    let ann = app.started(1, TgUser::new(5201, "Ann")).await;
    let support = app.says(2, &ann, "/paysupport").await;
    assert!(
        support.contains(&format!("tg://user?id={ADMIN_ID}")),
        "{support}"
    );

    fixtures::block_user(app.env.db(), ann.id).await;
    let blocked = app.says(3, &ann, "hello").await;
    assert!(blocked.contains("blocked"), "{blocked}");
    assert!(
        blocked.contains(&format!("tg://user?id={ADMIN_ID}")),
        "{blocked}"
    );
}

#[tokio::test]
async fn an_email_or_a_link_contact_is_linked_and_escaped() {
    let app = app_with_contact(Some("https://help.example.com/?a=1&b=\"x\"")).await;
    let ann = app.started(1, TgUser::new(5301, "Ann")).await;
    let support = app.says(2, &ann, "/paysupport").await;
    assert!(
        support.contains("<a href=\"https://help.example.com/?a=1&amp;b=&quot;x&quot;\">"),
        "{support}"
    );
}
