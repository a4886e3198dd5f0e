//! First run: the one-time setup link creates the first admin, once.

use crate::helpers::*;
use crate::on_both_databases;

fn path_of(link: &str) -> String {
    let at = link.find("/setup").expect("setup path");
    link[at..].to_owned()
}

on_both_databases! {
    async fn the_setup_link_creates_the_first_admin_once(app: TestApp) {
        let link = app.setup_link.clone().expect("a setup link while nobody exists");
        assert!(link.starts_with(&app.address), "{link}");
        let path = path_of(&link);
        let token = path.trim_start_matches("/setup?token=").to_owned();
        let b = app.browser();

        let form = b.get(&path).await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("Create admin account"));

        // Bad input: every problem next to its field, what was typed kept, nothing stored.
        let page = b
            .submit(&path, "/setup", &[
                ("token", &token), ("name", ""), ("email", "not-an-email"),
                ("password", "short"), ("confirm", "short"), ("time_zone", "Mars/Base"),
            ])
            .await;
        assert_eq!(page.status, 422);
        assert!(page.body.contains("name is required"), "{}", page.body);
        assert!(page.body.contains("e-mail address must contain @"));
        assert!(page.body.contains("password must be at least 10 characters"));
        assert!(page.body.contains("unknown time zone"));
        assert!(page.body.contains("value=\"not-an-email\""), "typed values are kept");
        assert_eq!(app.user_count().await, 0);

        let page = b
            .submit(&path, "/setup", &[
                ("token", &token), ("name", "Ana Admin"), ("email", "ana@example.com"),
                ("password", PASSWORD), ("confirm", "something else entirely"), ("time_zone", "UTC"),
            ])
            .await;
        assert_eq!(page.status, 422);
        assert!(page.body.contains("the two passwords differ"));
        assert_eq!(app.user_count().await, 0);

        let page = b
            .submit(&path, "/setup", &[
                ("token", &token), ("name", "Ana Admin"), ("email", "Ana@Example.com"),
                ("password", PASSWORD), ("confirm", PASSWORD), ("time_zone", "Europe/Berlin"),
            ])
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/login"));
        assert_eq!(app.user_count().await, 1);

        // The link is spent: showing or submitting it again changes nothing.
        let again = b.get(&path).await;
        assert_eq!(again.status, 410);
        assert!(again.body.contains("Setup link not valid"));
        let token_now = b.get("/login").await.csrf_token();
        let replay = b
            .post_raw("/setup", &[
                ("csrf_token", &token_now), ("token", &token), ("name", "Mallory"),
                ("email", "mallory@example.com"), ("password", PASSWORD), ("confirm", PASSWORD),
                ("time_zone", "UTC"),
            ])
            .await;
        assert_eq!(replay.status, 410);
        assert_eq!(app.user_count().await, 1);

        // The new admin signs in; the address was normalised.
        let login = b.login("ana@example.com", PASSWORD).await;
        assert_eq!(login.location.as_deref(), Some("/"));
        let home = b.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("Ana Admin"));
        assert!(home.body.contains(">admin<"), "{}", home.body);

        let actions = app.audit_actions().await;
        assert!(actions.contains(&"setup.completed".to_owned()), "{actions:?}");
        assert!(actions.contains(&"user.created".to_owned()));
    }

    async fn a_wrong_setup_token_opens_nothing(app: TestApp) {
        let b = app.browser();
        let page = b.get("/setup?token=guessed").await;
        assert_eq!(page.status, 410);
        let page = b.get("/setup").await;
        assert_eq!(page.status, 410);
        let csrf = b.get("/login").await.csrf_token();
        let page = b
            .post_raw("/setup", &[
                ("csrf_token", &csrf), ("token", "guessed"), ("name", "Eve"),
                ("email", "eve@example.com"), ("password", PASSWORD), ("confirm", PASSWORD),
                ("time_zone", "UTC"),
            ])
            .await;
        assert_eq!(page.status, 410);
        assert_eq!(app.user_count().await, 0);
    }

    async fn no_setup_link_once_someone_can_sign_in(app: TestApp) {
        app.create_user("first@example.com", "admin").await;
        let link = lookout::services::setup::issue_token_if_needed(&app.state).await.expect("issue");
        assert!(link.is_none());
        // The link issued at start stopped working too.
        let path = path_of(app.setup_link.as_deref().expect("link at start"));
        assert_eq!(app.browser().get(&path).await.status, 410);
    }
}
