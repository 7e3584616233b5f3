//! Wall-clock timestamps as AIStore writes them: RFC 3339 with up to nanoseconds, and Go's
//! zero time.

use std::fmt;

/// A UTC time: whole seconds since the Unix epoch and a nanosecond fraction.
///
/// Unlike a machine [`Instant`](crate::Instant) (a count since an epoch the driver
/// picks), this is a calendar time reported by the cluster, such as a job's end time. It spans
/// years 0 to 9999 and beyond both ways (Go's zero time, year 1, is
/// [`Timestamp::GO_ZERO`]).
///
/// Invariant: `nanos < 1_000_000_000`, so the derived ordering is chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// Why a string is not an RFC 3339 time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 time {value:?}: {reason}")]
pub struct TimestampError {
    /// The string (cut to 64 bytes).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
const UNIX_EPOCH_DAYS: i64 = 719_468;

impl Timestamp {
    /// Go's zero `time.Time`, `0001-01-01T00:00:00Z`: what AIStore reports for a time that
    /// has not happened (a job that has not ended).
    pub const GO_ZERO: Timestamp = Timestamp { secs: -62_135_596_800, nanos: 0 };
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// The time `nanos` nanoseconds after the Unix epoch (before it when negative).
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp { secs: nanos.div_euclid(NANOS_PER_SEC), nanos: nanos.rem_euclid(NANOS_PER_SEC) as u32 }
    }

    /// `secs` seconds and `nanos` nanoseconds after the Unix epoch; `None` if `nanos` is not
    /// below one second.
    pub const fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        if nanos < NANOS_PER_SEC as u32 { Some(Timestamp { secs, nanos }) } else { None }
    }

    /// Whole seconds since the Unix epoch (negative before it).
    pub const fn unix_secs(self) -> i64 {
        self.secs
    }

    /// The nanoseconds past [`unix_secs`](Timestamp::unix_secs).
    pub const fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// Nanoseconds since the Unix epoch (an `i128`: Go's zero time does not fit an `i64`).
    pub const fn unix_nanos(self) -> i128 {
        self.secs as i128 * NANOS_PER_SEC as i128 + self.nanos as i128
    }

    /// Whether this is Go's zero time.
    pub fn is_go_zero(self) -> bool {
        self == Self::GO_ZERO
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the form Go's `RFC3339Nano` writes
    /// (`t`, `z` and a space for `T` are accepted too). Digits of the fraction past the
    /// ninth are ignored; a leap second (`:60`) is refused, as Go refuses it.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError { value: s.chars().take(64).collect(), reason };
        let b = s.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            b[range].iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
        };
        let seps =
            b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' && b[16] == b':';
        if !seps {
            return Err(fail("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) =
            (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19))
        else {
            return Err(fail("expected digits"));
        };
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(fail("no such date"));
        }
        if hour > 23 || min > 59 || sec > 59 {
            return Err(fail("no such time of day"));
        }
        let mut at = 19;
        let mut nanos = 0u32;
        if b[at] == b'.' {
            at += 1;
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(fail("empty fraction of a second"));
            }
            for (i, &c) in b[at..at + digits].iter().enumerate().take(9) {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
            at += digits;
        }
        let offset_secs = match &b[at..] {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(fail("malformed offset"));
                }
                let [h1, h2, m1, m2] = digits.map(|c| i64::from(c - b'0'));
                let (h, m) = (h1 * 10 + h2, m1 * 10 + m2);
                if h > 23 || m > 59 {
                    return Err(fail("malformed offset"));
                }
                let secs = h * 3600 + m * 60;
                if *sign == b'-' { -secs } else { secs }
            }
            _ => return Err(fail("expected Z or ±HH:MM after the seconds")),
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
        Ok(Timestamp { secs, nanos })
    }
}

/// Formats as Go's `RFC3339Nano` in UTC: `2026-11-23T17:43:05.5Z` (trailing zeros of the
/// fraction dropped, no fraction for whole seconds). Parsing the output gives the same value.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let (hour, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}")?;
        if self.nanos != 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - UNIX_EPOCH_DAYS
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + UNIX_EPOCH_DAYS;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time() {
        assert_eq!(Timestamp::parse_rfc3339("0001-01-01T00:00:00Z"), Ok(Timestamp::GO_ZERO));
        assert_eq!(Timestamp::GO_ZERO.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn nanoseconds_and_offsets() {
        let t = Timestamp::parse_rfc3339("2026-11-23T17:43:05.123456789Z").unwrap();
        assert_eq!(t.unix_nanos(), 1_795_455_785_123_456_789);
        assert_eq!(t.to_string(), "2026-11-23T17:43:05.123456789Z");
        let shifted = Timestamp::parse_rfc3339("2026-11-23T18:43:05.123456789+01:00").unwrap();
        assert_eq!(shifted, t);
        let short = Timestamp::parse_rfc3339("2026-11-23T17:43:05.5z").unwrap();
        assert_eq!(short.to_string(), "2026-11-23T17:43:05.5Z");
        assert_eq!(Timestamp::from_unix_nanos(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T23:59:60Z",
            "2026-11-23T17:43:05",
            "2026-11-23T17:43:05.Z",
            "2026-11-23T17:43:05+1:00",
            "2026-11-23T17:43:05Z junk",
            "２０２６-11-23T17:43:05Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
