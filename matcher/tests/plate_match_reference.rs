//! Checks `match_plate` and `PlateIndex` against a slow reference matcher written independently
//! of them: it tries every read variant within the substitution budget and matches each variant
//! with a plain recursive wildcard matcher.

use std::collections::BTreeSet;

use proptest::prelude::*;

use alpr_matcher::plate_match::{
    match_plate, validate_pattern, ConfusionClasses, PlateIndex, PolicySettings,
};
use alpr_schemas::{MatchKind, MatchPolicy};

/// Plate characters the tests draw from: rich in confusable characters, with `A`, `X` and `Y`
/// outside every class. `Y` is the last class representative in sort order, so a partial-read
/// probe that stops one representative early fails here.
const ALPHABET: &[char] = &[
    '0', 'O', 'D', 'Q', '1', 'I', 'L', '2', 'Z', '5', 'S', '8', 'B', '6', 'G', 'A', 'X', 'Y',
];

/// The default confusion classes, written out again so the reference does not use the code
/// under test.
const REFERENCE_CLASSES: [&str; 6] = ["0ODQ", "1IL", "2Z", "5S", "6G", "8B"];

fn class_containing(character: char) -> Option<&'static str> {
    REFERENCE_CLASSES
        .iter()
        .copied()
        .find(|class| class.contains(character))
}

/// Matches without OCR tolerance: `?` on either side matches one character, `*` in the pattern
/// matches any run.
fn plain_match(read: &[char], pattern: &[char]) -> bool {
    match (read.split_first(), pattern.split_first()) {
        (_, None) => read.is_empty(),
        (_, Some(('*', pattern_rest))) => {
            plain_match(read, pattern_rest)
                || (!read.is_empty() && plain_match(&read[1..], pattern))
        }
        (None, Some(_)) => false,
        (Some((read_char, read_rest)), Some((pattern_char, pattern_rest))) => {
            let pair_matches =
                *read_char == '?' || *pattern_char == '?' || read_char == pattern_char;
            pair_matches && plain_match(read_rest, pattern_rest)
        }
    }
}

/// Returns every variant of `read` in which exactly `count` known characters at positions from `from`
/// on are replaced by another character of their class.
fn variants(read: &[char], count: usize, from: usize) -> Vec<Vec<char>> {
    if count == 0 {
        return vec![read.to_vec()];
    }
    let mut all = Vec::new();
    for position in from..read.len() {
        let Some(class) = class_containing(read[position]) else {
            continue;
        };
        for replacement in class.chars().filter(|&c| c != read[position]) {
            let mut changed = read.to_vec();
            changed[position] = replacement;
            all.extend(variants(&changed, count - 1, position + 1));
        }
    }
    all
}

/// Returns the kind and the fewest substitutions of a match, or `None`.
fn reference_match(read: &str, pattern: &str, budget: usize) -> Option<(MatchKind, usize)> {
    let read_chars: Vec<char> = read.chars().collect();
    let pattern_chars: Vec<char> = pattern.chars().collect();
    let substitutions = (0..=budget).find(|&count| {
        variants(&read_chars, count, 0)
            .iter()
            .any(|variant| plain_match(variant, &pattern_chars))
    })?;
    let kind = if pattern.contains(['?', '*']) {
        MatchKind::Wildcard
    } else if read.contains('?') {
        MatchKind::Partial
    } else if substitutions > 0 {
        MatchKind::OcrVariant
    } else {
        MatchKind::Exact
    };
    Some((kind, substitutions))
}

fn reference_pattern_is_valid(pattern: &str) -> bool {
    let runs = pattern.chars().filter(|&c| c == '*').count();
    let known = pattern.chars().filter(char::is_ascii_alphanumeric).count();
    runs <= 2 && known >= 3
}

fn settings_for(policy: MatchPolicy, budget: u8) -> PolicySettings {
    PolicySettings::new(policy, budget).expect("budget within the limit")
}

/// A tag that differs between neighbouring ids, so a removal returning another entry's tag shows.
fn tag_of(id: usize) -> u16 {
    u16::try_from(id % 1_000).unwrap_or(0) + 1
}

fn budget_of(policy: MatchPolicy, budget: u8) -> usize {
    match policy {
        MatchPolicy::Exact => 0,
        MatchPolicy::OcrTolerant => usize::from(budget),
    }
}

fn plate_char() -> impl Strategy<Value = char> {
    proptest::sample::select(ALPHABET)
}

/// Longest generated read or pattern: past the ten characters the index packs into one word,
/// so its fallback for long plates is checked too.
const MAX_GENERATED_LEN: usize = 12;

fn read_strategy() -> impl Strategy<Value = String> {
    let read_char = prop_oneof![8 => plate_char(), 1 => Just('?')];
    proptest::collection::vec(read_char, 2..=MAX_GENERATED_LEN)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Generates patterns with at most two `*`, as import allows, by dropping every `*` after the
/// second.
fn pattern_strategy() -> impl Strategy<Value = String> {
    let pattern_char = prop_oneof![10 => plate_char(), 1 => Just('?'), 1 => Just('*')];
    proptest::collection::vec(pattern_char, 2..=MAX_GENERATED_LEN).prop_map(|chars| {
        let mut runs = 0;
        chars
            .into_iter()
            .filter(|&c| {
                runs += usize::from(c == '*');
                c != '*' || runs <= 2
            })
            .collect()
    })
}

fn policy_strategy() -> impl Strategy<Value = MatchPolicy> {
    prop_oneof![Just(MatchPolicy::Exact), Just(MatchPolicy::OcrTolerant)]
}

/// Builds a read close to `pattern`, so that matches are common: runs become 0–2 random
/// characters, pattern `?` a random character, and known characters stay, turn into a class
/// mate or become `?`. `choices` drives every random decision, and `unknown_per_ten` sets how
/// often a known character becomes `?`.
fn read_near(pattern: &str, choices: &[u8], unknown_per_ten: u8) -> String {
    let mut next = choices.iter().copied().cycle();
    let mut draw = move |bound: usize| usize::from(next.next().unwrap_or(0)) % bound.max(1);
    let mut read = String::new();
    for character in pattern.chars() {
        match character {
            '*' => {
                for _ in 0..draw(3) {
                    read.push(ALPHABET[draw(ALPHABET.len())]);
                }
            }
            '?' => read.push(ALPHABET[draw(ALPHABET.len())]),
            known => {
                let roll = draw(10);
                if roll < usize::from(unknown_per_ten) {
                    read.push('?');
                } else if roll < 7 {
                    read.push(known);
                } else {
                    let mates: Vec<char> = class_containing(known)
                        .map(|class| class.chars().collect())
                        .unwrap_or_else(|| vec![known]);
                    read.push(mates[draw(mates.len())]);
                }
            }
        }
    }
    if read.is_empty() {
        read.push(ALPHABET[draw(ALPHABET.len())]);
    }
    read
}

/// Checks that the differences of a match are real substitutions in read order.
fn check_differences(
    read: &str,
    pattern: &str,
    found: &alpr_matcher::plate_match::PlateMatch,
) -> Result<(), TestCaseError> {
    let read_chars: Vec<char> = read.chars().collect();
    let mut previous = None;
    for difference in &found.differences {
        prop_assert!(
            previous < Some(difference.position),
            "positions out of order"
        );
        previous = Some(difference.position);
        prop_assert_eq!(read_chars[difference.position], difference.read_char);
        prop_assert_ne!(difference.read_char, difference.entry_char);
        prop_assert!(pattern.contains(difference.entry_char));
        let class = class_containing(difference.read_char);
        prop_assert_eq!(class, class_containing(difference.entry_char));
        prop_assert_eq!(class, Some(difference.class.as_str()));
        if !pattern.contains('*') {
            let pattern_chars: Vec<char> = pattern.chars().collect();
            prop_assert_eq!(pattern_chars[difference.position], difference.entry_char);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn match_plate_agrees_with_reference(
        pattern in pattern_strategy(),
        random_read in read_strategy(),
        choices in proptest::collection::vec(any::<u8>(), 1..24),
        near in any::<bool>(),
        unknown_per_ten in 0u8..4,
        policy in policy_strategy(),
        budget in 0u8..=2,
    ) {
        let read = if near { read_near(&pattern, &choices, unknown_per_ten) } else { random_read };
        let classes = ConfusionClasses::default();
        let settings = settings_for(policy, budget);

        let found = match_plate(&read, &pattern, &settings, &classes);
        let expected = reference_match(&read, &pattern, budget_of(policy, budget));
        let outcome = found.as_ref().map(|m| (m.kind, m.differences.len()));
        prop_assert_eq!(outcome, expected, "read {} pattern {}", read, pattern);
        if let Some(found) = &found {
            check_differences(&read, &pattern, found)?;
        }
    }

    #[test]
    fn index_returns_reference_matches(
        entries in proptest::collection::vec((pattern_strategy(), policy_strategy()), 20),
        probes in proptest::collection::vec(
            (read_strategy(), any::<bool>(), 0usize..20, proptest::collection::vec(any::<u8>(), 1..24), 0u8..6),
            12,
        ),
        budget in 1u8..=2,
        removed_every in 2usize..5,
    ) {
        let mut index = PlateIndex::new(ConfusionClasses::default(), budget)
            .expect("budget within the limit");
        for (id, (pattern, policy)) in entries.iter().enumerate() {
            let inserted = index.insert(id, pattern, *policy, tag_of(id));
            prop_assert_eq!(inserted.is_ok(), reference_pattern_is_valid(pattern), "pattern {}", pattern);
            prop_assert_eq!(inserted.is_ok(), validate_pattern(pattern).is_ok());
        }
        let mut live: BTreeSet<usize> = (0..entries.len())
            .filter(|&id| reference_pattern_is_valid(&entries[id].0))
            .collect();
        prop_assert_eq!(index.len(), live.len());

        for round in 0..2 {
            for (random_read, near, entry, choices, unknown_per_ten) in &probes {
                let read = if *near {
                    read_near(&entries[*entry].0, choices, *unknown_per_ten)
                } else {
                    random_read.clone()
                };
                let expected: BTreeSet<usize> = live
                    .iter()
                    .copied()
                    .filter(|&id| {
                        let (pattern, policy) = &entries[id];
                        reference_match(&read, pattern, budget_of(*policy, budget)).is_some()
                    })
                    .collect();
                let found = index.matches(&read);
                let found_ids: Vec<usize> = found.iter().map(|m| *m.id).collect();
                let found_set: BTreeSet<usize> = found_ids.iter().copied().collect();
                prop_assert_eq!(found_ids.len(), found_set.len(), "an entry was returned twice");
                prop_assert_eq!(&found_set, &expected, "round {} read {}", round, read);
                for found in &found {
                    let (pattern, policy) = &entries[*found.id];
                    let expected = reference_match(&read, pattern, budget_of(*policy, budget));
                    let outcome = Some((found.plate_match.kind, found.plate_match.differences.len()));
                    prop_assert_eq!(outcome, expected);
                    prop_assert_eq!(found.pattern.as_str(), pattern.as_str());
                }
            }
            // Remove some entries and probe again, so removal is checked too.
            for id in (0..entries.len()).step_by(removed_every) {
                prop_assert_eq!(index.remove(&id), live.remove(&id).then(|| tag_of(id)));
            }
            prop_assert_eq!(index.len(), live.len());
        }
    }
}
