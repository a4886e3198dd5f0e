//! `/healthz`, `/readyz`, `/metrics`, request ids, security headers, 404s.

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases! {
    async fn probes_answer(app: TestApp) {
        let b = app.browser();
        let health = b.get("/healthz").await;
        assert_eq!(health.status, 200);
        assert_eq!(health.body, "ok\n");
        let ready = b.get("/readyz").await;
        assert_eq!(ready.status, 200);
        assert_eq!(ready.body, "ready\n");
    }

    async fn metrics_count_requests_by_route_and_show_the_pool(app: TestApp) {
        let b = app.browser();
        b.get("/login").await;
        b.get("/login").await;
        b.get("/admin/users/some-id").await;
        let m = b.get("/metrics").await;
        assert_eq!(m.status, 200);
        assert!(
            m.body.contains(r#"lookout_http_requests_total{method="GET",route="/login",status="200"} 2"#),
            "{}",
            m.body
        );
        // The route pattern is counted, never the raw path with its id.
        assert!(m.body.contains(r#"route="/admin/users/{id}",status="303""#), "{}", m.body);
        assert!(!m.body.contains("some-id"));
        assert!(m.body.contains("lookout_http_request_duration_seconds_bucket"));
        assert!(m.body.contains("lookout_db_pool_connections "));
        assert!(m.body.contains("lookout_db_pool_max_connections "));
    }

    async fn every_response_has_a_request_id_and_security_headers(app: TestApp) {
        let b = app.browser();
        let page = b.get("/login").await;
        let id = page.headers.get("x-request-id").expect("request id");
        assert!(!id.is_empty());
        assert_eq!(page.headers.get("x-frame-options").map(|v| v.to_str().unwrap_or("")), Some("DENY"));
        assert!(page.headers.get("content-security-policy").is_some());
        // A sane incoming id is kept so a proxy's id follows the request.
        let res = b.client.get(b.url("/healthz")).header("x-request-id", "abc-123").send().await.expect("get");
        assert_eq!(res.headers().get("x-request-id").map(|v| v.to_str().unwrap_or("")), Some("abc-123"));
        let res = b.client.get(b.url("/healthz")).header("x-request-id", "<script>").send().await.expect("get");
        assert_ne!(res.headers().get("x-request-id").map(|v| v.to_str().unwrap_or("")), Some("<script>"));
    }

    async fn unknown_pages_are_404_pages_and_unknown_api_paths_are_json(app: TestApp) {
        let admin = app.signed_in("admin").await;
        let page = admin.get("/no/such/page").await;
        assert_eq!(page.status, 404);
        assert!(page.body.contains("<h1>Not found</h1>"), "{}", page.body);
        assert!(page.body.contains("Sign out"), "error pages keep the layout: {}", page.body);
        let page = admin.get("/admin/users/00000000-0000-7000-8000-000000000000").await;
        assert_eq!(page.status, 404);

        let (_, token) = app.token_for("viewer").await;
        let reply = app.api(Some(&token)).get("/api/v1/nothing-here").await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json["error"], "Not found");
    }

    async fn static_assets_are_served_with_long_caching(app: TestApp) {
        let b = app.browser();
        let login = b.get("/login").await;
        let start = login.body.find("/static/app.").expect("stylesheet link");
        let end = login.body[start..].find('"').expect("end of href") + start;
        let css = b.get(&login.body[start..end]).await;
        assert_eq!(css.status, 200);
        assert!(css.headers["cache-control"].to_str().unwrap_or("").contains("immutable"));
        assert!(css.body.contains("prefers-color-scheme: dark"));
        assert_eq!(b.get("/static/nope.css").await.status, 404);
    }
}

/// `/readyz` says 503 when the database stops answering. The app reaches PostgreSQL through a
/// proxy this test can cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_when_the_database_does_not_answer() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::net::{TcpListener, TcpStream};

    let Some(admin_url) = postgres_url() else {
        return;
    };
    let target = url::Url::parse(&admin_url).expect("url");
    let upstream = format!(
        "{}:{}",
        target.host_str().unwrap_or("127.0.0.1"),
        target.port().unwrap_or(5432)
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let proxy_port = listener.local_addr().expect("addr").port();
    let cut = Arc::new(AtomicBool::new(false));
    let (cut_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let proxy_cut = cut.clone();
    let proxy_tx = cut_tx.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if proxy_cut.load(Ordering::SeqCst) {
                continue;
            }
            let upstream = upstream.clone();
            let mut stop = proxy_tx.subscribe();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = stop.recv() => {}
                    }
                }
            });
        }
    });

    let mut proxied = target.clone();
    proxied.set_host(Some("127.0.0.1")).expect("host");
    proxied.set_port(Some(proxy_port)).expect("port");
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        let schema_url = s.database.to_string();
        let options = schema_url
            .split_once('?')
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default();
        let mut url = proxied.to_string();
        if !options.is_empty() {
            url = format!(
                "{url}{}{options}",
                if url.contains('?') { '&' } else { '?' }
            );
        }
        s.database = lookout::config::DatabaseUrl::parse(&url).expect("proxied url");
    })
    .await;
    let b = app.browser();
    assert_eq!(b.get("/readyz").await.status, 200);

    cut.store(true, Ordering::SeqCst);
    let _ = cut_tx.send(());
    let ready = b.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(
        b.get("/healthz").await.status,
        200,
        "liveness does not depend on the database"
    );
}

/// SQLite connections come out of the pool in WAL mode with foreign keys enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_connections_have_their_settings() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let read = |pragma: &'static str| {
        let db = app.state.db.clone();
        async move {
            db.read(move |c| {
                diesel::sql_query(format!("SELECT CAST(({pragma}) AS TEXT) AS value"))
                    .get_result::<Pragma>(c)
                    .map(|p| p.value)
                    .map_err(lookout::error::AppError::from)
            })
            .await
            .expect("pragma")
        }
    };
    assert_eq!(
        read("SELECT journal_mode FROM pragma_journal_mode").await,
        "wal"
    );
    assert_eq!(
        read("SELECT foreign_keys FROM pragma_foreign_keys").await,
        "1"
    );
    assert_eq!(
        read("SELECT timeout FROM pragma_busy_timeout").await,
        "10000"
    );
    assert_eq!(
        read("SELECT synchronous FROM pragma_synchronous").await,
        "2",
        "FULL"
    );
}
