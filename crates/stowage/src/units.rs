//! Command-line quantities: sizes, byte rates and durations.

use std::time::Duration;

/// `123`, `64K`, `8M`, `1G` (binary multiples).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a size (e.g. 8M)"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("{text:?} is not a size from 1 byte up"))
}

/// A byte rate: `100M`, `100MB/s`, `1.5G`, `64Ki`, `250000`. `K`, `M`, `G` are decimal
/// (10³, 10⁶, 10⁹: `100M` is the 100 MB/s the harness reports), `Ki`, `Mi`, `Gi` binary; a
/// trailing `B`, `/s` or `B/s` is allowed. At least 1 byte per second.
pub(crate) fn parse_rate(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a byte rate (e.g. 100M for 100 MB/s, 64Ki)");
    let trimmed = text.trim();
    let rest = trimmed.strip_suffix("/s").unwrap_or(trimmed);
    let rest = rest.strip_suffix(['B', 'b']).unwrap_or(rest);
    let (number, multiplier) = split_unit(rest, |unit| match unit.to_ascii_lowercase().as_str() {
        "" => Some(1.0),
        "k" => Some(1e3),
        "m" => Some(1e6),
        "g" => Some(1e9),
        "ki" => Some(1024.0),
        "mi" => Some(1024.0 * 1024.0),
        "gi" => Some(1024.0 * 1024.0 * 1024.0),
        _ => None,
    })
    .ok_or_else(bad)?;
    let rate = (number * multiplier).round();
    if !(1.0..=u64::MAX as f64).contains(&rate) {
        return Err(format!("{text:?} is not a rate from 1 byte per second up"));
    }
    Ok(rate as u64)
}

/// A duration: `5ms`, `1.5s`, `250us`, `2m`, `0`; a bare number is milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (e.g. 5ms, 1.5s, 250us)");
    let (number, seconds) = split_unit(text.trim(), |unit| match unit {
        "us" | "µs" => Some(1e-6),
        "" | "ms" => Some(1e-3),
        "s" => Some(1.0),
        "m" => Some(60.0),
        _ => None,
    })
    .ok_or_else(bad)?;
    Duration::try_from_secs_f64(number * seconds).map_err(|_| bad())
}

/// `text` as a non-negative number followed by a unit that `unit` knows, as (number,
/// multiplier).
fn split_unit(text: &str, unit: impl Fn(&str) -> Option<f64>) -> Option<(f64, f64)> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some((number, unit(suffix.trim())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn rates() {
        for (text, rate) in [
            ("100M", 100_000_000),
            ("100MB/s", 100_000_000),
            ("100 mb", 100_000_000),
            ("1.5G", 1_500_000_000),
            ("64Ki", 65_536),
            ("2MiB/s", 2 << 20),
            ("250000", 250_000),
            ("7/s", 7),
        ] {
            assert_eq!(parse_rate(text), Ok(rate), "{text}");
        }
        for bad in ["", "M", "0", "0.1", "-5M", "5X", "1e3"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        for (text, duration) in [
            ("5ms", Duration::from_millis(5)),
            ("5", Duration::from_millis(5)),
            ("1.5s", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
            ("2m", Duration::from_secs(120)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
        for bad in ["", "ms", "-5ms", "5h", "1e9999s", "5 s s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
