//! What a server does with the database it is given at start: bring it up to date, once, and
//! refuse one whose migration history is not its own.

mod support;

use offgen_runtime::server::MigrateError;
use ranger_server::APP;
use serde_json::json;
use support::*;

on_both!(migrating_again_changes_nothing, |s: Server| async move {
    let steps = s.count("SELECT count(*) FROM _offgen_migrations").await;
    assert_eq!(steps, APP.migrations.sqlite.len() as i64);
    s.push(
        ANA_TOKEN,
        json!([insert("observations", &uuid(1), observation(ANA, 1))]),
    )
    .await;
    s.db.migrate(&APP).await.unwrap();
    assert_eq!(
        s.count("SELECT count(*) FROM _offgen_migrations").await,
        steps
    );
    assert_eq!(s.count("SELECT count(*) FROM observations").await, 1);
});

on_both!(
    a_database_migrated_by_a_newer_build_is_refused_untouched,
    |s: Server| async move {
        s.exec("INSERT INTO _offgen_migrations (number, name, applied_at) VALUES (99, '0099_newer', 0)")
            .await;
        let error = s.db.migrate(&APP).await.unwrap_err();
        assert!(matches!(error, MigrateError::History(_)), "{error}");
        assert!(
            error.to_string().contains("step 99 (`0099_newer`)"),
            "{error}"
        );
        assert!(error.to_string().contains("newer build"), "{error}");
        assert_eq!(
            s.count("SELECT count(*) FROM _offgen_migrations").await,
            APP.migrations.sqlite.len() as i64 + 1
        );
    }
);

on_both!(
    a_database_with_another_step_history_is_refused,
    |s: Server| async move {
        s.exec("UPDATE _offgen_migrations SET name = '0001_elsewhere' WHERE number = 1")
            .await;
        let error = s.db.migrate(&APP).await.unwrap_err();
        assert!(
            error.to_string().contains("ran step 1 as `0001_elsewhere`"),
            "{error}"
        );
        assert!(error.to_string().contains("`0001_init`"), "{error}");
    }
);
