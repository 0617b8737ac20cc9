//! Confusion classes: groups of plate characters that OCR engines mistake for each other, such
//! as `0`, `O`, `D` and `Q`. The hotlist matcher and the read search both compare plates
//! through them, so they live here and both use the same configuration.

use serde::{Deserialize, Serialize};

/// Default confusion classes: characters that plate OCR engines commonly mistake for each other.
pub const DEFAULT_CONFUSION_CLASSES: [&str; 6] = ["0ODQ", "1IL", "2Z", "5S", "6G", "8B"];

const NO_CLASS: u8 = u8::MAX;

fn is_plate_character(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit()
}

/// Groups of characters that OCR confuses, each mapped to a representative (its first
/// character). Characters in no class represent themselves.
///
/// Deserialises from a list of class strings such as `["0ODQ", "1IL"]`, validated as in
/// [`ConfusionClasses::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ConfusionClasses {
    /// Class strings as configured, which match explanations quote.
    classes: Vec<String>,
    /// Representative of every byte, which is the byte itself when it is in no class.
    representative: [u8; 256],
    /// Index into `classes` of every byte, or `NO_CLASS`.
    class_index: [u8; 256],
    /// Distinct representatives of A–Z and 0–9, sorted: every value one position of a class key
    /// can take, so the values an unreadable position expands to.
    key_alphabet: Vec<u8>,
}

/// An invalid confusion class configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfusionClassError {
    #[error("confusion class `{class}` contains `{character}`; only A–Z and 0–9 are allowed")]
    InvalidCharacter { class: String, character: char },
    #[error("confusion class `{class}` has fewer than 2 characters, so it allows no substitution")]
    TooShort { class: String },
    #[error("character `{character}` appears twice in confusion class `{class}`")]
    Repeated { class: String, character: char },
    #[error(
        "character `{character}` is in confusion classes `{first}` and `{second}`; \
         a character may be in one class only"
    )]
    InTwoClasses {
        character: char,
        first: String,
        second: String,
    },
}

impl ConfusionClasses {
    /// Parses classes given as strings of their characters, such as `["0ODQ", "1IL"]`.
    pub fn parse<S: AsRef<str>>(classes: &[S]) -> Result<Self, ConfusionClassError> {
        let mut representative = [0u8; 256];
        for (byte, slot) in (0..=u8::MAX).zip(representative.iter_mut()) {
            *slot = byte;
        }
        let mut class_index = [NO_CLASS; 256];
        let mut stored: Vec<String> = Vec::with_capacity(classes.len());

        for class in classes {
            let class = class.as_ref();
            if class.chars().count() < 2 {
                return Err(ConfusionClassError::TooShort {
                    class: class.to_string(),
                });
            }
            // 36 characters fill at most 18 classes of 2, and a 19th class must repeat a
            // character, which fails below before the index could reach `NO_CLASS`.
            let index = stored.len() as u8;
            let mut first = None;
            for character in class.chars() {
                let byte = u8::try_from(character)
                    .ok()
                    .filter(|&byte| is_plate_character(byte))
                    .ok_or_else(|| ConfusionClassError::InvalidCharacter {
                        class: class.to_string(),
                        character,
                    })?;
                let previous = class_index[usize::from(byte)];
                if previous == index {
                    return Err(ConfusionClassError::Repeated {
                        class: class.to_string(),
                        character,
                    });
                }
                if previous != NO_CLASS {
                    return Err(ConfusionClassError::InTwoClasses {
                        character,
                        first: stored[usize::from(previous)].clone(),
                        second: class.to_string(),
                    });
                }
                let first = *first.get_or_insert(byte);
                class_index[usize::from(byte)] = index;
                representative[usize::from(byte)] = first;
            }
            stored.push(class.to_string());
        }

        let mut key_alphabet: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .map(|byte| representative[usize::from(byte)])
            .collect();
        key_alphabet.sort_unstable();
        key_alphabet.dedup();
        Ok(Self {
            classes: stored,
            representative,
            class_index,
            key_alphabet,
        })
    }

    /// Returns the distinct representatives of A–Z and 0–9, sorted: every value that one
    /// position of a class key can take.
    pub fn key_alphabet(&self) -> &[u8] {
        &self.key_alphabet
    }

    /// Returns the classes as configured.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Returns the class of `character`, or `None` when it is in no class.
    pub fn class_of(&self, character: char) -> Option<&str> {
        let byte = u8::try_from(character).ok()?;
        self.class_of_byte(byte)
    }

    /// Returns the representative of `character`: the first character of its class, or the
    /// character itself when it is in no class.
    pub fn representative(&self, character: char) -> char {
        match u8::try_from(character) {
            Ok(byte) => char::from(self.representative[usize::from(byte)]),
            Err(_) => character,
        }
    }

    /// Returns the class key of a plate: every character replaced by its representative. A read
    /// and an entry that differ only by substitutions have the same class key, which is what
    /// lets an index find OCR variants with one hash lookup.
    pub fn class_key(&self, plate: &str) -> String {
        plate.chars().map(|c| self.representative(c)).collect()
    }

    /// Returns the class of the byte `byte`, or `None` when it is in no class.
    pub fn class_of_byte(&self, byte: u8) -> Option<&str> {
        let index = self.class_index[usize::from(byte)];
        self.classes.get(usize::from(index)).map(String::as_str)
    }

    /// Returns true when two different bytes are in the same class, so one may stand for the
    /// other in an OCR-tolerant match.
    pub fn same_class(&self, left: u8, right: u8) -> bool {
        let index = self.class_index[usize::from(left)];
        index != NO_CLASS && index == self.class_index[usize::from(right)]
    }

    /// Returns the class key of a plate given as ASCII bytes, as [`ConfusionClasses::class_key`].
    pub fn class_key_bytes(&self, plate: &[u8]) -> Vec<u8> {
        plate
            .iter()
            .map(|&byte| self.representative[usize::from(byte)])
            .collect()
    }
}

impl Default for ConfusionClasses {
    fn default() -> Self {
        // The default classes are constants known to be valid; a test parses them.
        Self::parse(&DEFAULT_CONFUSION_CLASSES)
            .unwrap_or_else(|error| panic!("default confusion classes are invalid: {error}"))
    }
}

impl TryFrom<Vec<String>> for ConfusionClasses {
    type Error = ConfusionClassError;

    fn try_from(classes: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&classes)
    }
}

impl From<ConfusionClasses> for Vec<String> {
    fn from(classes: ConfusionClasses) -> Self {
        classes.classes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classes_parse() {
        let classes = ConfusionClasses::parse(&DEFAULT_CONFUSION_CLASSES).expect("valid defaults");
        assert_eq!(classes, ConfusionClasses::default());
        assert_eq!(classes.representative('Q'), '0');
        assert_eq!(classes.representative('L'), '1');
        assert_eq!(classes.representative('A'), 'A');
        assert_eq!(classes.class_of('S'), Some("5S"));
        assert_eq!(classes.class_of('A'), None);
        assert_eq!(classes.class_key("OQ1ZSGB7"), "00125687");
        // 36 characters minus the 9 that are not their class's representative.
        assert_eq!(classes.key_alphabet().len(), 27);
    }

    #[test]
    fn classes_reject_character_in_two_classes() {
        let error = ConfusionClasses::parse(&["0OD", "1IL", "DQ"]).expect_err("D twice");
        assert_eq!(
            error,
            ConfusionClassError::InTwoClasses {
                character: 'D',
                first: "0OD".into(),
                second: "DQ".into(),
            }
        );
        assert!(error.to_string().contains("`D`"), "{error}");
    }

    #[test]
    fn classes_reject_invalid_character() {
        let error = ConfusionClasses::parse(&["0o"]).expect_err("lower case");
        assert_eq!(
            error,
            ConfusionClassError::InvalidCharacter {
                class: "0o".into(),
                character: 'o',
            }
        );
        assert!(error.to_string().contains("`o`"), "{error}");
        assert!(ConfusionClasses::parse(&["0?"]).is_err());
        assert!(ConfusionClasses::parse(&["0Ö"]).is_err());
    }

    #[test]
    fn classes_reject_short_and_repeated() {
        assert_eq!(
            ConfusionClasses::parse(&["0"]),
            Err(ConfusionClassError::TooShort { class: "0".into() })
        );
        assert_eq!(
            ConfusionClasses::parse(&["0O0"]),
            Err(ConfusionClassError::Repeated {
                class: "0O0".into(),
                character: '0'
            })
        );
    }

    #[test]
    fn classes_deserialise_from_list() {
        let classes: ConfusionClasses =
            serde_json::from_str(r#"["0ODQ", "1IL"]"#).expect("valid classes");
        assert_eq!(classes.classes(), ["0ODQ", "1IL"]);
        let error = serde_json::from_str::<ConfusionClasses>(r#"["0O", "O1"]"#)
            .expect_err("O in two classes");
        assert!(error.to_string().contains("`O`"), "{error}");
    }
}
