//! Plate patterns of searches and the regular expressions they become.
//!
//! A pattern is a plate with wildcards: `?` is exactly one character and `*` any run of
//! characters, the empty run included. Stored plates may hold `?` where the camera could not read
//! a character, and such a read must be found by a query that gives the full plate, so every
//! known character of the pattern also accepts a stored `?`. With the OCR-tolerant option, a
//! known character accepts every member of its confusion class as well.
//!
//! The regex is matched against the whole plate term, as Tantivy's regex query anchors it.

use alpr_schemas::confusion::ConfusionClasses;
use alpr_schemas::plate::{normalise_plate_pattern, ANY_RUN, UNREADABLE};

/// Minimum A–Z or 0–9 characters of a pattern. A pattern of only wildcards matches every plate
/// and walks the whole term dictionary, which a search without a plate does more cheaply.
pub const MIN_KNOWN_CHARACTERS: usize = 2;
/// Maximum length of a pattern, wildcards included. Plates are at most 8 to 10 characters long
/// in the regions alpr serves, so longer input is a mistake.
pub const MAX_PATTERN_LENGTH: usize = 16;

/// An invalid plate pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error(
        "plate pattern `{pattern}` has {known} known characters; at least \
         {MIN_KNOWN_CHARACTERS} of A–Z and 0–9 are needed"
    )]
    TooFewKnown { pattern: String, known: usize },
    #[error("plate pattern `{pattern}` is longer than {MAX_PATTERN_LENGTH} characters")]
    TooLong { pattern: String },
}

/// A validated plate pattern: normalised to A–Z, 0–9, `?` and `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatePattern {
    normalised: String,
}

impl PlatePattern {
    /// Parses a pattern as a person types it: case, spaces, dashes and dots are ignored, as in
    /// hotlist patterns, and consecutive `*` collapse into one.
    pub fn parse(raw: &str) -> Result<Self, PatternError> {
        let mut normalised = String::new();
        for character in normalise_plate_pattern(raw).chars() {
            if character == ANY_RUN && normalised.ends_with(ANY_RUN) {
                continue;
            }
            normalised.push(character);
        }
        let known = normalised
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .count();
        if known < MIN_KNOWN_CHARACTERS {
            return Err(PatternError::TooFewKnown {
                pattern: raw.to_string(),
                known,
            });
        }
        if normalised.chars().count() > MAX_PATTERN_LENGTH {
            return Err(PatternError::TooLong {
                pattern: raw.to_string(),
            });
        }
        Ok(Self { normalised })
    }

    /// Returns the normalised pattern.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }

    /// Returns true when the pattern has more known characters after its last wildcard than
    /// before its first one. A regex over reversed plates then skips more of the term
    /// dictionary than one over plates.
    pub fn is_better_reversed(&self) -> bool {
        let is_known = |c: &char| c.is_ascii_alphanumeric();
        let leading = self.normalised.chars().take_while(is_known).count();
        let trailing = self.normalised.chars().rev().take_while(is_known).count();
        trailing > leading
    }

    /// Returns the regex that matches every stored plate this pattern finds. With `classes`, a
    /// known character also matches the other members of its confusion class, with no limit on
    /// how many characters differ that way: a search casts a wider net than an alert.
    pub fn to_regex(&self, classes: Option<&ConfusionClasses>) -> String {
        regex_of(self.normalised.chars(), classes)
    }

    /// Returns the regex of the pattern read back to front, which matches the reversed text of
    /// every stored plate [`PlatePattern::to_regex`] matches.
    pub fn to_reversed_regex(&self, classes: Option<&ConfusionClasses>) -> String {
        regex_of(self.normalised.chars().rev(), classes)
    }
}

fn regex_of(pattern: impl Iterator<Item = char>, classes: Option<&ConfusionClasses>) -> String {
    let mut regex = String::new();
    for character in pattern {
        match character {
            UNREADABLE => regex.push('.'),
            ANY_RUN => regex.push_str(".*"),
            known => {
                regex.push('[');
                match classes.and_then(|classes| classes.class_of(known)) {
                    Some(class) => regex.push_str(class),
                    None => regex.push(known),
                }
                // `?` is a literal inside a character set.
                regex.push(UNREADABLE);
                regex.push(']');
            }
        }
    }
    regex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_like_hotlist_patterns() {
        let pattern = PlatePattern::parse(" 7ab-**12 ").expect("valid pattern");
        assert_eq!(pattern.as_str(), "7AB*12");
    }

    #[test]
    fn parse_rejects_too_few_known_characters() {
        let error = PlatePattern::parse("7*").expect_err("one known character");
        assert_eq!(
            error,
            PatternError::TooFewKnown {
                pattern: "7*".into(),
                known: 1
            }
        );
        assert!(error.to_string().contains("`7*`"), "{error}");
        assert!(PlatePattern::parse("-- ").is_err());
    }

    #[test]
    fn parse_rejects_long_pattern() {
        let error = PlatePattern::parse("ABCDEFGHIJKLMNOPQ").expect_err("17 characters");
        assert!(matches!(error, PatternError::TooLong { .. }), "{error}");
    }

    #[test]
    fn exact_regex_accepts_stored_unreadable() {
        let pattern = PlatePattern::parse("7?1*").expect("valid pattern");
        assert_eq!(pattern.to_regex(None), "[7?].[1?].*");
    }

    #[test]
    fn suffix_pattern_runs_reversed() {
        let suffix = PlatePattern::parse("*A12").expect("valid pattern");
        assert!(suffix.is_better_reversed());
        assert_eq!(suffix.to_reversed_regex(None), "[2?][1?][A?].*");
        let both_ends = PlatePattern::parse("7A*12").expect("valid pattern");
        assert!(!both_ends.is_better_reversed());
        let middle = PlatePattern::parse("7?C1?3").expect("valid pattern");
        assert!(!middle.is_better_reversed());
    }

    #[test]
    fn tolerant_regex_uses_whole_class() {
        let classes = ConfusionClasses::default();
        let pattern = PlatePattern::parse("0A5").expect("valid pattern");
        assert_eq!(pattern.to_regex(Some(&classes)), "[0ODQ?][A?][5S?]");
    }
}
