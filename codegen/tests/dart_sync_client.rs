//! The generated Dart `SyncClient` is the Rust reference client's loop, held to it without a
//! Dart SDK: both are read into one shape (statements with their parameters, HTTP requests,
//! transactions, loops, branches on the answer, assignments, returns, the kind of each error
//! raised; see `dart_trace`) and compared, for the whole sync, for the request sender and for
//! every device method the app calls. The Rust client is the one the end-to-end tests run
//! against the real server on both databases, so equality carries those tests over.
//!
//! The comparison must be able to fail: the tests at the end break a copy of the Dart (steps
//! swapped, a status branch changed, a step dropped) and of the Rust, and see it fail.

mod dart_trace;
mod support;

use dart_trace::{Step, dart, render, rust, statements};
use offgen_runtime::scripts::parse_sync_sql;

const CLIENT_FILES: [&str; 5] = [
    "dart/lib/src/sync_client.dart",
    "dart/lib/src/sync_attachments.dart",
    "dart/lib/src/sync_device.dart",
    "dart/lib/src/sync_json.dart",
    "dart/lib/src/sync_transport.dart",
];

fn rust_sources() -> Vec<String> {
    ["sync.rs", "device.rs", "pulled.rs", "attachments.rs"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(format!(
                "{}/../runtime/src/client/{f}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        })
        .collect()
}

fn dart_sources(files: &offgen_codegen::output::FileSet) -> Vec<String> {
    CLIENT_FILES
        .iter()
        .map(|p| {
            files
                .get(p)
                .unwrap_or_else(|| panic!("{p} generated"))
                .to_owned()
        })
        .collect()
}

/// (Rust type, Rust method, Dart method): what is compared.
const PAIRS: &[(&str, &str, &str)] = &[
    ("SyncClient", "sync", "_sync"),
    ("Run", "send", "send"),
    ("Device", "now", "now"),
    ("Device", "client_id", "clientId"),
    ("Device", "stats", "stats"),
    ("Device", "list_failed", "listFailed"),
    ("Device", "retry_failed", "retryFailed"),
    ("Device", "discard_failed", "discardFailed"),
    ("Device", "list_conflicts", "listConflicts"),
    ("Device", "resolve_conflict", "resolveConflict"),
    ("Device", "list_clashes", "listClashes"),
    ("Device", "list_notices", "listNotices"),
    ("Device", "dismiss_notice", "dismissNotice"),
    ("Device", "dismiss_all_notices", "dismissAllNotices"),
    ("Device", "retry_waiting", "retryWaiting"),
    // The attachment loop, and what the app asks of the attachment queue.
    ("SyncClient", "sync_attachments", "_syncAttachments"),
    ("SyncClient", "fetch_attachment", "_fetchAttachment"),
    ("FileRun", "build", "build"),
    ("Device", "attach", "attachFile"),
    ("Device", "attachment", "attachment"),
    ("Device", "set_attachment_policy", "setAttachmentPolicy"),
    ("Device", "attachment_stats", "attachmentStats"),
    ("Device", "list_failed_attachments", "listFailedAttachments"),
    ("Device", "retry_failed_attachment", "retryFailedAttachment"),
    ("Device", "discard_attachment", "discardAttachment"),
    (
        "Device",
        "retry_waiting_attachments",
        "retryWaitingAttachments",
    ),
];

/// Every difference between the two clients, as `what: rust vs dart` texts.
fn differences(rust_texts: &[&str], dart_texts: &[&str]) -> Vec<String> {
    let rust = rust::Source::parse(rust_texts);
    let dart = dart::Source::parse(dart_texts);
    let mut out = Vec::new();
    for (ty, method, dart_method) in PAIRS {
        let r = render(&rust.steps(ty, method));
        let d = render(&dart.steps(dart::class_of(ty), dart_method));
        if r != d {
            out.push(format!(
                "{ty}::{method} and {}.{dart_method} differ:\n--- rust\n{r}--- dart\n{d}",
                dart::class_of(ty)
            ));
        }
    }
    out
}

fn sync_steps(files: &offgen_codegen::output::FileSet) -> Vec<Step> {
    let texts = dart_sources(files);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    dart::Source::parse(&refs).steps("SyncClient", "_sync")
}

#[test]
fn the_dart_sync_loop_is_the_reference_clients() {
    let files = support::build(&support::ranger_spec());
    let rust = rust_sources();
    let dart = dart_sources(&files);
    let rust: Vec<&str> = rust.iter().map(String::as_str).collect();
    let dart: Vec<&str> = dart.iter().map(String::as_str).collect();
    let problems = differences(&rust, &dart);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_loop_read_is_the_whole_algorithm() {
    // The reading is not vacuous: the sync holds the steps sync.sql's header lists, in its
    // order, with every HTTP status branch of the push.
    let files = support::build(&support::ranger_spec());
    let text = render(&sync_steps(&files));
    let mut at = 0;
    for expected in [
        "sql acquireSyncLease(holder, now, until)",
        "if !run.renewLease",
        "fail busy",
        "sql recoverInflight()",
        "sql syncStats(now)",
        "loop",
        "sql prepareBatch(now, limit)",
        "sql setAsideOversized(max_bytes)",
        "sql claimBatch(now, limit, max_bytes, claim)",
        "sql claimedEntries(claim)",
        "if entries.isEmpty",
        "sql getClientId()",
        "set report.pushed",
        "http POST /sync/push",
        "on error",
        "sql releaseInflight(claim)",
        "fail transport",
        "if response.status == 200",
        "sql applyPushResults(results, now)",
        "sql clearPushResults()",
        "if serverTime != null",
        "sql setClock(server_time, now)",
        "if response.status == 413 && entries.length > 1",
        "set limit",
        "set maxBytes",
        "if response.status == 409 && problemType(response) == schemaAheadProblem",
        "set report.serverBehind",
        "if response.status == 413",
        "sql setAsideClaimed(claim, error)",
        "fail refused",
        "set report.setAside",
        "sql getPullCursor()",
        "sql pullDurability()",
        "http GET /sync/pull?cursor=&limit=",
        "loop",
        "if response.status != 200",
        "if page.hasMore",
        "sql acquireSyncLease(holder, now, until)",
        "http GET /sync/pull?cursor=&limit=",
        "set ahead",
        "if relax",
        "sql relaxDurability()",
        "transaction",
        "for each",
        "if row != null",
        "if !held.isEmpty",
        "if silenced",
        "sql endPulledRows()",
        "sql applyPulledRecords(records)",
        "if !silenced",
        "sql beginPulledRows()",
        "sql applyPulledRow…(record)",
        "if executePulledRow == 0",
        "set held",
        "set applied",
        "set held",
        "sql endPulledRows()",
        "sql applyPulledRecords(records)",
        "sql takeClashes()",
        "sql clearClashes()",
        "for each",
        "sql unknownPulledRecords()",
        "sql clearInbox()",
        "sql setPullCursor(cursor)",
        "if relax",
        "sql restoreDurability()",
        "if ahead == null",
        "return",
        "set response",
        "sql setLastSynced(now)",
        "sql releaseSyncLease(holder)",
    ] {
        match text[at..].find(expected) {
            Some(i) => at += i + expected.len(),
            None => panic!("`{expected}` missing or out of order in:\n{text}"),
        }
    }
    assert_eq!(
        text.matches("transaction").count(),
        3,
        "claim, results, page:\n{text}"
    );
}

#[test]
fn the_attachment_loop_read_is_the_whole_algorithm() {
    // The attachment loop holds the steps the header of sync.sql's attachment part lists, in
    // its order, with every status branch of the upload.
    let files = support::build(&support::ranger_spec());
    let texts = dart_sources(&files);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let text = render(&dart::Source::parse(&refs).steps("SyncClient", "_syncAttachments"));
    let mut at = 0;
    for expected in [
        "sql acquireAttachmentLease(holder, now, until)",
        "fail busy",
        "sql recoverAttachmentUploads()",
        "loop",
        "sql claimAttachmentUpload(claim, now, metered)",
        "sql claimedAttachment(claim)",
        "http HEAD /",
        "transport send",
        "sql releaseAttachmentUpload(claim)",
        "fail transport",
        "if asked.status == 200",
        "sql confirmAttachmentUpload(claim, now)",
        "if asked.status != 404",
        "fail refused",
        "if max != null && size > max",
        "sql setAsideAttachment(claim, error)",
        "on error",
        "sql setAsideAttachment(claim, error)",
        "http PUT /",
        "transport upload",
        "if response.status == 200 || response.status == 201",
        "sql confirmAttachmentUpload(claim, now)",
        "if response.status == 413",
        "sql setAsideAttachment(claim, error)",
        "if response.status == 400 || response.status == 422 && !localMatches",
        "sql setAsideAttachment(claim, error)",
        "if response.status == 400 || response.status == 404 || response.status == 409 || response.status == 410 || response.status == 422",
        "sql retryAttachmentUpload(claim, error, now)",
        "sql releaseAttachmentUpload(claim)",
        "fail refused",
        "sql attachmentDownloadsDue(now, metered, limit)",
        "for each",
        "http GET /",
        "transport download",
        "file delete",
        "sql retryAttachmentDownload(seq, error, now)",
        "if hash != file.sha256",
        "fail protocol",
        "file rename",
        "sql confirmAttachmentDownload(seq, local_path, now)",
        "sql evictableAttachments(now)",
        "sql evictAttachment(local_path, now)",
        "if marked > 0",
        "file delete",
        "sql forgetEvicted()",
        "sql releaseAttachmentLease(holder)",
    ] {
        match text[at..].find(expected) {
            Some(i) => at += i + expected.len(),
            None => panic!("`{expected}` missing or out of order in:\n{text}"),
        }
    }
    assert!(!text.contains("transaction"), "{text}");
}

#[test]
fn every_statement_is_bound_with_exactly_its_params() {
    let files = support::build(&support::ranger_spec());
    let sync_sql = parse_sync_sql(files.get("client/sync.sql").unwrap()).unwrap();
    let dart_texts = dart_sources(&files);
    let dart_refs: Vec<&str> = dart_texts.iter().map(String::as_str).collect();
    let rust_texts = rust_sources();
    let rust_refs: Vec<&str> = rust_texts.iter().map(String::as_str).collect();
    let dart = dart::Source::parse(&dart_refs);
    let rust = rust::Source::parse(&rust_refs);
    let mut used = Vec::new();
    for (ty, method, dart_method) in PAIRS {
        statements(&dart.steps(dart::class_of(ty), dart_method), &mut used);
        statements(&rust.steps(ty, method), &mut used);
    }
    assert!(used.len() > 40, "{used:?}");
    for (name, params) in used {
        if name == "applyPulledRow…" {
            // Bound from the record by its params' notes: every entity has one.
            let rows = offgen_runtime::scripts::pulled_row_statements(&sync_sql).unwrap();
            assert_eq!(rows.len(), 3, "{rows:?}");
            assert_eq!(params, ["record"]);
            continue;
        }
        let statement = sync_sql
            .iter()
            .find(|s| dart_trace::camel(&s.name) == name)
            .unwrap_or_else(|| panic!("{name} is not in sync.sql"));
        let mut expected: Vec<&str> = statement
            .params
            .iter()
            .map(|p| p.trim_start_matches(':'))
            .collect();
        let mut given: Vec<&str> = params.iter().map(String::as_str).collect();
        expected.sort_unstable();
        given.sort_unstable();
        assert_eq!(given, expected, "{name}");
    }
}

#[test]
fn the_dart_client_runs_no_sql_of_its_own() {
    // Only sync_sql.dart's statements: no SQL text in the client's files.
    let files = support::build(&support::ranger_spec());
    for path in CLIENT_FILES {
        let source = files.get(path).unwrap();
        let tree = support::drift::parse(source);
        let mut literals = Vec::new();
        support::drift::find_all(tree.root_node(), "string_literal", &mut literals);
        for literal in literals {
            let text = support::drift::text(literal, source).to_uppercase();
            for keyword in [
                "SELECT ", "UPDATE ", "INSERT ", "DELETE ", "PRAGMA ", "BEGIN",
            ] {
                assert!(!text.contains(keyword), "{path}: {text}");
            }
        }
        for call in ["customStatement(", "customSelect('", "customUpdate('"] {
            assert!(!source.contains(call), "{path} calls {call}");
        }
    }
    // And its transactions are Drift's.
    let dart_texts = dart_sources(&files);
    let refs: Vec<&str> = dart_texts.iter().map(String::as_str).collect();
    let dart = dart::Source::parse(&refs);
    let in_transaction = dart.method_text("_Run", "inTransaction").unwrap();
    assert!(
        in_transaction.contains("._database.transaction(work)"),
        "{in_transaction}"
    );
}

// The comparison must be able to fail.

fn broken(files: &offgen_codegen::output::FileSet, from: &str, to: &str) -> Vec<String> {
    let mut texts = dart_sources(files);
    let hits: usize = texts.iter().map(|t| t.matches(from).count()).sum();
    assert_eq!(hits, 1, "`{from}` must occur once to be broken");
    for text in &mut texts {
        *text = text.replace(from, to);
    }
    texts
}

fn differences_with_dart(texts: &[String]) -> Vec<String> {
    let rust = rust_sources();
    let rust: Vec<&str> = rust.iter().map(String::as_str).collect();
    let dart: Vec<&str> = texts.iter().map(String::as_str).collect();
    differences(&rust, &dart)
}

#[test]
fn the_comparison_notices_a_broken_dart_loop() {
    let files = support::build(&support::ranger_spec());
    let cases = [
        // Two statements of the pull page swapped.
        (
            "await device._execute(SyncSql.clearInbox, const {});\n          await device._execute(SyncSql.setPullCursor, {'cursor': next});",
            "await device._execute(SyncSql.setPullCursor, {'cursor': next});\n          await device._execute(SyncSql.clearInbox, const {});",
        ),
        // 413 with one entry treated as with several.
        (
            "response.status == 413 && entries.length > 1",
            "response.status == 413 && entries.length > 0",
        ),
        // The claim's lease renewal dropped.
        (
            "      await keepLease();\n      final claim = _randomId();\n      final entries",
            "      final claim = _randomId();\n      final entries",
        ),
        // Files uploaded on the records' lease (a long upload would hold records back).
        (
            "      SyncSql.acquireAttachmentLease,",
            "      SyncSql.acquireSyncLease,",
        ),
        // A 409 (the row refers to another file now) set aside instead of retried later.
        (
            "        response.status == 404 ||\n        response.status == 409 ||",
            "        response.status == 404 ||",
        ),
        // A file that did not fit in the server's limit (413) retried instead of set aside.
        (
            "} else if (response.status == 413) {\n      final error = 'too-large: the server refused the file",
            "} else if (response.status == 414) {\n      final error = 'too-large: the server refused the file",
        ),
        // An upload that got no answer keeps its claim (uploading forever).
        (
            "      response = await sent;\n    } on TransportException catch (e) {\n      await release(claim);\n",
            "      response = await sent;\n    } on TransportException catch (e) {\n",
        ),
        // A file deleted though evict_attachment found a row still needing it.
        ("      if (marked > 0) {", "      if (true) {"),
        // A download whose bytes are not the file's kept (renamed into place).
        (
            "    if (hash != file.sha256) {\n      await discard(temporary);\n",
            "    if (hash != file.sha256) {\n",
        ),
        // The file's bytes sent by `send` (in memory) instead of streamed by `upload`.
        ("client.transport.upload(", "client.transport.send("),
        // A file request without the token.
        (
            "'application/octet-stream';\n    }\n    final token = await client.token();",
            "'application/octet-stream';\n    }\n    const String? token = null;",
        ),
        // A file attached with no check that the field took it.
        (
            "    if (changed == 0) {\n      throw AttachmentException(",
            "    if (changed < 0) {\n      throw AttachmentException(",
        ),
        // The clock not set after a pull page.
        (
            "          if (serverTime != null) {\n            await device._execute(\n              SyncSql.setClock,\n              {'server_time': serverTime, 'now': now},\n            );\n          }\n          return [",
            "          return [",
        ),
        // The results applied outside a transaction.
        (
            "    await inTransaction(() async {\n      await device._execute(\n        SyncSql.applyPushResults,",
            "    await (() async {\n      await device._execute(\n        SyncSql.applyPushResults,",
        ),
        // A transport failure that keeps the claim in flight.
        (
            "        await release(claim);\n        throw SyncException._(SyncErrorKind.transport",
            "        throw SyncException._(SyncErrorKind.transport",
        ),
        // The wrong kind of error.
        (
            "throw SyncException._(\n        SyncErrorKind.busy,\n        'another sync took over",
            "throw SyncException._(\n        SyncErrorKind.refused,\n        'another sync took over",
        ),
        // The server-behind answer taken for any 409.
        (
            "response.status == 409 && _problemType(response) == schemaAheadProblem",
            "response.status == 409",
        ),
        // A parameter renamed.
        ("{'records': records}", "{'record': records}"),
        // A record its pulled-row statement did not apply, dropped instead of held.
        (
            "if (await _executePulledRow(row) == 0) {\n          held.add(record);\n        }",
            "if (await _executePulledRow(row) == 0) {\n        }",
        ),
        // Held records applied with the queue triggers still silenced.
        (
            "          if (silenced) {\n            await _execute(SyncSql.endPulledRows, const {});\n            silenced = false;\n          }\n          await _applyHeld(held);",
            "          await _applyHeld(held);",
        ),
        // Durability not restored when a page fails.
        (
            "      } finally {\n        if (relax) {",
            "      } on FormatException {\n        if (relax) {",
        ),
        // The last page taken for one with more after it.
        (
            "      if (ahead == null) {\n        return;\n      }",
            "      if (!page.hasMore) {\n        return;\n      }",
        ),
        // The token asked once per sync instead of per request (moved out of send).
        (
            "'${clientMigrations.length}';\n    final token = await client.token();\n",
            "'${clientMigrations.length}';\n    const String? token = null;\n",
        ),
    ];
    for (from, to) in cases {
        let texts = broken(&files, from, to);
        assert!(
            !differences_with_dart(&texts).is_empty(),
            "not noticed: `{from}` -> `{to}`"
        );
    }
}

#[test]
fn the_comparison_notices_a_changed_rust_loop() {
    // And the other way: when the reference client changes, the Dart must follow.
    let files = support::build(&support::ranger_spec());
    let dart = dart_sources(&files);
    let dart: Vec<&str> = dart.iter().map(String::as_str).collect();
    let original = rust_sources();
    for (from, to) in [
        (
            "device.execute(\"clear_push_results\", &[])?;",
            "device.execute(\"clear_push_results\", &[])?;\n            device.execute(\"clear_inbox\", &[])?;",
        ),
        (
            "413 if entries.len() > 1 =>",
            "413 | 429 if entries.len() > 1 =>",
        ),
        ("if page.has_more {", "if !page.has_more {"),
        ("400 | 404 | 409 | 410 | 422 =>", "400 | 404 | 410 | 422 =>"),
        ("if marked > 0 {", "if marked >= 0 {"),
        ("if hash != file.sha256 {", "if hash == file.sha256 {"),
        (
            "\"recover_attachment_uploads\", &[])",
            "\"forget_evicted\", &[])",
        ),
        (
            "if self.execute_pulled_row(&mut rows, row)? == 0 {",
            "if self.execute_pulled_row(&mut rows, row)? != 1 {",
        ),
        (
            "            self.execute(\"end_pulled_rows\", &[])?;\n        }\n        if !held.is_empty() {",
            "            self.execute(\"end_pulled_rows\", &[])?;\n        }\n        if held.is_empty() {",
        ),
    ] {
        let hits: usize = original.iter().map(|t| t.matches(from).count()).sum();
        assert_eq!(hits, 1, "`{from}`");
        let changed: Vec<String> = original.iter().map(|t| t.replace(from, to)).collect();
        let rust: Vec<&str> = changed.iter().map(String::as_str).collect();
        assert!(
            !differences(&rust, &dart).is_empty(),
            "not noticed: `{from}` -> `{to}`"
        );
    }
}
