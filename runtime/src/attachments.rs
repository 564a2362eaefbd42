//! Attachments (fields of type `attachment`): files a record refers to, kept apart from it.
//!
//! A record carries a small reference to its file (the content's SHA-256, its size in bytes
//! and its media type), never the bytes: the record syncs at once, and the file is uploaded
//! on its own, later, to `/attachments/<table>/<id>/<field>/<sha256>` (docs/protocol.md). The
//! server and the reference client share these definitions, so the two cannot disagree on
//! what a reference is or where its bytes live.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where the attachment routes start.
pub const PATH_PREFIX: &str = "/attachments";

/// The header every attachment answer carries: the largest file the server takes, in bytes.
/// A client reads it before sending a file, and sets aside one that can never be sent
/// instead of sending it in vain.
pub const MAX_BYTES_HEADER: &str = "Offgen-Attachment-Max-Bytes";

/// The longest media type accepted (RFC 6838 allows 127 characters on each side of the `/`).
pub const MAX_MEDIA_TYPE_LEN: usize = 255;

/// An attachment field's value: which file, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachmentRef {
    /// The SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Its media type (`image/jpeg`).
    pub media_type: String,
}

impl AttachmentRef {
    /// The reference in the wire's form, keys in their one order.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("sha256".into(), Value::from(self.sha256.clone()));
        map.insert("size".into(), Value::from(self.size));
        map.insert("mediaType".into(), Value::from(self.media_type.clone()));
        Value::Object(map)
    }

    /// A reference read from a wire value, checked.
    pub fn from_value(value: &Value) -> Result<AttachmentRef, String> {
        check(value)?;
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())
    }
}

/// The largest size a reference may state: 2^53, the largest integer every JSON reader holds
/// exactly.
pub const MAX_SIZE: u64 = 1 << 53;

/// Checks a wire value as an attachment reference: an object of exactly `sha256` (64
/// lowercase hex digits), `size` (a whole number of bytes) and `mediaType` (`type/subtype`).
pub fn check(value: &Value) -> Result<(), String> {
    const SHAPE: &str = "must be an attachment reference {\"sha256\", \"size\", \"mediaType\"}";
    let Value::Object(map) = value else {
        return Err(SHAPE.to_owned());
    };
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "sha256" | "size" | "mediaType"))
    {
        return Err(format!("{SHAPE}; `{key}` is not one of its keys"));
    }
    match map.get("sha256") {
        Some(Value::String(s)) if is_sha256(s) => {}
        _ => return Err(format!("{SHAPE}; sha256 must be 64 lowercase hex digits")),
    }
    match map.get("size").and_then(Value::as_u64) {
        Some(n) if n <= MAX_SIZE => {}
        _ => return Err(format!("{SHAPE}; size must be a whole number of bytes")),
    }
    match map.get("mediaType") {
        Some(Value::String(s)) if is_media_type(s) => {}
        _ => {
            return Err(format!(
                "{SHAPE}; mediaType must be a media type such as image/jpeg"
            ));
        }
    }
    Ok(())
}

/// A checked reference in its one form: keys in the order `sha256`, `size`, `mediaType`
/// (PostgreSQL's `jsonb` gives them back in another), so references compare and print alike
/// wherever they come from. Anything else is given back as it is.
pub fn canonical(value: Value) -> Value {
    match AttachmentRef::from_value(&value) {
        Ok(reference) => reference.to_value(),
        Err(_) => value,
    }
}

/// Whether `text` is a SHA-256 in the one form used: 64 lowercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `text` is a media type without parameters (`type/subtype`, RFC 6838's restricted
/// names): it is sent back as `Content-Type`, so nothing else may get into that header.
pub fn is_media_type(text: &str) -> bool {
    fn name(part: &str) -> bool {
        let mut bytes = part.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
            && part.len() <= 127
            && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    }
    text.len() <= MAX_MEDIA_TYPE_LEN
        && text
            .split_once('/')
            .is_some_and(|(kind, sub)| name(kind) && name(sub))
}

/// The path of an attachment's bytes on the server: `/attachments/<table>/<id>/<field>/<sha256>`
/// (table and field as on the wire; all four are URL-safe as they are).
pub fn path(table: &str, id: &str, field: &str, sha256: &str) -> String {
    format!("{PATH_PREFIX}/{table}/{id}/{field}/{sha256}")
}

/// The SHA-256 of a file's bytes as references name it, fed a piece at a time (a file is
/// never read whole into memory to be hashed).
#[cfg(any(feature = "server", feature = "client"))]
#[derive(Clone, Debug, Default)]
pub struct ContentHash(sha2::Sha256);

#[cfg(any(feature = "server", feature = "client"))]
impl ContentHash {
    /// An empty hash.
    pub fn new() -> ContentHash {
        ContentHash::default()
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hex(self) -> String {
        sha2::Digest::finalize(self.0)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SHA-256 of `bytes`, as references name it.
#[cfg(any(feature = "server", feature = "client"))]
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hash = ContentHash::new();
    hash.update(bytes);
    hash.hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn references_are_checked_strictly() {
        let good = json!({"sha256": HASH, "size": 4, "mediaType": "image/jpeg"});
        assert_eq!(check(&good), Ok(()));
        for bad in [
            json!("a string"),
            json!({"sha256": HASH, "size": 4}),
            json!({"sha256": HASH.to_uppercase(), "size": 4, "mediaType": "image/jpeg"}),
            json!({"sha256": &HASH[1..], "size": 4, "mediaType": "image/jpeg"}),
            json!({"sha256": HASH, "size": -1, "mediaType": "image/jpeg"}),
            json!({"sha256": HASH, "size": 1.5, "mediaType": "image/jpeg"}),
            json!({"sha256": HASH, "size": 4, "mediaType": "jpeg"}),
            json!({"sha256": HASH, "size": 4, "mediaType": "image/jpeg\r\nX-Evil: 1"}),
            json!({"sha256": HASH, "size": 4, "mediaType": "image/jpeg; q=1"}),
            json!({"sha256": HASH, "size": 4, "mediaType": "image/jpeg", "path": "/sdcard"}),
        ] {
            assert!(check(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_references_keep_one_key_order() {
        let stored = json!({"size": 4, "mediaType": "image/png", "sha256": HASH});
        assert_eq!(
            canonical(stored).to_string(),
            format!(r#"{{"sha256":"{HASH}","size":4,"mediaType":"image/png"}}"#)
        );
    }

    #[test]
    fn media_types_are_restricted_names() {
        for good in ["image/jpeg", "application/vnd.api+json", "text/plain"] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in [
            "",
            "/",
            "image/",
            "/jpeg",
            "image/jpeg/x",
            "ima ge/jpeg",
            "image/jpeg;a=b",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}
