//! Entity tags and the `If-Match` / `If-None-Match` preconditions of RFC 9110 (sections 8.8.3
//! and 13.1). A record's entity tag is its version: `"7"`, always strong.

/// An entity tag: `"7"` or `W/"7"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` prefix.
    pub weak: bool,
    /// The characters between the quotes.
    pub opaque: String,
}

/// A parsed `If-Match` or `If-None-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags.
    Tags(Vec<EntityTag>),
}

/// The header value was not an entity-tag list or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// The entity tag of a record at `version`.
pub fn version_tag(version: i64) -> String {
    format!("\"{version}\"")
}

impl Precondition {
    /// Parses every line of the header (a field sent on several lines is one comma list).
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Precondition, Malformed> {
        let joined: Vec<&str> = lines.into_iter().collect();
        let text = joined.join(",");
        if text.trim() == "*" {
            return Ok(Precondition::Any);
        }
        let mut tags = Vec::new();
        let mut rest = text.as_str();
        loop {
            // Empty list elements and optional whitespace are allowed (RFC 9110 5.6.1).
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let (tag, after) = parse_tag(rest)?;
            tags.push(tag);
            let after = after.trim_start_matches([' ', '\t']);
            if !after.is_empty() && !after.starts_with(',') {
                return Err(Malformed(format!(
                    "expected `,` after an entity tag, found `{after}`"
                )));
            }
            rest = after;
        }
        if tags.is_empty() {
            return Err(Malformed("no entity tag".to_owned()));
        }
        Ok(Precondition::Tags(tags))
    }

    /// `If-Match`: the strong comparison, so a weak tag never matches; `*` matches any
    /// current record.
    pub fn matches_strong(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Precondition::Any => true,
            Precondition::Tags(tags) => tags.iter().any(|t| !t.weak && t.opaque == current),
        }
    }

    /// `If-None-Match`: the weak comparison (`W/"3"` and `"3"` are the same here).
    pub fn matches_weak(&self, version: i64) -> bool {
        let current = version.to_string();
        match self {
            Precondition::Any => true,
            Precondition::Tags(tags) => tags.iter().any(|t| t.opaque == current),
        }
    }
}

fn parse_tag(text: &str) -> Result<(EntityTag, &str), Malformed> {
    let (weak, quoted) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some(body) = quoted.strip_prefix('"') else {
        return Err(Malformed(format!(
            "an entity tag is quoted, as in \"3\"; found `{text}`"
        )));
    };
    let Some(end) = body.find('"') else {
        return Err(Malformed("unterminated entity tag".to_owned()));
    };
    let opaque = &body[..end];
    // etagc = %x21 / %x23-7E / obs-text: no space, no quote, no control characters.
    if let Some(bad) = opaque.chars().find(|c| (*c as u32) < 0x21 || *c == '\x7f') {
        return Err(Malformed(format!("entity tags cannot contain {bad:?}")));
    }
    Ok((
        EntityTag {
            weak,
            opaque: opaque.to_owned(),
        },
        &body[end + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Precondition, Malformed> {
        Precondition::parse([text])
    }

    #[test]
    fn lists_weak_tags_and_star_parse() {
        assert_eq!(parse("*").unwrap(), Precondition::Any);
        let tags = parse(" \"1\" , W/\"2\",,\"x-3\"").unwrap();
        assert_eq!(
            tags,
            Precondition::Tags(vec![
                EntityTag {
                    weak: false,
                    opaque: "1".into()
                },
                EntityTag {
                    weak: true,
                    opaque: "2".into()
                },
                EntityTag {
                    weak: false,
                    opaque: "x-3".into()
                },
            ])
        );
        let lines = Precondition::parse(["\"1\"", "\"7\""]).unwrap();
        assert!(lines.matches_strong(7));
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let weak = parse("W/\"3\"").unwrap();
        assert!(!weak.matches_strong(3));
        assert!(weak.matches_weak(3));
        let strong = parse("\"2\", \"3\"").unwrap();
        assert!(strong.matches_strong(3));
        assert!(!strong.matches_strong(4));
        assert!(parse("*").unwrap().matches_strong(99));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "3",
            "\"3",
            "W/3",
            "\"3\" \"4\"",
            "",
            " , ",
            "\"a b\"",
            "*, \"1\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_tag_of_a_version_is_quoted() {
        assert_eq!(version_tag(12), "\"12\"");
    }
}
