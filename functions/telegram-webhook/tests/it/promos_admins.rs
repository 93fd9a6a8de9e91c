//! Promo codes and admins kept in the database, with the audit log, through the bot.

use crate::app::App;
use shared::repo::admins::{self, Action};
use shared::repo::{ledger, promos, Page};
use testkit::updates::{self, TgUser};
use testkit::{ADMIN_ID, WEBHOOK_SECRET};

async fn admin_says(app: &App, update_id: i64, text: &str) -> String {
    let owner = TgUser::new(ADMIN_ID, "Boss");
    app.send(&updates::text(update_id, &owner, text)).await;
    app.last_text(ADMIN_ID)
}

#[tokio::test]
async fn concurrent_redemptions_of_a_code_with_one_use_left_let_exactly_one_through() {
    let app = App::spawn().await;
    let reply = admin_says(&app, 1, "/admin_promo add LAST tokens=50 max=1").await;
    assert!(reply.contains("LAST"), "{reply}");
    let people: Vec<TgUser> = (0..6)
        .map(|i| TgUser::new(100 + i, &format!("U{i}")))
        .collect();
    for (i, p) in people.iter().enumerate() {
        app.send(&updates::text(10 + i as i64, p, "/start")).await;
    }
    let redeems: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, p)| updates::text(100 + i as i64, p, "/promo last"))
        .collect();
    let attempts = redeems
        .iter()
        .enumerate()
        .map(|(i, u)| app.post_to(i, u, Some(WEBHOOK_SECRET)));
    let results = futures::future::join_all(attempts).await;
    assert!(results.iter().all(|(s, _)| s.is_success()));
    let mut winners = 0;
    for p in &people {
        let user = app.user(p.id).await.unwrap();
        if user.tokens_left == 50 {
            winners += 1;
        } else {
            assert_eq!(user.tokens_left, 0);
            assert!(
                app.last_text(p.id).contains("used up"),
                "{}",
                app.last_text(p.id)
            );
        }
    }
    assert_eq!(winners, 1);
    let conn = app.env.db().conn().await.unwrap();
    let code = promos::list(&**conn).await.unwrap().remove(0);
    assert_eq!(code.used_count, 1);
}

#[tokio::test]
async fn token_codes_credit_through_the_ledger_once_and_bad_codes_say_why() {
    let app = App::spawn().await;
    admin_says(&app, 1, "/admin_promo add GIFT tokens=25").await;
    admin_says(&app, 2, "/admin_promo add OLD tokens=25 until=2020-01-01").await;
    admin_says(&app, 3, "/admin_promo add SOON tokens=25 from=2099-01-01").await;
    admin_says(&app, 4, "/admin_promo add OFF tokens=25").await;
    admin_says(&app, 5, "/admin_promo off OFF").await;
    // A value that does not parse, or an unknown option, is refused: nothing is created.
    for (id, bad) in [
        (6, "/admin_promo add BAD1 tokens=25 max=abc"),
        (7, "/admin_promo add BAD2 tokens=25 until=31.12.2026"),
        (8, "/admin_promo add BAD3 tokens=25 maxx=3"),
        (9, "/admin_promo edit GIFT"),
    ] {
        let reply = admin_says(&app, id, bad).await;
        assert!(reply.contains("/admin_promo"), "{bad}: {reply}");
    }
    {
        let conn = app.env.db().conn().await.unwrap();
        let codes: Vec<String> = promos::list(&**conn)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.code)
            .collect();
        assert!(!codes.iter().any(|c| c.starts_with("BAD")), "{codes:?}");
    }
    let ann = TgUser::new(1, "Ann");
    for (id, command, answer) in [
        (10, "/promo gift", "+25 tokens"),
        (11, "/promo GIFT", "already used"),
        (12, "/promo OLD", "expired"),
        // Not valid yet, or switched off: the same answer as a code that does not exist.
        (13, "/promo SOON", "no such promo code"),
        (14, "/promo OFF", "no such promo code"),
        (15, "/promo NOPE", "no such promo code"),
        (16, "/promo", "/promo CODE"),
    ] {
        let reply = app.says(id, &ann, command).await;
        assert!(reply.contains(answer), "{command}: {reply}");
    }

    assert_eq!(app.user(1).await.unwrap().tokens_left, 25);
    let conn = app.env.db().conn().await.unwrap();
    let entries = ledger::entries(&**conn, 1, Page::first(5)).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason, ledger::Reason::Promo);
}

#[tokio::test]
async fn a_discount_code_lowers_the_next_invoice_and_is_spent_by_the_payment() {
    let app = App::spawn().await;
    admin_says(&app, 1, "/admin_promo add SALE20 discount=20").await;
    let ann = TgUser::new(1, "Ann");
    assert!(app
        .says(10, &ann, "/promo sale20")
        .await
        .contains("20% off"));
    assert!(app.says(11, &ann, "/buy").await.contains("20% discount"));
    let invoice = app.invoice_for(12, &ann, "small").await;
    assert_eq!(invoice.amount(), 120, "150 stars - 20%");
    let payload = invoice.payload;
    assert!(payload.starts_with("pack:small:100:120:d"), "{payload}");

    app.send(&updates::pre_checkout(13, &ann, "XTR", 120, &payload))
        .await;
    assert!(app.pre_checkout_answer().ok);
    // Someone else cannot use Ann's discount.
    let bob = TgUser::new(2, "Bob");
    app.send(&updates::pre_checkout(14, &bob, "XTR", 120, &payload))
        .await;
    assert!(!app.pre_checkout_answer().ok);

    app.send(&updates::successful_payment(
        15,
        &ann,
        "XTR",
        120,
        &payload,
        "charge-d1",
    ))
    .await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    // Spent: the same discounted invoice does not pass pre-checkout again, and prices are back.
    app.send(&updates::pre_checkout(16, &ann, "XTR", 120, &payload))
        .await;
    assert!(!app.pre_checkout_answer().ok);
    assert_eq!(app.invoice_for(17, &ann, "small").await.amount(), 150);
}

#[tokio::test]
async fn owners_manage_admins_admins_cannot_and_every_admin_action_is_audited() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let mod_user = TgUser::new(2, "Mod");
    app.send(&updates::text(1, &ann, "/start")).await;
    app.send(&updates::text(2, &mod_user, "/start")).await;

    // Before being added, Mod is nobody.
    assert!(app
        .says(3, &mod_user, "/admin_stats")
        .await
        .contains("don't know"));
    // A prefix is not a name: `@mo` is nobody, not Mod.
    let reply = admin_says(&app, 90, "/admin_add @mo").await;
    assert!(!reply.contains("added by"), "{reply}");
    let reply = admin_says(&app, 4, "/admin_add @mod").await;
    assert!(
        reply.contains("(added by 900001)") || reply.contains("добавил 900001"),
        "{reply}"
    );
    assert!(app
        .says(5, &mod_user, "/admin_stats")
        .await
        .contains("Statistics"));
    // An admin is not an owner: no managing admins, no audit log.
    assert!(app
        .says(6, &mod_user, "/admin_add @ann")
        .await
        .contains("Only an owner"));
    assert!(app
        .says(7, &mod_user, "/admin_log")
        .await
        .contains("Only an owner"));
    // Owners cannot be removed from chat.
    let reply = admin_says(&app, 8, &format!("/admin_remove {ADMIN_ID}")).await;
    assert!(
        reply.contains("cannot be removed") || reply.contains("ADMIN_IDS"),
        "{reply}"
    );

    // The admin's actions, and the owner's.
    app.press(10, &mod_user, "at:1:40").await;
    app.press(11, &mod_user, "at:1:-10").await;
    app.press(12, &mod_user, "ab:1:1").await;
    app.press(13, &mod_user, "ab:1:0").await;
    // The same rule as the API's: an owner, or oneself, cannot be blocked.
    app.press(91, &mod_user, &format!("ab:{ADMIN_ID}:1")).await;
    app.press(92, &mod_user, "ab:2:1").await;
    assert!(
        app.last_text(2).contains("cannot be blocked"),
        "{}",
        app.last_text(2)
    );
    assert!(!app.user(ADMIN_ID).await.unwrap().is_blocked);
    assert!(!app.user(2).await.unwrap().is_blocked);
    app.send(&updates::text(
        14,
        &mod_user,
        "/admin_styles add Noir | bw | noir {prompt}",
    ))
    .await;
    let conn = app.env.db().conn().await.unwrap();
    let style = app.styles(true).await.remove(0);
    app.press(15, &mod_user, &format!("as:{}:0", style.id))
        .await;
    app.send(&updates::text(
        16,
        &mod_user,
        "/admin_promo add WELCOME tokens=10 max=100",
    ))
    .await;
    app.send(&updates::text(
        17,
        &mod_user,
        "/admin_promo edit WELCOME max=5 until=2030-01-01",
    ))
    .await;
    admin_says(&app, 18, "/admin_remove @mod").await;
    app.send(&updates::text(19, &mod_user, "/admin_stats"))
        .await;
    assert!(
        app.last_text(2).contains("don't know"),
        "removed admins lose access"
    );

    let log = admins::actions(&**conn, Page::first(50)).await.unwrap();
    let kinds: Vec<Action> = log.iter().rev().map(|e| e.action).collect();
    assert_eq!(
        kinds,
        vec![
            Action::AdminAdd,
            Action::Tokens,
            Action::Tokens,
            Action::Block,
            Action::Unblock,
            Action::StyleAdd,
            Action::StyleChange,
            Action::PromoAdd,
            Action::PromoChange,
            Action::AdminRemove,
        ]
    );
    assert!(log
        .iter()
        .filter(|e| e.action == Action::Tokens)
        .all(|e| e.admin_id == 2 && e.target_user_id == Some(1)));
    let reply = admin_says(&app, 20, "/admin_log").await;
    assert!(
        reply.contains("admin_remove") && reply.contains("tokens"),
        "{reply}"
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 30);
}

#[tokio::test]
async fn a_discount_paid_with_twice_at_once_is_spent_once_and_the_other_payment_is_disputed() {
    let app = App::spawn().await;
    admin_says(&app, 1, "/admin_promo add SALE20 discount=20").await;
    let ann = TgUser::new(1, "Ann");
    app.send(&updates::text(10, &ann, "/promo sale20")).await;
    // Two invoices made while the discount was unspent, both paid (two devices, one moment).
    let payload = app.invoice_for(11, &ann, "small").await.payload;
    let first = updates::successful_payment(12, &ann, "XTR", 120, &payload, "charge-a");
    let second = updates::successful_payment(13, &ann, "XTR", 120, &payload, "charge-b");
    let (a, b) = tokio::join!(
        app.post_to(1, &first, Some(WEBHOOK_SECRET)),
        app.post_to(2, &second, Some(WEBHOOK_SECRET))
    );
    assert!(a.0.is_success() && b.0.is_success());

    assert_eq!(app.user(1).await.unwrap().tokens_left, 100, "credited once");
    let conn = app.env.db().conn().await.unwrap();
    let mut statuses: Vec<String> =
        shared::repo::payments::list_for_user(&**conn, 1, Page::first(10))
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.status)
            .collect();
    statuses.sort();
    assert_eq!(statuses, vec!["disputed", "paid"]);
    let disputes: Vec<_> = app
        .env
        .telegram
        .sent_to(ADMIN_ID)
        .into_iter()
        .filter(|c| c.text().contains("не совпадает со счётом"))
        .collect();
    assert_eq!(disputes.len(), 1);
}

#[tokio::test]
async fn a_payment_whose_amount_or_currency_is_not_the_invoices_credits_nothing() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    // A forged or mismatched confirmation: 1 star for a 150-star pack, then euros for stars.
    let cheap = updates::successful_payment(2, &ann, "XTR", 1, "pack:small:100:150", "ch-1");
    let euros = updates::successful_payment(3, &ann, "EUR", 150, "pack:small:100:150", "ch-2");
    assert!(app.send(&cheap).await.is_success());
    assert!(app.send(&euros).await.is_success());
    assert_eq!(app.user(1).await.unwrap().tokens_left, 0);
    let conn = app.env.db().conn().await.unwrap();
    let recorded = shared::repo::payments::list_for_user(&**conn, 1, Page::first(10))
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2, "the money is recorded");
    assert!(recorded
        .iter()
        .all(|p| p.status == "disputed" && p.tokens == 0));
    assert_eq!(ledger::sum(&**conn, 1).await.unwrap(), 0);
    let told = app
        .env
        .telegram
        .sent_to(1)
        .into_iter()
        .filter(|c| c.text().contains("does not match the offer"))
        .count();
    assert_eq!(told, 2);
}

#[tokio::test]
async fn guessing_promo_codes_in_the_bot_is_cut_off_after_ten_attempts() {
    let app = App::spawn().await;
    admin_says(&app, 1, "/admin_promo add REAL tokens=25").await;
    let ann = TgUser::new(1, "Ann");
    for i in 0..10 {
        app.send(&updates::text(10 + i, &ann, &format!("/promo GUESS{i}")))
            .await;
        assert!(app.last_text(1).contains("no such promo code"));
    }
    // Even the right code waits now: the attempts, not the code, are limited.
    app.send(&updates::text(30, &ann, "/promo REAL")).await;
    assert!(
        app.last_text(1).contains("Too many promo code attempts"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 0);
}
