//! One vocabulary for vehicle colours, body types and makes, whichever vendor named them.
//!
//! Lookups ignore case, spaces, dashes and underscores, so `Silver-Gray`, `silver_gray` and
//! `silver gray` are one key. A colour or body type missing from the tables gives no value,
//! because a free-text word that searches cannot rely on is worse than none.

/// Colours: the word a read carries, and every vendor word that means it. Silver and grey are
/// one colour because cameras cannot tell them apart at night and OpenALPR reports them as one
/// class.
const COLOURS: &[(&str, &[&str])] = &[
    ("black", &["black"]),
    ("white", &["white"]),
    (
        "grey",
        &[
            "grey",
            "gray",
            "silver",
            "silvergray",
            "silvergrey",
            "deepgray",
            "darkgray",
            "darkgrey",
            "lightgray",
            "lightgrey",
        ],
    ),
    ("red", &["red", "maroon", "burgundy", "darkred"]),
    (
        "blue",
        &["blue", "darkblue", "deepblue", "lightblue", "navy", "cyan"],
    ),
    ("green", &["green", "darkgreen"]),
    ("yellow", &["yellow"]),
    ("gold", &["gold"]),
    ("orange", &["orange"]),
    ("brown", &["brown", "tan", "beige", "bronze"]),
    ("purple", &["purple", "violet"]),
    ("pink", &["pink"]),
];

/// Body types: the word a read carries, and every vendor word that means it. `car` is a
/// passenger car of unknown body style.
const BODY_TYPES: &[(&str, &[&str])] = &[
    ("car", &["car", "passengercar", "automobile"]),
    (
        "sedan",
        &["sedan", "saloon", "sedanstandard", "sedancompact"],
    ),
    ("hatchback", &["hatchback"]),
    ("coupe", &["coupe"]),
    ("wagon", &["wagon", "estate", "stationwagon"]),
    ("convertible", &["convertible", "sedanconvertible"]),
    (
        "suv",
        &[
            "suv",
            "sportutility",
            "sportutilityvehicle",
            "crossover",
            "suvstandard",
            "suvcrossover",
        ],
    ),
    ("pickup", &["pickup", "pickuptruck", "truckstandard"]),
    ("van", &["van", "vanfull", "minibus"]),
    ("minivan", &["minivan", "vanmini", "mpv"]),
    (
        "truck",
        &[
            "truck",
            "lorry",
            "bigtruck",
            "heavytruck",
            "tractortrailer",
            "semi",
        ],
    ),
    ("bus", &["bus", "busstandard", "coach"]),
    ("motorcycle", &["motorcycle", "motorbike", "scooter"]),
];

/// Makes that vendors spell in more than one way. Other makes are kept, lower-cased.
const MAKE_ALIASES: &[(&str, &[&str])] = &[
    ("chevrolet", &["chevrolet", "chevy"]),
    (
        "mercedes-benz",
        &["mercedes", "mercedesbenz", "mercedes benz"],
    ),
    ("volkswagen", &["volkswagen", "vw"]),
    ("land rover", &["landrover", "land rover"]),
    ("alfa romeo", &["alfaromeo", "alfa romeo"]),
];

fn lookup_key(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn find(
    table: &'static [(&'static str, &'static [&'static str])],
    key: &str,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, aliases)| aliases.contains(&key))
        .map(|(word, _)| *word)
}

/// Returns the colour word for a vendor's colour name.
pub fn colour(vendor_name: &str) -> Option<&'static str> {
    find(COLOURS, &lookup_key(vendor_name))
}

/// Returns the body type word for a vendor's type name. A name such as OpenALPR's
/// `sedan-standard` that is not listed whole is looked up by its first part.
pub fn body_type(vendor_name: &str) -> Option<&'static str> {
    if let Some(word) = find(BODY_TYPES, &lookup_key(vendor_name)) {
        return Some(word);
    }
    let first_part = vendor_name.split(['-', '_']).next().unwrap_or("");
    find(BODY_TYPES, &lookup_key(first_part))
}

/// Returns a make in the vocabulary's spelling: lower case, words separated by one space, and
/// the usual aliases resolved. `None` for placeholders such as `-` or `unknown`.
pub fn make(vendor_name: &str) -> Option<String> {
    if crate::fields::is_placeholder(vendor_name) {
        return None;
    }
    let spaced = vendor_name
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let key = lookup_key(&spaced);
    let alias = MAKE_ALIASES
        .iter()
        .find(|(_, aliases)| aliases.iter().any(|alias| lookup_key(alias) == key))
        .map(|(word, _)| (*word).to_string());
    Some(alias.unwrap_or(spaced))
}

/// Returns a model in the vocabulary's spelling: lower case, `_` read as a space, and the make
/// removed from its front where the vendor joined them (OpenALPR's `honda_civic`).
pub fn model(vendor_name: &str, make: Option<&str>) -> Option<String> {
    if crate::fields::is_placeholder(vendor_name) {
        return None;
    }
    let spaced = vendor_name
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let without_make = match make {
        Some(make) => spaced
            .strip_prefix(make)
            .map(str::trim_start)
            .filter(|rest| !rest.is_empty())
            .unwrap_or(&spaced),
        None => &spaced,
    };
    Some(without_make.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_spellings_meet() {
        for name in [
            "grey",
            "Gray",
            "silver",
            "silver-gray",
            "deepGray",
            "SILVER_GREY",
        ] {
            assert_eq!(colour(name), Some("grey"), "{name}");
        }
        assert_eq!(colour("deepBlue"), Some("blue"));
        assert_eq!(colour("teal"), None);
    }

    #[test]
    fn body_type_spellings_meet() {
        for name in ["suv", "SUV", "sport utility", "suv-crossover"] {
            assert_eq!(body_type(name), Some("suv"), "{name}");
        }
        assert_eq!(body_type("sedan-standard"), Some("sedan"));
        assert_eq!(body_type("Pickup Truck"), Some("pickup"));
        assert_eq!(body_type("Big Truck"), Some("truck"));
        assert_eq!(body_type("hovercraft"), None);
    }

    #[test]
    fn makes_and_models_are_spelt_one_way() {
        assert_eq!(make("VW").as_deref(), Some("volkswagen"));
        assert_eq!(make("Mercedes Benz").as_deref(), Some("mercedes-benz"));
        assert_eq!(make("-"), None);
        assert_eq!(
            model("honda_civic", Some("honda")).as_deref(),
            Some("civic")
        );
        assert_eq!(model("Civic", Some("honda")).as_deref(), Some("civic"));
    }
}
