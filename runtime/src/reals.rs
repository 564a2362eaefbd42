//! Doubles as JSON numbers, exactly: the one conversion both the server's and the devices'
//! SQLite use (through the SQL functions `offgen_real_json` and `offgen_real`), because
//! SQLite's own (`printf`, `CAST`, the JSON functions) are correctly rounded only for moderate
//! exponents, and the wire promises every finite double bit for bit (docs/protocol.md).

/// The shortest JSON number that reads back as `x`; `None` for an infinity or NaN, which JSON
/// has no number for.
pub fn to_json_number(x: f64) -> Option<String> {
    serde_json::Number::from_f64(x).map(|n| n.to_string())
}

/// The double a JSON number's text denotes (correctly rounded); `None` for text that is no
/// finite number.
pub fn from_json_number(text: &str) -> Option<f64> {
    // Rust's parser also takes `inf` and `NaN`, which are no JSON numbers.
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_double_comes_back_bit_for_bit() {
        for x in [
            0.0,
            -0.0,
            5e-324,
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MAX,
            f64::MIN_POSITIVE,
            -1.2345678901234567,
            1e20,
            0.1,
        ] {
            let text = to_json_number(x).unwrap();
            assert_eq!(
                from_json_number(&text).unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
        assert_eq!(to_json_number(-0.0).as_deref(), Some("-0.0"));
        assert_eq!(to_json_number(f64::NAN), None);
        for bad in ["inf", "NaN", "1e999", "x", ""] {
            assert_eq!(from_json_number(bad), None, "{bad}");
        }
    }
}
