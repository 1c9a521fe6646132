//! Manifest values parsed once, at validation: durations and dates that later stages use as
//! they are, so no stage downstream parses a manifest string again or drops a failure.

use std::fmt;

use serde::{Serialize, Serializer};

/// Why a manifest duration is not usable. The texts are the labels of validation's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("ISO 8601 durations start with `P`")]
    NotIso,
    #[error("{0}")]
    Syntax(String),
    #[error("the duration must be longer than zero")]
    NotPositive,
    #[error("use days, hours, minutes or seconds here (e.g. `P365D`), not years or months")]
    CalendarUnits,
    #[error("the duration is out of range")]
    OutOfRange,
}

/// Parses a positive ISO 8601 duration (`P365D`, `PT12H`, `P1Y2M`).
pub(crate) fn parse_duration(s: &str) -> Result<jiff::Span, DurationError> {
    if !s.starts_with('P') {
        return Err(DurationError::NotIso);
    }
    let span: jiff::Span = s
        .parse()
        .map_err(|e: jiff::Error| DurationError::Syntax(e.to_string()))?;
    if span.is_zero() || span.is_negative() {
        return Err(DurationError::NotPositive);
    }
    Ok(span)
}

/// A positive ISO 8601 duration of fixed length (no years or months, whose length depends on
/// the calendar): credential lifetimes and warning windows. Keeps the text as written, which is
/// what plans show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedDuration {
    text: String,
    length: std::time::Duration,
}

impl FixedDuration {
    pub(crate) fn parse(s: &str) -> Result<Self, DurationError> {
        let span = parse_duration(s)?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(DurationError::CalendarUnits);
        }
        let length = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .ok()
            .and_then(|d| std::time::Duration::try_from(d).ok())
            .ok_or(DurationError::OutOfRange)?;
        Ok(Self {
            text: s.to_string(),
            length,
        })
    }

    /// The length of the duration.
    pub fn get(&self) -> std::time::Duration {
        self.length
    }
}

impl fmt::Display for FixedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Serialised as written, so plans and `validate --explain` show the manifest's text.
impl Serialize for FixedDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Parses a calendar date written exactly as `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_durations_keep_their_text_and_length() {
        let d = FixedDuration::parse("P2D").unwrap();
        assert_eq!(d.get(), std::time::Duration::from_secs(2 * 86_400));
        assert_eq!(d.to_string(), "P2D");
        assert_eq!(serde_json::to_value(&d).unwrap(), "P2D");
        assert_eq!(
            FixedDuration::parse("P1Y"),
            Err(DurationError::CalendarUnits)
        );
        assert_eq!(FixedDuration::parse("2D"), Err(DurationError::NotIso));
    }

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert!(parse_date("2026-01-31").is_some());
        assert!(parse_date("2026-1-31").is_none());
        assert!(parse_date("2026-02-30").is_none());
    }
}
