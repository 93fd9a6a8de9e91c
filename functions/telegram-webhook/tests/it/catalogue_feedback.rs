//! The tagged style catalogue, system models, and feedback on generations, through the bot.

use crate::app::{last_buttons, App};
use shared::repo::feedback;
use testkit::updates::{self, TgUser};
use testkit::{fixtures, ADMIN_ID};

#[tokio::test]
async fn users_browse_styles_by_tag_with_previews_and_pages() {
    let app = App::spawn().await;
    let owner = TgUser::new(ADMIN_ID, "Boss");
    for i in 0..8 {
        let spec = format!(
            "/admin_styles add Portrait {i} | studio | portrait, {{prompt}} | tags=portrait,pro | preview=https://cdn.example.com/p{i}.jpg | gender=female"
        );
        app.send(&updates::text(i + 1, &owner, &spec)).await;
    }
    app.send(&updates::text(20, &owner, "/admin_styles add Anime | drawn | anime {prompt} | tags=art | weight=0.7 | trigger=ANIMESTYLE")).await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;

    app.press(30, &ann, &format!("g:{}", model.id)).await;
    let tags = last_buttons(&app, 1);
    assert!(
        tags.contains(&("portrait (8)".to_owned(), "sp:0:portrait".to_owned())),
        "{tags:?}"
    );
    assert!(tags.contains(&("art (1)".to_owned(), "sp:0:art".to_owned())));

    app.press(31, &ann, "sp:0:portrait").await;
    let album = app
        .env
        .telegram
        .calls_of("sendMediaGroup")
        .pop()
        .expect("previews as an album");
    assert_eq!(album.album().len(), 6, "one page of previews");
    let page = last_buttons(&app, 1);
    assert!(page.iter().any(|(label, _)| label == "Portrait 0 (female)"));
    assert!(page.contains(&("Next ▶️".to_owned(), "sp:1:portrait".to_owned())));
    app.press(32, &ann, "sp:1:portrait").await;
    let page = last_buttons(&app, 1);
    assert!(page.contains(&("◀️ Back".to_owned(), "sp:0:portrait".to_owned())));
    assert_eq!(
        page.iter()
            .filter(|(_, data)| data.starts_with("s:") && data != "s:0")
            .count(),
        2
    );

    // The art style's own trigger word and weight reach Replicate.
    app.press(33, &ann, "sp:0:art").await;
    let anime = last_buttons(&app, 1)
        .into_iter()
        .find(|(label, _)| label == "Anime")
        .unwrap();
    app.send(&updates::callback(34, &ann, &anime.1)).await;
    app.send(&updates::text(35, &ann, "in Tokyo")).await;
    app.press(36, &ann, "n:1").await;
    let prediction = app
        .env
        .replicate
        .calls_to("POST", "/predictions")
        .pop()
        .unwrap();
    assert!(prediction
        .input("prompt")
        .as_str()
        .unwrap()
        .contains("ANIMESTYLE style, anime in Tokyo"));
}

#[tokio::test]
async fn a_system_model_is_offered_to_everyone() {
    let app = App::spawn().await;
    let owner = TgUser::new(ADMIN_ID, "Boss");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 5, 0).await;
    let bob = TgUser::new(2, "Bob");
    fixtures::user(app.env.db(), 2, 50).await;
    app.press(1, &bob, &format!("g:{}", model.id)).await;
    assert!(
        app.last_text(2).contains("not ready"),
        "someone else's model is not Bob's"
    );

    // Without its owner's consent the model stays theirs.
    app.send(&updates::text(
        2,
        &owner,
        &format!("/admin_system {}", model.id),
    ))
    .await;
    assert!(
        app.last_text(ADMIN_ID).contains("not agreed"),
        "{}",
        app.last_text(ADMIN_ID)
    );
    // Its owner agrees from /models, then an owner of the service offers it.
    let five = TgUser::new(5, "Five");
    app.send(&updates::text(20, &five, "/models")).await;
    let share = format!("sh:{}:1", model.id);
    assert!(last_buttons(&app, 5).iter().any(|(_, data)| *data == share));
    app.send(&updates::callback(21, &five, &share)).await;
    assert!(last_buttons(&app, 5)
        .iter()
        .any(|(_, data)| *data == format!("sh:{}:0", model.id)));
    app.send(&updates::text(
        22,
        &owner,
        &format!("/admin_system {}", model.id),
    ))
    .await;
    assert!(app.says(3, &bob, "/models").await.contains("for everyone"));
    assert!(last_buttons(&app, 2)
        .iter()
        .any(|(_, data)| *data == format!("g:{}", model.id)));
    app.press(4, &bob, &format!("g:{}", model.id)).await;
    app.press(5, &bob, "p:1").await;
    app.press(6, &bob, "n:1").await;
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);
    assert_eq!(app.user(2).await.unwrap().tokens_left, 45);
}

#[tokio::test]
async fn ratings_and_comments_are_stored_and_admins_see_them() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    let generation = fixtures::generation_in_flight(app.env.db(), 1, model.id, "pr_1", 1, 5).await;

    app.press(1, &ann, &format!("r:{}:2", generation.id)).await;
    assert!(app.last_text(1).contains("Thanks for rating"));
    assert!(app
        .says(2, &ann, "the face looks off")
        .await
        .contains("Thank you"));
    // Changing one's mind updates the rating; someone else cannot rate it.
    let bob = TgUser::new(2, "Bob");
    app.press(3, &bob, &format!("r:{}:5", generation.id)).await;
    assert!(app.last_text(2).contains("out of date"));

    let conn = app.env.db().conn().await.unwrap();
    let low = feedback::recent_low(&**conn, 5).await.unwrap();
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].comment.as_deref(), Some("the face looks off"));
    let by_style = feedback::by_style(&**conn).await.unwrap();
    assert_eq!(by_style[0].average, 2.0);
    drop(conn);

    let owner = TgUser::new(ADMIN_ID, "Boss");
    app.send(&updates::text(10, &owner, "/admin_stats")).await;
    let stats = app.last_text(ADMIN_ID);
    assert!(
        stats.contains("Низкие оценки") || stats.contains("Low ratings"),
        "{stats}"
    );
    assert!(stats.contains("the face looks off"), "{stats}");
}
