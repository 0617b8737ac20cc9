use super::*;

fn exact() -> PolicySettings {
    PolicySettings::exact()
}

fn tolerant(max_substitutions: u8) -> PolicySettings {
    PolicySettings::ocr_tolerant(max_substitutions).expect("budget within the limit")
}

/// Expected outcome of one table row: `None` for no match, else the kind and the number of
/// substitutions.
type Expected = Option<(MatchKind, usize)>;

const EXACT: Expected = Some((MatchKind::Exact, 0));
const NO_MATCH: Expected = None;

fn ocr(substitutions: usize) -> Expected {
    Some((MatchKind::OcrVariant, substitutions))
}

fn partial(substitutions: usize) -> Expected {
    Some((MatchKind::Partial, substitutions))
}

fn wildcard(substitutions: usize) -> Expected {
    Some((MatchKind::Wildcard, substitutions))
}

/// (read, pattern, settings, expected outcome).
fn cases() -> Vec<(&'static str, &'static str, PolicySettings, Expected)> {
    vec![
        // Exact policy.
        ("7ABC123", "7ABC123", exact(), EXACT),
        ("7ABC123", "7ABC124", exact(), NO_MATCH),
        ("7ABC123", "7ABC1234", exact(), NO_MATCH),
        ("7ABC12", "7ABC123", exact(), NO_MATCH),
        ("1Z91164", "1291164", exact(), NO_MATCH),
        ("OAB123", "0AB123", exact(), NO_MATCH),
        ("8ABC123", "BABC123", exact(), NO_MATCH),
        // OCR-tolerant, one substitution per default class.
        ("1Z91164", "1291164", tolerant(1), ocr(1)),
        ("1291164", "1Z91164", tolerant(1), ocr(1)),
        ("OAB123", "0AB123", tolerant(1), ocr(1)),
        ("DAB123", "0AB123", tolerant(1), ocr(1)),
        ("QAB123", "OAB123", tolerant(1), ocr(1)),
        ("IAB123", "1AB123", tolerant(1), ocr(1)),
        ("LAB123", "IAB123", tolerant(1), ocr(1)),
        ("ABC5XY", "ABCSXY", tolerant(1), ocr(1)),
        ("ABC6XY", "ABCGXY", tolerant(1), ocr(1)),
        ("8ABC123", "BABC123", tolerant(1), ocr(1)),
        ("7ABC123", "7ABC123", tolerant(1), EXACT),
        // Characters of different classes, or of no class, never match.
        ("0AB123", "1AB123", tolerant(2), NO_MATCH),
        ("5AB123", "6AB123", tolerant(2), NO_MATCH),
        ("AAB123", "XAB123", tolerant(2), NO_MATCH),
        ("8AB123", "6AB123", tolerant(2), NO_MATCH),
        // The substitution budget.
        ("1Z9116G", "1291164", tolerant(2), NO_MATCH),
        ("IZ91164", "1291164", tolerant(1), NO_MATCH),
        ("IZ91164", "1291164", tolerant(2), ocr(2)),
        ("IZ9116G", "1291166", tolerant(2), NO_MATCH),
        ("OAB123", "0AB123", tolerant(0), NO_MATCH),
        // Partial reads: a read `?` matches any one entry character.
        ("7AB?123", "7ABC123", exact(), partial(0)),
        ("?AB?123", "7ABC123", exact(), partial(0)),
        ("7AB?12", "7ABC123", exact(), NO_MATCH),
        ("7AB?12O", "7ABC120", exact(), NO_MATCH),
        ("7AB?12O", "7ABC120", tolerant(1), partial(1)),
        ("?AB?1ZO", "7ABC120", tolerant(1), NO_MATCH),
        ("?AB?1ZO", "7ABC120", tolerant(2), partial(2)),
        // Pattern `?`: one unknown character, against any read character.
        ("7ABC123", "7AB?123", exact(), wildcard(0)),
        ("7AB?123", "7AB?123", exact(), wildcard(0)),
        ("7ABC123", "7AB?12", exact(), NO_MATCH),
        ("7ABC12B", "7AB?128", tolerant(1), wildcard(1)),
        ("7ABC12B", "7AB?128", exact(), NO_MATCH),
        // Pattern `*`: any run, the empty run included.
        ("7ABC123", "7ABC*", exact(), wildcard(0)),
        ("7ABC", "7ABC*", exact(), wildcard(0)),
        ("7ABC", "*7ABC", exact(), wildcard(0)),
        ("7ABC", "*7A*BC", exact(), wildcard(0)),
        ("XY7ABC123", "*ABC*", exact(), wildcard(0)),
        ("XY7ABC123", "*ABD*", exact(), NO_MATCH),
        ("7AB", "7ABC*", exact(), NO_MATCH),
        ("7A8C123", "*ABC*", exact(), NO_MATCH),
        ("7A8C123", "*ABC*", tolerant(1), wildcard(1)),
        ("7AB?123", "*ABC*", exact(), wildcard(0)),
        ("ABC", "A*B*C", exact(), wildcard(0)),
        ("AXXBYYC", "A*B*C", exact(), wildcard(0)),
        ("AXXBYY", "A*B*C", exact(), NO_MATCH),
        // Inputs outside the alphabets match nothing.
        ("7abc123", "7ABC123", exact(), NO_MATCH),
        ("7ABC-123", "7ABC*", exact(), NO_MATCH),
        ("7ABC*", "7ABC*", exact(), NO_MATCH),
        ("", "7ABC*", exact(), NO_MATCH),
        ("7ABC123", "", exact(), NO_MATCH),
    ]
}

#[test]
fn match_table() {
    let classes = ConfusionClasses::default();
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} rows", cases.len());
    for (read, pattern, settings, expected) in cases {
        let outcome = match_plate(read, pattern, &settings, &classes)
            .map(|plate_match| (plate_match.kind, plate_match.differences.len()));
        assert_eq!(
            outcome, expected,
            "read {read} against {pattern} under {settings:?}"
        );
    }
}

#[test]
fn ocr_variant_lists_its_difference() {
    let classes = ConfusionClasses::default();
    let plate_match = match_plate("1Z91164", "1291164", &tolerant(1), &classes)
        .expect("one substitution within 2Z");
    assert_eq!(plate_match.kind, MatchKind::OcrVariant);
    assert_eq!(
        plate_match.differences,
        vec![Difference {
            position: 1,
            read_char: 'Z',
            entry_char: '2',
            class: "2Z".into(),
        }]
    );
}

#[test]
fn exact_entry_rejects_every_ocr_variant() {
    let classes = ConfusionClasses::default();
    for read in ["0AB123", "OAB123", "DAB123", "QAB123"] {
        let outcome = match_plate(read, "0AB123", &exact(), &classes);
        if read == "0AB123" {
            assert!(outcome.is_some());
        } else {
            assert_eq!(outcome, None, "read {read}");
        }
    }
}

#[test]
fn difference_after_run_uses_read_position() {
    let classes = ConfusionClasses::default();
    let plate_match =
        match_plate("XY7A8C", "*ABC", &tolerant(1), &classes).expect("one substitution");
    assert_eq!(plate_match.differences.len(), 1);
    let difference = &plate_match.differences[0];
    assert_eq!(difference.position, 4);
    assert_eq!(difference.read_char, '8');
    assert_eq!(difference.entry_char, 'B');
    assert_eq!(difference.class, "8B");
}

#[test]
fn run_takes_cheapest_alignment() {
    let classes = ConfusionClasses::default();
    // `*0*` can sit on the `O` (one substitution) or on the `0` (none).
    let plate_match = match_plate("O0X", "*0*X", &tolerant(1), &classes).expect("matches");
    assert!(plate_match.differences.is_empty());
}

#[test]
fn three_runs_rejected_with_clear_message() {
    let error = validate_pattern("AB*C*D*").expect_err("three runs");
    assert_eq!(error, PatternError::TooManyRuns { count: 3 });
    assert_eq!(
        error.to_string(),
        "pattern has 3 `*`; at most 2 are allowed"
    );
}

#[test]
fn validate_pattern_cases() {
    assert_eq!(validate_pattern("7ABC123"), Ok(()));
    assert_eq!(validate_pattern("*AB*C"), Ok(()));
    assert_eq!(
        validate_pattern("AB?"),
        Err(PatternError::TooFewKnownCharacters { count: 2 })
    );
    assert_eq!(validate_pattern(""), Err(PatternError::Empty));
    assert_eq!(
        validate_pattern("*A*B"),
        Err(PatternError::TooFewKnownCharacters { count: 2 })
    );
    assert_eq!(
        validate_pattern("7AB-123"),
        Err(PatternError::InvalidCharacter {
            character: '-',
            position: 3
        })
    );
    assert_eq!(
        validate_pattern("7abc"),
        Err(PatternError::InvalidCharacter {
            character: 'a',
            position: 1
        })
    );
}

#[test]
fn custom_classes_change_matching() {
    let classes = ConfusionClasses::parse(&["AR"]).expect("valid");
    assert!(match_plate("RBC123", "ABC123", &tolerant(1), &classes).is_some());
    assert!(match_plate("OBC123", "0BC123", &tolerant(1), &classes).is_none());
}

#[test]
fn policy_rejects_budget_above_limit() {
    assert_eq!(
        PolicySettings::ocr_tolerant(3),
        Err(PolicyError { requested: 3 })
    );
    assert_eq!(
        PolicySettings::new(MatchPolicy::Exact, 3).map(|s| s.max_substitutions()),
        Ok(0)
    );
    assert!(PlateIndex::<String>::new(ConfusionClasses::default(), 3).is_err());
}

fn index() -> PlateIndex<&'static str> {
    PlateIndex::new(ConfusionClasses::default(), DEFAULT_MAX_SUBSTITUTIONS).expect("valid budget")
}

fn matched_ids(index: &PlateIndex<&'static str>, read: &str) -> Vec<&'static str> {
    let mut ids: Vec<_> = index.matches(read).iter().map(|found| *found.id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn index_finds_exact_and_ocr_entries() {
    let mut index = index();
    index
        .insert("exact", "1291164", MatchPolicy::Exact, 0)
        .expect("valid");
    index
        .insert("tolerant", "1291164", MatchPolicy::OcrTolerant, 0)
        .expect("valid");
    index
        .insert("other", "7ABC123", MatchPolicy::OcrTolerant, 0)
        .expect("valid");
    assert_eq!(index.len(), 3);

    assert_eq!(matched_ids(&index, "1291164"), ["exact", "tolerant"]);
    assert_eq!(matched_ids(&index, "1Z91164"), ["tolerant"]);
    assert!(matched_ids(&index, "IZ91164").is_empty());
    assert!(matched_ids(&index, "9999999").is_empty());
}

#[test]
fn index_finds_wildcard_entries() {
    let mut index = index();
    index
        .insert("prefix", "7AB*", MatchPolicy::Exact, 0)
        .expect("valid");
    index
        .insert("unknown", "7AB?123", MatchPolicy::Exact, 0)
        .expect("valid");
    assert_eq!(matched_ids(&index, "7ABC123"), ["prefix", "unknown"]);
    assert_eq!(matched_ids(&index, "7AB"), ["prefix"]);
    assert!(matched_ids(&index, "7A").is_empty());
    assert!(matched_ids(&index, "8ABC123").is_empty());
}

#[test]
fn index_partial_read_by_probes() {
    let mut index = index();
    index
        .insert("a", "7ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    index
        .insert("b", "7XBC1Z3", MatchPolicy::OcrTolerant, 0)
        .expect("valid");
    // Two unreadable characters stay within the probe limit.
    assert_eq!(matched_ids(&index, "7?BC1?3"), ["a", "b"]);
    assert_eq!(matched_ids(&index, "7?BC123"), ["a", "b"]);
    assert!(matched_ids(&index, "7?BC12?4").is_empty());
}

#[test]
fn index_partial_read_by_scan() {
    let mut index = index();
    index
        .insert("a", "7ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    index
        .insert("b", "7XBC1Z3", MatchPolicy::OcrTolerant, 0)
        .expect("valid");
    // Three unreadable characters need 27^3 probes, above the limit, so the index scans.
    assert!(index.scans_reads_with(3));
    assert_eq!(matched_ids(&index, "7??C?23"), ["a", "b"]);
    assert_eq!(matched_ids(&index, "???????"), ["a", "b"]);
    assert!(matched_ids(&index, "??????").is_empty());
}

#[test]
fn index_insert_replaces_and_remove_forgets() {
    let mut index = index();
    index
        .insert("e", "7ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    index
        .insert("e", "7ABC*", MatchPolicy::Exact, 0)
        .expect("valid");
    assert_eq!(index.len(), 1);
    assert_eq!(matched_ids(&index, "7ABC999"), ["e"]);

    assert_eq!(index.remove(&"e"), Some(0));
    assert_eq!(index.remove(&"e"), None);
    assert!(index.is_empty());
    assert!(matched_ids(&index, "7ABC123").is_empty());
    assert!(index.has_no_buckets());
}

#[test]
fn index_invalid_update_keeps_entry() {
    let mut index = index();
    index
        .insert("e", "7ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    let error = index
        .insert("e", "*A*B*C", MatchPolicy::Exact, 0)
        .expect_err("three runs");
    assert_eq!(error, PatternError::TooManyRuns { count: 3 });
    assert_eq!(matched_ids(&index, "7ABC123"), ["e"]);
}

#[test]
fn index_reuses_removed_slots() {
    let mut index = index();
    index
        .insert("a", "7ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    index.remove(&"a");
    index
        .insert("b", "8ABC123", MatchPolicy::Exact, 0)
        .expect("valid");
    assert_eq!(index.slots_allocated(), 1);
    assert_eq!(matched_ids(&index, "8ABC123"), ["b"]);
}

#[test]
fn index_ignores_invalid_reads() {
    let mut index = index();
    index
        .insert("a", "7ABC*", MatchPolicy::Exact, 0)
        .expect("valid");
    assert!(matched_ids(&index, "7abc123").is_empty());
    assert!(matched_ids(&index, "7ABC*").is_empty());
    assert!(matched_ids(&index, "").is_empty());
}
