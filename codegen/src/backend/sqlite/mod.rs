//! SQLite expressions shared by the two back-ends that write SQLite: the device's and the
//! server's. Their tables store values alike, so they encode, decode and convert them alike.

pub mod convert;
pub mod json;

use crate::backend::literals::{double, sql_string};
use crate::model::DefaultValue;

/// A default as a SQLite literal of its column's storage (booleans as 0 and 1, datetimes as
/// epoch milliseconds, `json` as its text).
pub fn default_value(value: &DefaultValue) -> String {
    match value {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Json(s)
        | DefaultValue::Enum(s) => sql_string(s),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => i.to_string(),
        DefaultValue::Real(f) => double(*f),
        DefaultValue::Bool(b) => (if *b { "1" } else { "0" }).to_owned(),
    }
}
