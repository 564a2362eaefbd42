//! Finding the parts of JSON text that is known to be valid (serde checked it when the page
//! was read): where each element of an array and each member of an object starts and ends,
//! without checking or decoding it again. A pull page's records are read this way once each.

/// The texts of the elements of the JSON array `text`, or `None` when it is not an array.
pub(crate) fn elements(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut i = skip_space(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_space(bytes, i + 1);
    if bytes.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(bytes, i);
        out.push(&text[i..end]);
        i = skip_space(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            _ => return Some(out),
        }
    }
}

/// The members of the JSON object `text`, each key as its JSON string's text (quotes
/// included) and each value as its text, into `out` (emptied first); false when `text` is
/// not an object.
pub(crate) fn members<'t>(text: &'t str, out: &mut Vec<(&'t str, &'t str)>) -> bool {
    out.clear();
    object_at(text, skip_space(text.as_bytes(), 0), out, None).is_some()
}

/// As [`members`], and the members of the object under the key `nested` (its JSON string
/// text, quotes included) into `inner` in the same pass; `inner` stays empty when that value
/// is no object or missing.
pub(crate) fn members_with<'t>(
    text: &'t str,
    out: &mut Vec<(&'t str, &'t str)>,
    nested: &str,
    inner: &mut Vec<(&'t str, &'t str)>,
) -> bool {
    out.clear();
    inner.clear();
    object_at(
        text,
        skip_space(text.as_bytes(), 0),
        out,
        Some((nested, inner)),
    )
    .is_some()
}

/// Reads the object at `start` into `out`; returns where it ends.
fn object_at<'t>(
    text: &'t str,
    start: usize,
    out: &mut Vec<(&'t str, &'t str)>,
    mut nested: Option<(&str, &mut Vec<(&'t str, &'t str)>)>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let mut i = skip_space(bytes, start + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        let key_end = string_end(bytes, i);
        let key = &text[i..key_end];
        i = skip_space(bytes, key_end) + 1; // past `:`
        i = skip_space(bytes, i);
        let end = match &mut nested {
            Some((name, inner)) if key == *name && bytes.get(i) == Some(&b'{') => {
                object_at(text, i, inner, None)?
            }
            _ => value_end(bytes, i),
        };
        out.push((key, &text[i..end]));
        i = skip_space(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            _ => return Some(i + 1),
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

/// Where the value starting at `start` ends.
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(b'"') => string_end(bytes, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            bytes.len()
        }
        // A number, true, false or null: up to the next delimiter.
        _ => {
            let mut i = start;
            while i < bytes.len()
                && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            i
        }
    }
}

/// Where the string whose opening quote is at `start` ends (past its closing quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    loop {
        i = next_quote_or_escape(bytes, i);
        match bytes.get(i) {
            // An escape: the next byte is never the closing quote.
            Some(b'\\') => i += 2,
            Some(_) => return i + 1,
            None => return bytes.len(),
        }
    }
}

/// The index of the first `"` or `\\` at or after `i` (or the length), eight bytes at a time:
/// most of a record is string content.
fn next_quote_or_escape(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const ESCAPES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    // A byte of `x` is zero: its bit in the result is set (and none before the first one is).
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = zero_bytes(word ^ QUOTES) | zero_bytes(word ^ ESCAPES);
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\\' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_in_any_valid_json() {
        let text = r#" [ {"a" : "x\"]}" , "b":[1,{"c":[]}] ,"d":-1.5e3}, true ,null,"[",{} ] "#;
        let found = elements(text).unwrap();
        assert_eq!(
            found,
            [
                r#"{"a" : "x\"]}" , "b":[1,{"c":[]}] ,"d":-1.5e3}"#,
                "true",
                "null",
                r#""[""#,
                "{}"
            ]
        );
        let mut out = Vec::new();
        assert!(members(found[0], &mut out));
        assert_eq!(
            out,
            [
                (r#""a""#, r#""x\"]}""#),
                (r#""b""#, r#"[1,{"c":[]}]"#),
                (r#""d""#, "-1.5e3")
            ]
        );
        assert!(members("{}", &mut out) && out.is_empty());
        let mut inner = Vec::new();
        assert!(members_with(found[0], &mut out, r#""b""#, &mut inner));
        assert_eq!(out.len(), 3);
        assert!(inner.is_empty(), "an array is no object");
        let record = r#"{"id":"x","data":{"a":1,"b":{"c":"}"}},"v":2}"#;
        assert!(members_with(record, &mut out, r#""data""#, &mut inner));
        assert_eq!(out[1], (r#""data""#, r#"{"a":1,"b":{"c":"}"}}"#));
        assert_eq!(out[2], (r#""v""#, "2"));
        assert_eq!(inner, [(r#""a""#, "1"), (r#""b""#, r#"{"c":"}"}"#)]);
        for text in [
            r#""""#,
            r#""0123456789abcdef\"xyz""#,
            r#""\\""#,
            r#""é\u00e9ü€ and more than eight""#,
        ] {
            assert_eq!(string_end(text.as_bytes(), 0), text.len(), "{text}");
            assert_eq!(
                string_end(format!("{text},1").as_bytes(), 0),
                text.len(),
                "{text}"
            );
        }
        assert!(!members("[]", &mut out));
        assert_eq!(elements("[]"), Some(vec![]));
        assert_eq!(elements("{}"), None);
        // Every element of a page serde reads is found the same.
        let page: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).unwrap();
        let texts: Vec<&str> = page.iter().map(|r| r.get()).collect();
        assert_eq!(texts, found);
    }
}
