//! Errors: the protocol's problem types (RFC 9457) and the shared `components.responses`
//! that answer with them.

use offgen_runtime::problems::{self, ProblemType};
use serde_json::{Map, Value, json};

use super::{MAX_BODY_MIB, MAX_MUTATIONS, PROBLEM_JSON, schema_ref, with_headers};

/// One row of the protocol's error table: a problem type of the runtime's, and how the
/// document presents it.
pub(super) struct ProblemKind {
    /// The type (`status`, `type` URI, title), as the server answers it.
    pub(super) ty: &'static ProblemType,
    /// Name in `components.responses`.
    pub(super) component: &'static str,
    /// When it is answered; `{max_mutations}` and `{max_body_mib}` stand for the server's
    /// default limits, read from the runtime so the document cannot restate them wrongly.
    when: &'static str,
}

impl ProblemKind {
    fn type_uri(&self) -> String {
        self.ty.uri()
    }

    fn description(&self) -> String {
        self.when
            .replace("{max_mutations}", &MAX_MUTATIONS.to_string())
            .replace("{max_body_mib}", &MAX_BODY_MIB.to_string())
    }

    /// The HTTP status it is answered with.
    pub(super) fn status(&self) -> u16 {
        self.ty.status
    }
}

pub(super) const BAD_REQUEST: ProblemKind = ProblemKind {
    ty: &problems::BAD_REQUEST,
    component: "BadRequest",
    when: "Malformed JSON, unknown keys, a bad cursor or a malformed `If-Match`.",
};
pub(super) const UNAUTHORIZED: ProblemKind = ProblemKind {
    ty: &problems::UNAUTHORIZED,
    component: "Unauthorized",
    when: "No valid bearer token.",
};
pub(super) const FORBIDDEN: ProblemKind = ProblemKind {
    ty: &problems::FORBIDDEN,
    component: "Forbidden",
    when: "An admin endpoint, for a user who is not an admin.",
};
pub(super) const NOT_FOUND: ProblemKind = ProblemKind {
    ty: &problems::NOT_FOUND,
    component: "NotFound",
    when: "No such record (records of other users are not revealed either), or a write \
           naming another user as a record's owner.",
};
pub(super) const CONFLICT: ProblemKind = ProblemKind {
    ty: &problems::CONFLICT,
    component: "Conflict",
    when: "The request conflicts with what is stored: a record with this id exists with \
           other fields, a reference names a record that does not exist, or a unique value is \
           another record's. Resolve it and send the request again.",
};
/// 409 on push and pull: the app's schema step and the server's do not meet. Its `type` is
/// one of two (see [`schema_step_response`]).
pub(super) const SCHEMA_STEP: ProblemKind = ProblemKind {
    ty: &problems::UPGRADE_REQUIRED,
    component: "SchemaStep",
    when: "The app's schema step (`Offgen-Schema-Step`) is not served: older than the oldest \
           step the server serves (`upgrade-required`: update the app; nothing was applied), \
           or, on a push, newer than the server's (`schema-ahead`: the changes wait on the \
           device until the server is upgraded).",
};
pub(super) const GONE: ProblemKind = ProblemKind {
    ty: &problems::GONE,
    component: "Gone",
    when: "The record was deleted.",
};
pub(super) const PRECONDITION_FAILED: ProblemKind = ProblemKind {
    ty: &problems::PRECONDITION_FAILED,
    component: "PreconditionFailed",
    when: "`If-Match` matches no current version: the record is stale or deleted.",
};
pub(super) const PAYLOAD_TOO_LARGE: ProblemKind = ProblemKind {
    ty: &problems::PAYLOAD_TOO_LARGE,
    component: "PayloadTooLarge",
    when: "More than {max_mutations} mutations or {max_body_mib} MiB in one request (the \
           defaults; a server may be configured with others).",
};
pub(super) const INVALID_DATA: ProblemKind = ProblemKind {
    ty: &problems::INVALID_DATA,
    component: "InvalidData",
    when: "Field values the entity does not accept; `errors` says which.",
};
pub(super) const PRECONDITION_REQUIRED: ProblemKind = ProblemKind {
    ty: &problems::PRECONDITION_REQUIRED,
    component: "PreconditionRequired",
    when: "No `If-Match` header.",
};
pub(super) const DIGEST_MISMATCH: ProblemKind = ProblemKind {
    ty: &problems::DIGEST_MISMATCH,
    component: "DigestMismatch",
    when: "An upload's bytes do not hash to the file the row refers to (they changed on the \
           way): nothing of it is kept; send it again.",
};
pub(super) const RANGE_NOT_SATISFIABLE: ProblemKind = ProblemKind {
    ty: &problems::RANGE_NOT_SATISFIABLE,
    component: "RangeNotSatisfiable",
    when: "A `Range` outside the file; `Content-Range` gives its size.",
};
pub(super) const INTERNAL: ProblemKind = ProblemKind {
    ty: &problems::INTERNAL,
    component: "Internal",
    when: "An unexpected server error.",
};
pub(super) const UNAVAILABLE: ProblemKind = ProblemKind {
    ty: &problems::UNAVAILABLE,
    component: "Unavailable",
    when: "The database cannot be reached.",
};

/// The errors shared by all entities, as `components.responses`. 412 is not among them: its
/// `record` has the entity's type.
pub(super) fn shared_responses(attachments: bool) -> Map<String, Value> {
    let mut errors_extra = Map::new();
    errors_extra.insert(
        "errors".into(),
        json!({ "type": "array", "minItems": 1, "items": schema_ref("FieldError") }),
    );
    [
        (&BAD_REQUEST, Map::new(), &[][..]),
        (&UNAUTHORIZED, Map::new(), &[][..]),
        (&FORBIDDEN, Map::new(), &[][..]),
        (&NOT_FOUND, Map::new(), &[][..]),
        (&CONFLICT, Map::new(), &[][..]),
        (&GONE, Map::new(), &[][..]),
        (&PAYLOAD_TOO_LARGE, Map::new(), &[][..]),
        (&INVALID_DATA, errors_extra, &["errors"][..]),
        (&PRECONDITION_REQUIRED, Map::new(), &[][..]),
        (&INTERNAL, Map::new(), &[][..]),
        (&UNAVAILABLE, Map::new(), &[][..]),
    ]
    .into_iter()
    .chain(
        [
            (&DIGEST_MISMATCH, Map::new(), &[][..]),
            (&RANGE_NOT_SATISFIABLE, Map::new(), &[][..]),
        ]
        .into_iter()
        .filter(move |_| attachments),
    )
    .chain([(&SCHEMA_STEP, schema_step_extra(), &[][..])])
    .map(|(problem, extra, required)| {
        let mut response = problem_response(problem, extra, required);
        if problem.component == SCHEMA_STEP.component {
            response = schema_step_response(response);
        }
        if problem.status() == UNAUTHORIZED.status() {
            // RFC 9110 requires a challenge with every 401.
            response = with_headers(response, &["WWW-Authenticate"]);
        }
        if problem.component == RANGE_NOT_SATISFIABLE.component {
            response = with_headers(response, &["Content-Range"]);
        }
        (problem.component.to_owned(), response)
    })
    .collect()
}

/// The members of a [`SCHEMA_STEP`] problem beside the standard ones.
fn schema_step_extra() -> Map<String, Value> {
    let step = || json!({ "type": "integer", "minimum": 1 });
    let mut extra = Map::new();
    extra.insert("serverStep".into(), step());
    extra.insert("oldestStep".into(), step());
    extra
}

/// [`SCHEMA_STEP`]'s response takes either of its two types.
fn schema_step_response(mut response: Value) -> Value {
    let types = json!({ "enum": [
        problems::UPGRADE_REQUIRED.uri(),
        problems::SCHEMA_AHEAD.uri(),
    ] });
    if let Some(narrowed) = response
        .pointer_mut(&format!(
            "/content/{}/schema/allOf/1/properties",
            PROBLEM_JSON.replace('/', "~1")
        ))
        .and_then(Value::as_object_mut)
    {
        narrowed.insert("type".into(), types);
    }
    response
}

/// A `Problem` whose `type` and `status` are fixed to `problem`'s, plus `extra` members.
pub(super) fn problem_response(
    problem: &ProblemKind,
    extra: Map<String, Value>,
    required: &[&str],
) -> Value {
    let mut properties = Map::new();
    properties.insert("type".into(), json!({ "const": problem.type_uri() }));
    properties.insert("status".into(), json!({ "const": problem.status() }));
    properties.extend(extra);
    let mut narrowed = Map::new();
    narrowed.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        narrowed.insert("required".into(), json!(required));
    }
    json!({
        "description": problem.description(),
        "content": {
            PROBLEM_JSON: {
                "schema": { "allOf": [schema_ref("Problem"), Value::Object(narrowed)] },
            },
        },
    })
}
