//! The runtime engine serving apps built from small specs in the test, over real HTTP, on
//! SQLite and on PostgreSQL (`OFFGEN_TEST_DATABASE_URL`, started by scripts/test.sh): what the
//! ranger example cannot show, such as a reference to an owner-scoped entity.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use offgen_codegen::load_yaml_spec;
use offgen_codegen::source::SourceFile;
use offgen_runtime::model::AppDef;
use offgen_runtime::server::{Database, StaticTokens, router, tokio};
use serde_json::{Value, json};

/// The app a generated server crate would describe for `spec`, built at run time.
fn app(spec: &str) -> &'static AppDef {
    app_of_revisions(&[spec])
}

/// The app of the last of `specs`, each built on the one before, as `offgen build` makes them.
fn app_of_revisions(specs: &[&str]) -> &'static AppDef {
    let mut files = None;
    for spec in specs {
        let schema = load_yaml_spec(&SourceFile::new("offgen.yaml", *spec)).unwrap();
        let previous = files
            .as_ref()
            .map(|f| offgen_codegen::previous::from_files(f, Path::new("out")).unwrap())
            .unwrap_or_default();
        files = Some(
            offgen_codegen::backend::generate(&schema, &previous, &mut Default::default()).unwrap(),
        );
    }
    offgen_codegen::backend::server::app_def::plan_of_build(&files.unwrap())
        .unwrap_or_else(|d| panic!("{}", d.message))
        .leak()
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A running server for `spec` on a fresh database; `users` are `(id, token)`.
struct Server {
    base: String,
    client: reqwest::Client,
    db: Database,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    async fn start(spec: &str, postgres: bool, users: &[(&str, &str)]) -> Server {
        Server::serving(app(spec), postgres, users).await
    }

    async fn serving(app: &'static AppDef, postgres: bool, users: &[(&str, &str)]) -> Server {
        let (url, dir) = if postgres {
            let admin = std::env::var("OFFGEN_TEST_DATABASE_URL")
                .expect("OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh");
            let name = format!(
                "offgen_engine_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            (
                format!("{}/{name}", admin.rsplit_once('/').unwrap().0),
                None,
            )
        } else {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite:{}", dir.path().join("app.db").display()),
                Some(dir),
            )
        };
        let db = Database::connect(&url).await.unwrap();
        db.migrate(app).await.unwrap();
        let tokens: Vec<String> = users
            .iter()
            .map(|(user, token)| format!("{user}={token}"))
            .collect();
        let routes = router(
            app,
            db.clone(),
            StaticTokens::parse(&tokens.join(",")).unwrap(),
            "{}",
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            offgen_runtime::server::axum::serve(listener, routes)
                .await
                .unwrap()
        });
        Server {
            base,
            client: reqwest::Client::new(),
            db,
            _dir: dir,
        }
    }

    async fn push(&self, token: &str, mutations: Value) -> Value {
        self.push_at(token, None, mutations).await
    }

    /// A push from an app at schema step `step` (`None`: the server's).
    async fn push_at(&self, token: &str, step: Option<u32>, mutations: Value) -> Value {
        let mut request = self.client.post(format!("{}/sync/push", self.base));
        if let Some(step) = step {
            request = request.header("Offgen-Schema-Step", step.to_string());
        }
        let response = request
            .bearer_auth(token)
            .json(&json!({"clientId": "device", "mutations": mutations}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["results"].clone()
    }
}

fn insert(entity: &str, id: &str, data: Value) -> Value {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    json!({"mutationId": format!("m{n}"), "entity": entity, "id": id, "op": "insert", "data": data})
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Notes and their comments, each owned by their author.
const NOTES: &str = "
offgen: 1
app: notes
entities:
  Author:
    fields:
      name: text
  Note:
    owner: author
    fields:
      author: Author
      body: text
  Comment:
    owner: author
    fields:
      author: Author
      note: Note
      body: text
";

const ANA: &str = "00000000-0000-4000-8000-00000000a0a0";
const BEN: &str = "00000000-0000-4000-8000-00000000b0b0";

/// A reference to another user's owner-scoped row is answered as one to a missing row: the
/// row stays invisible, and no one links their rows to it.
async fn a_reference_to_another_users_row_finds_no_row(postgres: bool) {
    let s = Server::start(NOTES, postgres, &[(ANA, "ana"), (BEN, "ben")]).await;
    for (user, token) in [(ANA, "ana"), (BEN, "ben")] {
        let r = s
            .push(
                token,
                json!([insert("authors", user, json!({"name": token}))]),
            )
            .await;
        assert_eq!(r[0]["status"], "accepted", "{r}");
    }
    let (anas, missing) = (uuid(1), uuid(9));
    let r = s
        .push(
            "ana",
            json!([insert(
                "notes",
                &anas,
                json!({"author": ANA, "body": "private"})
            )]),
        )
        .await;
    assert_eq!(r[0]["status"], "accepted", "{r}");
    let comment = |id: u64, note: &str| {
        insert(
            "comments",
            &uuid(id),
            json!({"author": BEN, "note": note, "body": "hi"}),
        )
    };
    let results = s
        .push(
            "ben",
            json!([
                comment(10, &anas),
                comment(11, &missing),
                // Ben's insert over Ana's id is refused; a comment on it must not slip through.
                insert("notes", &anas, json!({"author": BEN, "body": "mine"})),
                comment(12, &anas),
            ]),
        )
        .await;
    let error = |i: usize, id: &str| results[i]["error"].to_string().replace(id, "<id>");
    assert_eq!(error(0, &anas), error(1, &missing), "{results}");
    assert_eq!(error(3, &anas), error(1, &missing), "{results}");
    assert_eq!(results[0]["error"]["code"], "invalid-data");
    assert_eq!(results[2]["error"]["code"], "not-found");
    // Ana may comment on her own note.
    let own = s
        .push(
            "ana",
            json!([insert(
                "comments",
                &uuid(13),
                json!({"author": ANA, "note": anas, "body": "mine"})
            )]),
        )
        .await;
    assert_eq!(own[0]["status"], "accepted", "{own}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_to_another_users_row_finds_no_row_sqlite() {
    a_reference_to_another_users_row_finds_no_row(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_to_another_users_row_finds_no_row_postgres() {
    a_reference_to_another_users_row_finds_no_row(true).await;
}

/// A team's notes app whose second build dropped its sketches (`migrate.drop`).
const SKETCHES: &str = "
offgen: 1
app: notes
entities:
  Note:
    fields:
      body: text
  Sketch:
    fields:
      title: text
      strokes: json?
";

/// What an app at the first step writes to the entity the server dropped since is accepted,
/// applied to nothing and kept in the audit once, as the write it was: a retry after a lost
/// answer (the same mutation again, even twice in one request) gets the first result and
/// audits nothing again.
async fn writes_to_an_entity_dropped_since_are_audited_once(postgres: bool) {
    let dropped = format!(
        "{}migrate:\n  drop: [Sketch]\n",
        SKETCHES.replace(
            "  Sketch:\n    fields:\n      title: text\n      strokes: json?\n",
            ""
        )
    );
    let app = app_of_revisions(&[SKETCHES, &dropped]);
    let s = Server::serving(app, postgres, &[(ANA, "ana")]).await;
    let sketch = insert(
        "sketches",
        &uuid(1),
        json!({"title": "ridge", "strokes": [1, 2]}),
    );
    let first = s.push_at("ana", Some(1), json!([sketch])).await;
    assert_eq!(
        (&first[0]["status"], &first[0]["version"]),
        (&json!("accepted"), &json!(1)),
        "{first}"
    );
    let again = s
        .push_at(
            "ana",
            Some(1),
            json!([
                sketch,
                sketch,
                insert("notes", &uuid(2), json!({"body": "b"}))
            ]),
        )
        .await;
    assert_eq!((&again[0], &again[1]), (&first[0], &first[0]), "{again}");
    assert_eq!(again[2]["status"], "accepted", "{again}");
    let sql =
        "SELECT entity || ' ' || reason || ' ' || CAST(losing_data AS TEXT) FROM _offgen_audit";
    let audit: Vec<String> = match &s.db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    };
    assert_eq!(audit.len(), 1, "{audit:?}");
    let (head, losing) = audit[0].split_at(audit[0].find('{').unwrap());
    assert!(head.starts_with("sketches schema: "), "{head}");
    assert_eq!(
        serde_json::from_str::<Value>(losing).unwrap(),
        json!({"op": "insert", "baseVersion": null, "data": {"title": "ridge", "strokes": [1, 2]}})
    );
    // An id that is no id is refused, as from any app; nothing reaches the audit.
    let bad = s
        .push_at(
            "ana",
            Some(1),
            json!([insert("sketches", "not-a-uuid", json!({"title": "x"}))]),
        )
        .await;
    assert_eq!(bad[0]["error"]["code"], "invalid-id", "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_an_entity_dropped_since_are_audited_once_sqlite() {
    writes_to_an_entity_dropped_since_are_audited_once(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_an_entity_dropped_since_are_audited_once_postgres() {
    writes_to_an_entity_dropped_since_are_audited_once(true).await;
}
