//! Plate regions as vendors send them (`us-ca`, `CA` with a known country, ISO 3166-1 alpha-3
//! or numeric countries beside a state), turned into the ISO 3166-2 code a read carries
//! (`US-CA`).
//!
//! A read's region is a subdivision, so a country alone gives no region. Well-formed codes this
//! table does not know also give none, and only a malformed value is an error.

use crate::VendorError;

/// ISO 3166-1 codes of the countries whose plates vendors most often report: alpha-2, alpha-3
/// and numeric. A country missing here is read as unknown, not as an error.
const COUNTRIES: &[(&str, &str, u16)] = &[
    ("AE", "ARE", 784),
    ("AR", "ARG", 32),
    ("AT", "AUT", 40),
    ("AU", "AUS", 36),
    ("BE", "BEL", 56),
    ("BG", "BGR", 100),
    ("BR", "BRA", 76),
    ("CA", "CAN", 124),
    ("CH", "CHE", 756),
    ("CL", "CHL", 152),
    ("CN", "CHN", 156),
    ("CO", "COL", 170),
    ("CZ", "CZE", 203),
    ("DE", "DEU", 276),
    ("DK", "DNK", 208),
    ("EE", "EST", 233),
    ("ES", "ESP", 724),
    ("FI", "FIN", 246),
    ("FR", "FRA", 250),
    ("GB", "GBR", 826),
    ("GR", "GRC", 300),
    ("HK", "HKG", 344),
    ("HR", "HRV", 191),
    ("HU", "HUN", 348),
    ("ID", "IDN", 360),
    ("IE", "IRL", 372),
    ("IL", "ISR", 376),
    ("IN", "IND", 356),
    ("IS", "ISL", 352),
    ("IT", "ITA", 380),
    ("JP", "JPN", 392),
    ("KR", "KOR", 410),
    ("LT", "LTU", 440),
    ("LU", "LUX", 442),
    ("LV", "LVA", 428),
    ("MX", "MEX", 484),
    ("MY", "MYS", 458),
    ("NL", "NLD", 528),
    ("NO", "NOR", 578),
    ("NZ", "NZL", 554),
    ("PH", "PHL", 608),
    ("PL", "POL", 616),
    ("PT", "PRT", 620),
    ("RO", "ROU", 642),
    ("SA", "SAU", 682),
    ("SE", "SWE", 752),
    ("SG", "SGP", 702),
    ("SI", "SVN", 705),
    ("SK", "SVK", 703),
    ("TH", "THA", 764),
    ("TR", "TUR", 792),
    ("TW", "TWN", 158),
    ("UA", "UKR", 804),
    ("US", "USA", 840),
    ("VN", "VNM", 704),
    ("ZA", "ZAF", 710),
];

/// Returns the alpha-2 code of a country given as alpha-2, alpha-3 or numeric code, in any
/// case. `Ok(None)` is a well-formed code that the table does not know.
pub fn country_alpha2(code: &str, field: &str) -> Result<Option<&'static str>, VendorError> {
    let code = code.trim().to_ascii_uppercase();
    let found = if code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_digit()) {
        let numeric: u16 = code.parse().unwrap_or(0);
        COUNTRIES.iter().find(|country| country.2 == numeric)
    } else if (2..=3).contains(&code.len()) && code.bytes().all(|byte| byte.is_ascii_uppercase()) {
        COUNTRIES
            .iter()
            .find(|country| country.0 == code || country.1 == code)
    } else {
        return Err(VendorError::new(
            field,
            format!("{code:?} is not an ISO 3166-1 country code (alpha-2, alpha-3 or numeric)"),
        ));
    };
    Ok(found.map(|country| country.0))
}

fn is_subdivision(code: &str) -> bool {
    (1..=3).contains(&code.len()) && code.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

/// Builds the region from a country and a subdivision given separately (Genetec's `State`,
/// Axis's `plateCountry` and `plateRegion`). A missing country falls back to
/// `default_country`; without either, or without a subdivision, the region is unknown.
pub fn from_parts(
    country: Option<&str>,
    subdivision: Option<&str>,
    default_country: Option<&str>,
    field: &str,
) -> Result<Option<String>, VendorError> {
    let Some(subdivision) = subdivision.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let subdivision = subdivision.to_ascii_uppercase();
    // Some vendors put the whole code (`US-CA`) in the state field.
    if subdivision.contains(['-', '_']) {
        return from_code(&subdivision, field);
    }
    if !is_subdivision(&subdivision) {
        return Err(VendorError::new(
            field,
            format!("{subdivision:?} is not a subdivision code such as CA"),
        ));
    }
    let country = match country.map(str::trim).filter(|text| !text.is_empty()) {
        Some(country) => country_alpha2(country, field)?,
        None => match default_country {
            Some(country) => country_alpha2(country, "default country")?,
            None => None,
        },
    };
    Ok(country.map(|country| format!("{country}-{subdivision}")))
}

/// Reads a combined code such as `us-ca`, `US_CA` or `USA-CA`. A code without a subdivision
/// (`us`, `gb`) names a country only and gives no region.
pub fn from_code(code: &str, field: &str) -> Result<Option<String>, VendorError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    match code.split_once(['-', '_']) {
        Some((country, subdivision)) => {
            if !is_subdivision(subdivision) {
                return Err(VendorError::new(
                    field,
                    format!("{code:?} is not a region code such as us-ca"),
                ));
            }
            Ok(country_alpha2(country, field)?.map(|country| format!("{country}-{subdivision}")))
        }
        None => {
            country_alpha2(&code, field)?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_codes_become_iso_3166_2() {
        assert_eq!(from_code("us-ca", "r"), Ok(Some("US-CA".into())));
        assert_eq!(from_code("USA-WA", "r"), Ok(Some("US-WA".into())));
        assert_eq!(from_code("gb", "r"), Ok(None));
        assert!(from_code("us-california", "r").is_err());
    }

    #[test]
    fn parts_use_the_default_country() {
        assert_eq!(
            from_parts(None, Some("ca"), Some("US"), "r"),
            Ok(Some("US-CA".into()))
        );
        assert_eq!(from_parts(None, Some("CA"), None, "r"), Ok(None));
        assert_eq!(
            from_parts(Some("CAN"), Some("ON"), Some("US"), "r"),
            Ok(Some("CA-ON".into()))
        );
        assert_eq!(
            from_parts(Some("484"), Some("JAL"), None, "r"),
            Ok(Some("MX-JAL".into()))
        );
        assert_eq!(from_parts(Some("SWE"), None, None, "r"), Ok(None));
    }

    #[test]
    fn unknown_country_is_not_an_error() {
        assert_eq!(country_alpha2("XYZ", "r"), Ok(None));
        assert_eq!(country_alpha2("999", "r"), Ok(None));
        assert!(country_alpha2("U$A", "r").is_err());
    }
}
