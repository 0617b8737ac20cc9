//! Bearer tokens of users and cameras: made from the operating system's random source, shown
//! once, and stored only as a hash.
//!
//! The stored hash is a plain SHA-256. A slow password hash (Argon2, bcrypt) exists to make
//! guessing low-entropy human passwords expensive. These tokens hold 256 random bits, so no
//! guess list exists and a fast hash is enough. It also lets a request find its token by a
//! hash-table lookup instead of comparing with every stored hash.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use crate::RegistryError;

/// Prefix of user bearer tokens, so a token found in a log or a file shows what it gives access to.
pub const USER_TOKEN_PREFIX: &str = "alpr_user_";
/// Prefix of camera ingest tokens.
pub const CAMERA_TOKEN_PREFIX: &str = "alpr_camera_";

/// Random bytes in every token.
const TOKEN_RANDOM_BYTES: usize = 32;

/// A token just made: the text to hand over once, and the hash to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token as the user or camera sends it. Shown once and never stored.
    pub token: String,
    /// Hex SHA-256 of `token`, as the registry stores it.
    pub hash: String,
}

/// Makes a token of 32 random bytes from the operating system, encoded as URL-safe base64
/// after `prefix`.
pub fn generate_token(prefix: &str) -> Result<IssuedToken, RegistryError> {
    let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|error| RegistryError::Random(error.to_string()))?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    Ok(IssuedToken { token, hash })
}

/// Returns the lowercase hex SHA-256 of a token's text, prefix included.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("{digest:x}")
}

/// Extracts the token from an `Authorization: Bearer …` header value; the scheme is matched
/// without regard to case, as HTTP schemes are.
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_has_prefix_and_entropy() {
        let issued = generate_token(USER_TOKEN_PREFIX).expect("os random source");
        let random_part = issued
            .token
            .strip_prefix(USER_TOKEN_PREFIX)
            .expect("token starts with its prefix");
        let decoded = URL_SAFE_NO_PAD
            .decode(random_part)
            .expect("random part is URL-safe base64");
        assert_eq!(decoded.len(), TOKEN_RANDOM_BYTES);
    }

    #[test]
    fn generated_tokens_differ() {
        let first = generate_token(CAMERA_TOKEN_PREFIX).expect("os random source");
        let second = generate_token(CAMERA_TOKEN_PREFIX).expect("os random source");
        assert_ne!(first.token, second.token);
        assert_ne!(first.hash, second.hash);
    }

    #[test]
    fn stored_hash_is_sha256_of_token() {
        let issued = generate_token(USER_TOKEN_PREFIX).expect("os random source");
        assert_eq!(issued.hash, hash_token(&issued.token));
        assert_eq!(issued.hash.len(), 64);
        assert!(!issued.hash.contains(&issued.token));
    }

    #[test]
    fn hash_matches_known_sha256() {
        // SHA-256 of "abc" from FIPS 180-2, appendix B.1.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("Bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
        assert_eq!(bearer_token(None), None);
    }
}
