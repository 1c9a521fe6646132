//! The one parser of `Retry-After` (RFC 9110 §10.2.3), for single requests and for `$batch`
//! entries alike, so a hostile or buggy value is judged the same way everywhere.
//!
//! It never panics: `Duration::from_secs_f64` does on NaN, infinity and values beyond
//! `u64::MAX` seconds, which is exactly what a misbehaving server can send.

use std::time::Duration;

use serde_json::Value;

/// What a `Retry-After` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long (a date in the past is zero).
    Wait(Duration),
    /// Absent or not understood: the caller's own backoff applies.
    Unusable,
}

impl RetryAfter {
    pub fn duration(self) -> Option<Duration> {
        match self {
            RetryAfter::Wait(d) => Some(d),
            RetryAfter::Unusable => None,
        }
    }
}

/// Parses a header value: delay-seconds (an integer per RFC 9110; decimals are tolerated
/// because some gateways send them) or an HTTP-date, relative to `now`.
pub fn parse(value: &str, now: jiff::Timestamp) -> RetryAfter {
    let v = value.trim();
    if v.is_empty() {
        return RetryAfter::Unusable;
    }
    if let Ok(secs) = v.parse::<u64>() {
        return RetryAfter::Wait(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return seconds(secs);
    }
    // HTTP-date is the RFC 2822-like IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
    match jiff::fmt::rfc2822::parse(v) {
        Ok(zoned) => {
            let ms = zoned
                .timestamp()
                .as_millisecond()
                .saturating_sub(now.as_millisecond());
            RetryAfter::Wait(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
        }
        Err(_) => RetryAfter::Unusable,
    }
}

/// The `Retry-After` header of an HTTP answer.
pub fn from_response(headers: &reqwest::header::HeaderMap, now: jiff::Timestamp) -> RetryAfter {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map_or(RetryAfter::Unusable, |v| parse(v, now))
}

/// The `Retry-After` of a `$batch` entry's `headers` object, where Graph may give it as a
/// string or a number and under either capitalisation.
pub fn from_batch_headers(headers: Option<&Value>, now: jiff::Timestamp) -> RetryAfter {
    let Some(Value::Object(map)) = headers else {
        return RetryAfter::Unusable;
    };
    let value = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v);
    match value {
        Some(Value::String(s)) => parse(s, now),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => RetryAfter::Wait(Duration::from_secs(secs)),
            (None, Some(secs)) => seconds(secs),
            (None, None) => RetryAfter::Unusable,
        },
        _ => RetryAfter::Unusable,
    }
}

/// Fractional seconds: negative and NaN are not a wait; anything too large to represent
/// (infinity included) is as long as a wait can be, which any deadline then refuses.
fn seconds(secs: f64) -> RetryAfter {
    if secs.is_nan() || secs < 0.0 {
        return RetryAfter::Unusable;
    }
    RetryAfter::Wait(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> jiff::Timestamp {
        "2026-11-29T10:00:00Z".parse().expect("timestamp")
    }

    fn p(s: &str) -> RetryAfter {
        parse(s, now())
    }

    #[test]
    fn seconds_and_dates() {
        assert_eq!(p("0"), RetryAfter::Wait(Duration::ZERO));
        assert_eq!(p(" 7 "), RetryAfter::Wait(Duration::from_secs(7)));
        assert_eq!(p("1.5"), RetryAfter::Wait(Duration::from_millis(1500)));
        assert_eq!(p("999999"), RetryAfter::Wait(Duration::from_secs(999_999)));
        assert_eq!(
            p("Sun, 29 Nov 2026 10:00:30 GMT"),
            RetryAfter::Wait(Duration::from_secs(30))
        );
        // A date in the past means "now".
        assert_eq!(
            p("Sun, 06 Nov 1994 08:49:37 GMT"),
            RetryAfter::Wait(Duration::ZERO)
        );
    }

    #[test]
    fn hostile_values_never_panic() {
        assert_eq!(p(""), RetryAfter::Unusable);
        assert_eq!(p("garbage"), RetryAfter::Unusable);
        assert_eq!(p("-1"), RetryAfter::Unusable);
        assert_eq!(p("NaN"), RetryAfter::Unusable);
        assert_eq!(p("inf"), RetryAfter::Wait(Duration::MAX));
        assert_eq!(p("1e300"), RetryAfter::Wait(Duration::MAX));
        assert_eq!(p("18446744073709551616"), RetryAfter::Wait(Duration::MAX));
        assert_eq!(p("Mon, 99 Foo 2026 99:99:99 GMT"), RetryAfter::Unusable);
    }

    #[test]
    fn batch_headers_as_string_or_number() {
        let n = now();
        assert_eq!(
            from_batch_headers(Some(&json!({"Retry-After": "3"})), n),
            RetryAfter::Wait(Duration::from_secs(3))
        );
        assert_eq!(
            from_batch_headers(Some(&json!({"retry-after": 4})), n),
            RetryAfter::Wait(Duration::from_secs(4))
        );
        assert_eq!(
            from_batch_headers(Some(&json!({"Retry-After": 1e300})), n),
            RetryAfter::Wait(Duration::MAX)
        );
        assert_eq!(
            from_batch_headers(Some(&json!({"Retry-After": -2})), n),
            RetryAfter::Unusable
        );
        assert_eq!(
            from_batch_headers(Some(&json!({"Retry-After": null})), n),
            RetryAfter::Unusable
        );
        assert_eq!(
            from_batch_headers(Some(&json!([1])), n),
            RetryAfter::Unusable
        );
        assert_eq!(from_batch_headers(None, n), RetryAfter::Unusable);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_judged_without_panicking(s in ".{0,40}") {
            let _ = parse(&s, now());
        }

        #[test]
        fn any_number_is_judged_without_panicking(x in proptest::num::f64::ANY) {
            let _ = parse(&x.to_string(), now());
            let _ = from_batch_headers(Some(&json!({"Retry-After": x})), now());
        }
    }
}
