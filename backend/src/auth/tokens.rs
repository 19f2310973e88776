use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::secrets::Key;

const ISSUER: &str = "overcast";
const AUDIENCE: &str = "overcast-api";

/// Claims of a console session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id, which never changes: a username can be given to a new account
    /// after a deletion, and the old account's tokens must not work for it.
    pub sub: String,
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// Token id, for revocation.
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is invalid: {0}")]
    Invalid(String),
    #[error("token has expired")]
    Expired,
}

/// Issues and checks HS256 session tokens. The algorithm is fixed on both sides, so a
/// token announcing `none` or another algorithm is refused.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenService {
    pub fn new(key: &Key, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        TokenService {
            encoding: EncodingKey::from_secret(key.bytes()),
            decoding: DecodingKey::from_secret(key.bytes()),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user_id: &str, role: &str, now_unix: u64) -> Result<String, TokenError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            role: role.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now_unix,
            nbf: now_unix,
            exp: now_unix + self.ttl.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| refusal(e.kind()))
    }
}

/// Why a bearer token was refused, in words for the person holding it: the library's
/// own texts (`InvalidToken`, `InvalidSignature`) name its internals, not the problem.
fn refusal(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    let why = match kind {
        ErrorKind::ExpiredSignature => return TokenError::Expired,
        ErrorKind::InvalidSignature => {
            "it was not signed by this console (another console's token, or the signing key changed)"
        }
        ErrorKind::ImmatureSignature => "it is not valid yet (is this machine's clock right?)",
        ErrorKind::InvalidIssuer
        | ErrorKind::InvalidAudience
        | ErrorKind::InvalidSubject
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingRequiredClaim(_) => "it is not a session token of this console",
        _ => "it is not a token this console issues (mistyped or cut short?)",
    };
    TokenError::Invalid(why.to_owned())
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(secret: &str) -> TokenService {
        TokenService::new(&Key::from_configured(secret), Duration::from_secs(60))
    }

    #[test]
    fn issued_tokens_verify() {
        let tokens = service("k");
        let token = tokens
            .issue("admin", "admin", unix_now())
            .unwrap_or_default();
        let claims = tokens.verify(&token).map_err(|e| e.to_string());
        assert_eq!(claims.map(|c| c.sub), Ok("admin".to_owned()));
    }

    #[test]
    fn refusals_say_what_is_wrong_in_words() {
        let tokens = service("k");
        let said = |token: &str| tokens.verify(token).err().map(|e| e.to_string());
        let garbage = said("not-a-token");
        assert_eq!(
            garbage.as_deref(),
            Some(
                "token is invalid: it is not a token this console issues (mistyped or cut short?)"
            )
        );
        let foreign = service("other")
            .issue("admin", "admin", unix_now())
            .unwrap_or_default();
        assert!(
            said(&foreign).is_some_and(|m| m.contains("not signed by this console")),
            "{:?}",
            said(&foreign)
        );
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let tokens = service("k");
        let old = tokens
            .issue("admin", "admin", unix_now() - 3600)
            .unwrap_or_default();
        assert!(matches!(tokens.verify(&old), Err(TokenError::Expired)));
        let foreign = service("other")
            .issue("admin", "admin", unix_now())
            .unwrap_or_default();
        assert!(matches!(
            tokens.verify(&foreign),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = unix_now();
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(format!(
            r#"{{"sub":"admin","role":"admin","iss":"overcast","aud":"overcast-api","iat":{now},"nbf":{now},"exp":{},"jti":"x"}}"#,
            now + 60
        ));
        assert!(service("k").verify(&format!("{header}.{body}.")).is_err());
    }

    fn forged(claims: serde_json::Value, algorithm: Algorithm, secret: &str) -> String {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(Key::from_configured(secret).bytes()),
        )
        .unwrap_or_default()
    }

    fn claims(now: u64) -> serde_json::Value {
        serde_json::json!({"sub": "admin", "role": "admin", "iss": ISSUER, "aud": AUDIENCE,
                           "iat": now, "nbf": now, "exp": now + 60, "jti": "x"})
    }

    #[test]
    fn tokens_with_other_claims_or_algorithms_are_refused() {
        let tokens = service("k");
        let now = unix_now();
        assert!(
            tokens
                .verify(&forged(claims(now), Algorithm::HS256, "k"))
                .is_ok(),
            "the control case verifies"
        );
        let mut future = claims(now);
        future["nbf"] = (now + 3600).into();
        future["exp"] = (now + 7200).into();
        assert!(
            tokens
                .verify(&forged(future, Algorithm::HS256, "k"))
                .is_err(),
            "not yet valid"
        );
        assert!(
            tokens
                .verify(&forged(claims(now), Algorithm::HS384, "k"))
                .is_err(),
            "another algorithm"
        );
        let mut audience = claims(now);
        audience["aud"] = "someone-else".into();
        assert!(
            tokens
                .verify(&forged(audience, Algorithm::HS256, "k"))
                .is_err(),
            "wrong audience"
        );
        let mut issuer = claims(now);
        issuer["iss"] = "keystone".into();
        assert!(
            tokens
                .verify(&forged(issuer, Algorithm::HS256, "k"))
                .is_err(),
            "wrong issuer"
        );
        let mut no_exp = claims(now);
        no_exp.as_object_mut().map(|m| m.remove("exp"));
        assert!(
            tokens
                .verify(&forged(no_exp, Algorithm::HS256, "k"))
                .is_err(),
            "no expiry"
        );
    }
}
