//! `grpc-timeout`: up to 8 ASCII digits and a unit (H, M, S, m, u, n).

use std::time::Duration;

const MAX_VALUE: u64 = 99_999_999;

/// Formats a timeout with the finest unit whose value fits in 8 digits.
pub(crate) fn format(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per_unit, unit) in units {
        // Round up so the peer never sees a shorter deadline than ours.
        let value = nanos.div_ceil(per_unit);
        if value <= u128::from(MAX_VALUE) {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX_VALUE}H")
}

/// Parses a `grpc-timeout` value; `None` when malformed.
pub(crate) fn parse(value: &[u8]) -> Option<Duration> {
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let duration = match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    };
    Some(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse(b"4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse(b"5m"), Some(Duration::from_millis(5)));
        assert_eq!(parse(b"6u"), Some(Duration::from_micros(6)));
        assert_eq!(parse(b"7n"), Some(Duration::from_nanos(7)));
        assert_eq!(parse(b"99999999S"), Some(Duration::from_secs(99_999_999)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"S",
            b"1",
            b"1x",
            b"123456789S",
            b"-1S",
            b"1.5S",
            b" 1S",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn formats_with_the_finest_fitting_unit() {
        assert_eq!(format(Duration::from_millis(1500)), "1500000u");
        assert_eq!(format(Duration::from_nanos(5)), "5n");
        assert_eq!(format(Duration::from_secs(100)), "100000m");
        assert_eq!(format(Duration::from_secs(1_000_000)), "1000000S");
        assert_eq!(format(Duration::from_secs(200_000_000)), "3333334M");
        assert_eq!(format(Duration::from_secs(u64::MAX)), "99999999H");
        for duration in [
            Duration::from_millis(1),
            Duration::from_secs(86_400),
            Duration::from_nanos(123_456_789),
        ] {
            let parsed = parse(format(duration).as_bytes()).unwrap();
            assert!(parsed >= duration);
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Peer bytes never panic; what parses is at most 8 digits and a unit.
        #[test]
        fn parse_never_panics(value in prop::collection::vec(any::<u8>(), 0..16)) {
            if parse(&value).is_some() {
                prop_assert!((2..=9).contains(&value.len()));
                prop_assert!(value[..value.len() - 1].iter().all(u8::is_ascii_digit));
            }
        }

        /// Header-shaped text: digits and a unit letter, any length.
        #[test]
        fn parse_matches_the_grammar(digits in "[0-9]{0,12}", unit in "[HMSmun xX]") {
            let value = format!("{digits}{unit}");
            let valid = (1..=8).contains(&digits.len()) && "HMSmun".contains(unit.as_str());
            prop_assert_eq!(parse(value.as_bytes()).is_some(), valid, "{}", value);
        }

        /// Formatting never shortens a deadline and always parses back.
        #[test]
        fn format_round_trips_upward(nanos in any::<u64>()) {
            let duration = Duration::from_nanos(nanos);
            let text = format(duration);
            let parsed = parse(text.as_bytes());
            prop_assert!(parsed.is_some(), "{}", text);
            prop_assert!(parsed.unwrap_or_default() >= duration, "{}", text);
        }
    }
}
