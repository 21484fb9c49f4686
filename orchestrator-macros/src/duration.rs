//! Durations written as strings in attributes: `"30s"`, `"500ms"`, `"1m30s"`.

/// Parses `text` into nanoseconds. Accepts one or more `<integer><unit>`
/// parts, units `ns`, `us`, `ms`, `s`, `m`, `h`, optionally separated by
/// spaces.
pub(crate) fn parse_nanos(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(scale)?)?;
        rest = rest[unit_len..].trim_start();
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    #[test]
    fn durations_with_units_and_combinations_parse() {
        assert_eq!(parse_nanos("30s"), Some(30_000_000_000));
        assert_eq!(parse_nanos("500ms"), Some(500_000_000));
        assert_eq!(parse_nanos("1m 30s"), Some(90_000_000_000));
        assert_eq!(parse_nanos("2h"), Some(7_200_000_000_000));
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in [
            "",
            "3 parsecs",
            "s",
            "10",
            "1.5s",
            "-1s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_nanos(bad), None, "{bad}");
        }
    }
}
