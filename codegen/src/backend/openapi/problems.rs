//! Errors: the protocol's problem types (RFC 9457) and the shared `components.responses`
//! that answer with them.

use serde_json::{Map, Value, json};

use super::{PROBLEM_JSON, schema_ref, with_headers};

/// One row of the protocol's error table.
pub(super) struct ProblemKind {
    pub(super) status: u16,
    /// Last segment of the stable `type` URI.
    slug: &'static str,
    /// Name in `components.responses`.
    pub(super) component: &'static str,
    /// When it is answered.
    when: &'static str,
}

impl ProblemKind {
    fn type_uri(&self) -> String {
        format!("https://offgen.dev/problems/{}", self.slug)
    }
}

pub(super) const BAD_REQUEST: ProblemKind = ProblemKind {
    status: 400,
    slug: "bad-request",
    component: "BadRequest",
    when: "Malformed JSON, unknown keys, a bad cursor or a malformed `If-Match`.",
};
pub(super) const UNAUTHORIZED: ProblemKind = ProblemKind {
    status: 401,
    slug: "unauthorized",
    component: "Unauthorized",
    when: "No valid bearer token.",
};
pub(super) const FORBIDDEN: ProblemKind = ProblemKind {
    status: 403,
    slug: "forbidden",
    component: "Forbidden",
    when: "An admin endpoint, for a user who is not an admin.",
};
pub(super) const NOT_FOUND: ProblemKind = ProblemKind {
    status: 404,
    slug: "not-found",
    component: "NotFound",
    when: "No such record (records of other users are not revealed either), or a write \
           naming another user as a record's owner.",
};
pub(super) const CONFLICT: ProblemKind = ProblemKind {
    status: 409,
    slug: "conflict",
    component: "Conflict",
    when: "The request conflicts with what is stored: a record with this id exists with \
           other fields, a reference names a record that does not exist, or a unique value is \
           another record's. Resolve it and send the request again.",
};
/// 409 on push and pull: the app's schema step and the server's do not meet. Its `type` is
/// one of two (see [`schema_step_response`]).
pub(super) const SCHEMA_STEP: ProblemKind = ProblemKind {
    status: 409,
    slug: "upgrade-required",
    component: "SchemaStep",
    when: "The app's schema step (`Offgen-Schema-Step`) is not served: older than the oldest \
           step the server serves (`upgrade-required`: update the app; nothing was applied), \
           or, on a push, newer than the server's (`schema-ahead`: the changes wait on the \
           device until the server is upgraded).",
};
pub(super) const GONE: ProblemKind = ProblemKind {
    status: 410,
    slug: "gone",
    component: "Gone",
    when: "The record was deleted.",
};
pub(super) const PRECONDITION_FAILED: ProblemKind = ProblemKind {
    status: 412,
    slug: "precondition-failed",
    component: "PreconditionFailed",
    when: "`If-Match` matches no current version: the record is stale or deleted.",
};
pub(super) const PAYLOAD_TOO_LARGE: ProblemKind = ProblemKind {
    status: 413,
    slug: "payload-too-large",
    component: "PayloadTooLarge",
    when: "More than 1,000 mutations or 8 MiB in one request.",
};
pub(super) const INVALID_DATA: ProblemKind = ProblemKind {
    status: 422,
    slug: "invalid-data",
    component: "InvalidData",
    when: "Field values the entity does not accept; `errors` says which.",
};
pub(super) const PRECONDITION_REQUIRED: ProblemKind = ProblemKind {
    status: 428,
    slug: "precondition-required",
    component: "PreconditionRequired",
    when: "No `If-Match` header.",
};
pub(super) const INTERNAL: ProblemKind = ProblemKind {
    status: 500,
    slug: "internal",
    component: "Internal",
    when: "An unexpected server error.",
};
pub(super) const UNAVAILABLE: ProblemKind = ProblemKind {
    status: 503,
    slug: "unavailable",
    component: "Unavailable",
    when: "The database cannot be reached.",
};

/// The errors shared by all entities, as `components.responses`. 412 is not among them: its
/// `record` has the entity's type.
pub(super) fn shared_responses() -> Map<String, Value> {
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
    .chain([(&SCHEMA_STEP, schema_step_extra(), &[][..])])
    .map(|(problem, extra, required)| {
        let mut response = problem_response(problem, extra, required);
        if problem.component == SCHEMA_STEP.component {
            response = schema_step_response(response);
        }
        if problem.status == UNAUTHORIZED.status {
            // RFC 9110 requires a challenge with every 401.
            response = with_headers(response, &["WWW-Authenticate"]);
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
        "https://offgen.dev/problems/upgrade-required",
        "https://offgen.dev/problems/schema-ahead",
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
    properties.insert("status".into(), json!({ "const": problem.status }));
    properties.extend(extra);
    let mut narrowed = Map::new();
    narrowed.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        narrowed.insert("required".into(), json!(required));
    }
    json!({
        "description": problem.when,
        "content": {
            PROBLEM_JSON: {
                "schema": { "allOf": [schema_ref("Problem"), Value::Object(narrowed)] },
            },
        },
    })
}
