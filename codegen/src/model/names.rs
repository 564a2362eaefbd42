//! Every spelling of a spec name, computed once.
//!
//! A spec name (`recordedAt`, `gps_lat`, `PatrolRoute`) is split into words and each target gets
//! its own convention: SQL and Rust fields use `snake_case`, Dart getters and JSON keys use
//! `lowerCamelCase`, Dart and Rust types use `UpperCamelCase`. Back-ends read these fields and never
//! convert case themselves, so two back-ends cannot disagree about a name.
//!
//! Word splitting is our own rule, not Drift's `recase` (which turns `photoURL` into `photo_u_r_l`):
//! we emit every SQL name explicitly (`.named(...)` in Dart), so Drift's defaults never apply.

use serde::{Deserialize, Serialize};

use crate::model::vocabulary::{DART_ENUM_MEMBERS, DART_RESERVED, RUST_KEYWORDS};

/// The spellings of one identifier from the spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    /// As written in the spec.
    pub spec: String,
    /// `snake_case`: SQL identifiers and Rust fields/modules.
    pub snake: String,
    /// `lowerCamelCase`: Dart getters and wire (JSON) keys.
    pub camel: String,
    /// `UpperCamelCase`: Dart and Rust type names.
    pub pascal: String,
}

impl Name {
    /// Computes every spelling of `spec`.
    pub fn new(spec: &str) -> Name {
        let words = split_words(spec);
        Name {
            spec: spec.to_owned(),
            snake: snake_case(&words),
            camel: camel_case(&words),
            pascal: pascal_case(&words),
        }
    }

    /// The SQL identifier (unquoted; every back-end quotes it).
    pub fn sql(&self) -> &str {
        &self.snake
    }

    /// The wire key in JSON payloads: the Dart getter name, as Drift's `toJson()` writes it.
    pub fn json(&self) -> &str {
        &self.camel
    }

    /// The Dart getter or variable name.
    pub fn dart(&self) -> &str {
        &self.camel
    }

    /// The Dart enum member: `lowerCamelCase`, with a trailing `_` where the name is a Dart
    /// reserved word or a member every enum already has (`final_`, `values_`).
    pub fn dart_enum_member(&self) -> String {
        let camel = self.camel.as_str();
        if DART_RESERVED.contains(&camel) || DART_ENUM_MEMBERS.contains(&camel) {
            format!("{camel}_")
        } else {
            self.camel.clone()
        }
    }

    /// The Rust field (or module) name: `snake_case`, raw where it is a keyword (`r#type`).
    /// Validation refuses the path keywords no raw identifier can spell (`self`, `crate`).
    pub fn rust_field(&self) -> String {
        if RUST_KEYWORDS.contains(&self.snake.as_str()) {
            format!("r#{}", self.snake)
        } else {
            self.snake.clone()
        }
    }

    /// The Rust enum variant: `UpperCamelCase`, with a trailing `_` for `Self` (the one
    /// keyword `UpperCamelCase` can spell, and no raw identifier can). No variant ends in `_`
    /// otherwise, so the escaped one cannot meet another.
    pub fn rust_variant(&self) -> String {
        if self.pascal == "Self" {
            "Self_".to_owned()
        } else {
            self.pascal.clone()
        }
    }

    /// `SCREAMING_SNAKE_CASE`: Rust statics and constants.
    pub fn rust_static(&self) -> String {
        self.snake.to_ascii_uppercase()
    }
}

/// Splits an identifier into words.
///
/// A word ends at `_`, before an uppercase letter that follows a lowercase letter or digit
/// (`gpsLat`, `sha256Hash`), and before the last capital of a run of capitals followed by a
/// lowercase letter (`HTTPLogs` -> `HTTP`, `Logs`). Digits stay with the word before them.
pub fn split_words(ident: &str) -> Vec<String> {
    let chars: Vec<char> = ident.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let starts_word = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower);
            if starts_word {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn snake_case(words: &[String]) -> String {
    words
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

fn capitalized(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn camel_case(words: &[String]) -> String {
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i == 0 {
            out.push_str(&word.to_ascii_lowercase());
        } else {
            out.push_str(&capitalized(word));
        }
    }
    out
}

fn pascal_case(words: &[String]) -> String {
    words.iter().map(|w| capitalized(w)).collect()
}

/// English plural of the last word of a snake_case name, for default table names
/// (`observation` -> `observations`, `patrol_route` -> `patrol_routes`, `entry` -> `entries`).
/// Irregular plurals are not guessed: a spec that wants `people` writes `table: people`.
pub fn pluralize_snake(snake: &str) -> String {
    let vowel = |c: char| "aeiou".contains(c);
    if snake.ends_with('s')
        || snake.ends_with('x')
        || snake.ends_with('z')
        || snake.ends_with("ch")
        || snake.ends_with("sh")
    {
        format!("{snake}es")
    } else if let Some(stem) = snake.strip_suffix('y')
        && stem
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphabetic() && !vowel(c))
    {
        format!("{stem}ies")
    } else {
        format!("{snake}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spellings(spec: &str) -> (String, String, String) {
        let n = Name::new(spec);
        (n.snake, n.camel, n.pascal)
    }

    #[test]
    fn camel_and_snake_spec_names_meet_in_the_same_spellings() {
        assert_eq!(spellings("gpsLat"), spellings("gps_lat"));
        assert_eq!(
            spellings("recordedAt"),
            (
                "recorded_at".into(),
                "recordedAt".into(),
                "RecordedAt".into()
            )
        );
    }

    #[test]
    fn acronyms_become_one_word() {
        assert_eq!(
            spellings("photoURL"),
            ("photo_url".into(), "photoUrl".into(), "PhotoUrl".into())
        );
        assert_eq!(split_words("HTTPLogs"), ["HTTP", "Logs"]);
        assert_eq!(split_words("ID"), ["ID"]);
    }

    #[test]
    fn digits_stay_with_the_word_before_them() {
        assert_eq!(split_words("sha256Hash"), ["sha256", "Hash"]);
        assert_eq!(split_words("address2Line"), ["address2", "Line"]);
        assert_eq!(Name::new("boundingBoxX1").snake, "bounding_box_x1");
    }

    #[test]
    fn single_capital_words_survive() {
        assert_eq!(
            spellings("accuracyM"),
            ("accuracy_m".into(), "accuracyM".into(), "AccuracyM".into())
        );
    }

    #[test]
    fn each_target_escapes_its_own_keywords() {
        assert_eq!(Name::new("type").rust_field(), "r#type");
        assert_eq!(Name::new("kind").rust_field(), "kind");
        assert_eq!(Name::new("self").rust_variant(), "Self_");
        assert_eq!(Name::new("Self").rust_variant(), "Self_");
        assert_eq!(Name::new("selfie").rust_variant(), "Selfie");
        assert_eq!(Name::new("final").dart_enum_member(), "final_");
        assert_eq!(Name::new("values").dart_enum_member(), "values_");
        assert_eq!(Name::new("draft").dart_enum_member(), "draft");
        assert_eq!(Name::new("patrol_routes").rust_static(), "PATROL_ROUTES");
    }

    #[test]
    fn entity_names_pluralize_their_last_word() {
        assert_eq!(pluralize_snake("observation"), "observations");
        assert_eq!(pluralize_snake("patrol_route"), "patrol_routes");
        assert_eq!(pluralize_snake("farm_entry"), "farm_entries");
        assert_eq!(pluralize_snake("status"), "statuses");
        assert_eq!(pluralize_snake("box"), "boxes");
        assert_eq!(pluralize_snake("survey"), "surveys");
    }
}
