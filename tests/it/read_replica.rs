//! `DATABASE_READ_URL`: catalog reads served by a real streaming replica of the tests'
//! Postgres (`scripts/replica.sh` starts it on port 5433, `SCREEMA_REPLICA_PORT`),
//! writes by the primary, a change never read stale from a replica that has not
//! replayed it, and the server carrying on when the replica goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{TestApp, at_address, fixtures as fx};
use screema::db::enums::Role;

fn replica_address() -> String {
    let port = std::env::var("SCREEMA_REPLICA_PORT").unwrap_or_else(|_| "5433".to_owned());
    format!("127.0.0.1:{port}")
}

/// A TCP relay in front of the replica that the test can cut: while cut, it closes
/// every connection it carried and every new one at once, as a replica that went
/// away would.
struct Relay {
    address: String,
    up: Arc<AtomicBool>,
    carried: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let carried = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accepting, carrying) = (up.clone(), carried.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !AtomicBool::load(&accepting, Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                carrying.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            address,
            up,
            carried,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.carried.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = format!("screema_{name}_total ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// The test's database on the replica, straight (not through the relay).
async fn on_replica(app: &TestApp) -> AsyncPgConnection {
    let url = at_address(
        app.app.config.database.url.expose_secret(),
        &replica_address(),
    );
    // The replica learns of the new database by replaying its creation.
    for _ in 0..200 {
        if let Ok(conn) = AsyncPgConnection::establish(&url).await {
            return conn;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the replica at {} never had the test's database: run scripts/replica.sh",
        replica_address()
    );
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn replayed_movies(replica: &mut AsyncPgConnection, at_least: i64) {
    for _ in 0..200 {
        let row: Count = diesel::sql_query("SELECT count(*) AS n FROM movies")
            .get_result(replica)
            .await
            .unwrap();
        if row.n >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the replica never replayed {at_least} movies");
}

async fn replay(replica: &mut AsyncPgConnection, paused: bool) {
    let call = if paused {
        "SELECT pg_wal_replay_pause()::text AS done"
    } else {
        "SELECT pg_wal_replay_resume()::text AS done"
    };
    diesel::sql_query(call)
        .execute(replica)
        .await
        .expect("pausing or resuming replay: scripts/replica.sh grants it to the tests' role");
}

const TITLES: &str = "query($s: String) { movies(limit: 50, search: $s) { movies { title } } }";

async fn titles(app: &TestApp, token: &str, search: Option<&str>) -> Vec<String> {
    let answer = app.gql_as(token, TITLES, json!({ "s": search })).await;
    answer.data()["movies"]["movies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
}

#[tokio::test]
async fn the_replica_serves_the_catalog_a_change_is_never_read_stale_and_its_loss_is_survived() {
    let relay = Relay::start(replica_address()).await;
    let app = TestApp::builder()
        .read_replica(&relay.address)
        .env("DATABASE_READ_RETRY_MS", "300")
        .build()
        .await;
    let other = app
        .another_node()
        .read_replica(&relay.address)
        .env("DATABASE_READ_RETRY_MS", "300")
        .build()
        .await;
    let mut replica = on_replica(&app).await;
    // A run that stopped midway may have left replay paused.
    replay(&mut replica, false).await;
    {
        let mut conn = app.conn().await;
        let spec = |title| fx::MovieSpec {
            title,
            ..Default::default()
        };
        fx::movie(&mut conn, spec("Harbour Lights")).await;
        fx::movie(&mut conn, spec("Quiet Fields")).await;
    }
    replayed_movies(&mut replica, 2).await;
    let customer = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;

    // Reads: the replica's.
    let (served, statements) = (
        metric(&app, "db_replica_reads").await,
        metric(&app, "db_replica_statements").await,
    );
    // (The primary's own statement count is no witness: the node's background work
    // runs there all the while.)
    let found = titles(&app, &customer.token, None).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(metric(&app, "db_replica_reads").await > served);
    assert!(metric(&app, "db_replica_statements").await > statements);

    // Writes: the primary's, and a reader never sees the catalog from before them,
    // on this node or the other, while the replica has not replayed them.
    titles(&other, &customer.token, None).await; // the other node's cache holds the old page
    replay(&mut replica, true).await;
    let created = app
        .gql_as(
            &admin.token,
            "mutation($i: CreateMovieInput!) { createMovie(input: $i) { id } }",
            json!({"i": {"title": "Late Arrival", "duration": 95, "genres": ["Drama"], "status": "NOW_SHOWING"}}),
        )
        .await;
    created.data();
    let behind = metric(&app, "db_replica_behind").await;
    assert!(
        titles(&app, &customer.token, None)
            .await
            .contains(&"Late Arrival".to_owned())
    );
    assert!(
        metric(&app, "db_replica_behind").await > behind,
        "read from the primary"
    );
    // The other node heard of the change with the primary's position.
    let mut seen_there = false;
    for _ in 0..250 {
        if titles(&other, &customer.token, None)
            .await
            .contains(&"Late Arrival".to_owned())
        {
            seen_there = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen_there,
        "the other node kept the page from before the change"
    );
    let stale: Count = diesel::sql_query("SELECT count(*) AS n FROM movies")
        .get_result(&mut replica)
        .await
        .unwrap();
    assert_eq!(stale.n, 2, "replay was paused: the replica did not have it");

    // Once the replica has replayed the change, it serves again. (The floor is where
    // the primary's WAL stood just after the change, other databases' writes
    // included, so the replica may need a moment more than the film's row.)
    replay(&mut replica, false).await;
    replayed_movies(&mut replica, 3).await;
    until_the_replica_serves(&app, &customer.token).await;
    let served = metric(&app, "db_replica_reads").await;
    let found = titles(&app, &customer.token, Some("late")).await;
    assert_eq!(found, vec!["Late Arrival".to_owned()]);
    assert!(metric(&app, "db_replica_reads").await > served);

    // The replica goes away: reads carry on from the primary.
    relay.cut();
    let unavailable = metric(&app, "db_replica_unavailable").await;
    for search in ["harbour", "quiet", "arrival"] {
        let found = titles(&app, &customer.token, Some(search)).await;
        assert_eq!(found.len(), 1, "{search}: {found:?}");
    }
    assert!(metric(&app, "db_replica_unavailable").await > unavailable);
    let seat_page: Value = app
        .gql_as(&customer.token, "{ theaters { name } }", json!({}))
        .await
        .data()
        .clone();
    assert!(seat_page["theaters"].is_array());

    // And it comes back: after its rest the replica serves again (a connection the
    // cut left behind may cost one more rest first).
    relay.restore();
    until_the_replica_serves(&app, &customer.token).await;
}

/// Reads until the replica serves one, each a search of its own that no cache has
/// the answer to; fails after seven seconds.
async fn until_the_replica_serves(app: &TestApp, token: &str) {
    for _ in 0..20 {
        let served = metric(app, "db_replica_reads").await;
        let search = format!("nothing {}", uuid::Uuid::new_v4().simple());
        assert!(titles(app, token, Some(&search)).await.is_empty());
        if metric(app, "db_replica_reads").await > served {
            return;
        }
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    panic!("the replica never served a read");
}
