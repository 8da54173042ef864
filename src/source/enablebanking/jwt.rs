//! The bearer token on every Enable Banking request: a JWT the application signs itself with its
//! RSA private key, no token endpoint involved.
//!
//! The API reference ("JWT format and signature") fixes its shape: header `typ` "JWT", `alg`
//! "RS256" (the only one taken), `kid` the application id; claims `iss` "enablebanking.com",
//! `aud` "api.enablebanking.com", `iat` and `exp`, at most 24 hours apart. A token is signed for
//! an hour and reused until a few minutes before it ends. Never logged, never in an error.

use std::sync::{Mutex, PoisonError};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject as _};
use serde_json::json;

use crate::config::Secret;
use crate::source::SourceError;

pub const ISSUER: &str = "enablebanking.com";
pub const AUDIENCE: &str = "api.enablebanking.com";
/// How long a token is signed for: well inside the 24 hours the API allows.
const LIFETIME: TimeDelta = TimeDelta::hours(1);
/// A token this close to its end is signed again: a poll must not start with one that runs out
/// mid-way.
const MARGIN: TimeDelta = TimeDelta::minutes(5);

/// The application's key, and the token last signed with it.
pub(super) struct Signer {
    application_id: String,
    key: RsaKeyPair,
    held: Mutex<Option<Held>>,
}

#[derive(Clone)]
struct Held {
    token: Secret,
    issued: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl Signer {
    pub(super) fn new(application_id: &str, pem: &str) -> Result<Signer, String> {
        Ok(Signer { application_id: application_id.to_owned(), key: parse_key(pem)?, held: Mutex::default() })
    }

    /// A token good for a poll from `now`: the one held, or a new one.
    pub(super) fn token(&self, now: DateTime<Utc>) -> Result<Secret, SourceError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = held.as_ref()
            && h.issued <= now
            && now + MARGIN < h.until
        {
            return Ok(h.token.clone());
        }
        let until = now + LIFETIME;
        let token = self.sign(now, until)?;
        *held = Some(Held { token: token.clone(), issued: now, until });
        Ok(token)
    }

    fn sign(&self, issued: DateTime<Utc>, until: DateTime<Utc>) -> Result<Secret, SourceError> {
        let header = json!({ "typ": "JWT", "alg": "RS256", "kid": self.application_id });
        let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "iat": issued.timestamp(), "exp": until.timestamp() });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
            .map_err(|_| SourceError::Setup("cannot sign the Enable Banking token with the private key".into()))?;
        Ok(Secret::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }
}

/// The RSA private key in a PEM text (PKCS#8 `PRIVATE KEY`, as the control panel exports it, or
/// PKCS#1 `RSA PRIVATE KEY`, as older `openssl genrsa` writes). The words why not never quote the
/// text: it is the key.
pub(super) fn parse_key(pem: &str) -> Result<RsaKeyPair, String> {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        pem::Error::NoItemsFound => "holds no PEM private key (-----BEGIN PRIVATE KEY-----)".to_owned(),
        _ => "is not a well-formed PEM private key".to_owned(),
    })?;
    let key = match &der {
        PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
        _ => return Err("holds an EC private key, and Enable Banking signs with RSA".to_owned()),
    };
    key.map_err(|e| format!("holds a private key that is not a usable RSA key ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    fn pem() -> String {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
        let der = key.as_der().unwrap_or_else(|e| panic!("{e}"));
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap_or_default()).collect();
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000 + seconds, 0).unwrap_or_default()
    }

    fn part(token: &str, i: usize) -> Value {
        let text = token.split('.').nth(i).unwrap_or_default();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn a_token_is_signed_as_the_api_reference_says_and_kept_until_near_its_end() {
        let pem = pem();
        let signer = Signer::new("cf589be3-3755-465b-a8df-a90a16a31403", &pem).unwrap_or_else(|e| panic!("{e}"));
        let token = signer.token(at(0)).unwrap_or_else(|e| panic!("{e}"));
        let token = token.expose().unwrap_or_default().to_owned();
        assert_eq!(
            part(&token, 0),
            json!({"typ": "JWT", "alg": "RS256", "kid": "cf589be3-3755-465b-a8df-a90a16a31403"})
        );
        let claims = part(&token, 1);
        assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(ISSUER), Some(AUDIENCE)));
        assert_eq!(
            (claims["iat"].as_i64(), claims["exp"].as_i64()),
            (Some(at(0).timestamp()), Some(at(3600).timestamp()))
        );
        let (input, signature) = token.rsplit_once('.').unwrap_or_default();
        let public = parse_key(&pem).unwrap_or_else(|e| panic!("{e}")).public_key().as_ref().to_vec();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public).verify(input.as_bytes(), &signature).is_ok()
        );

        let same = |t: DateTime<Utc>| signer.token(t).ok().and_then(|s| s.expose().ok().map(str::to_owned));
        assert_eq!(same(at(3000)).as_deref(), Some(token.as_str()), "kept within the hour");
        assert_ne!(same(at(3400)).as_deref(), Some(token.as_str()), "signed again near the end");
    }

    #[test]
    fn a_key_that_is_not_an_rsa_private_key_is_named_never_quoted() {
        let cases = [
            ("", "holds no PEM private key"),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "holds no PEM private key"),
            (
                "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
                "not a usable RSA key",
            ),
        ];
        for (pem, expected) in cases {
            let error = parse_key(pem).map(drop).err().unwrap_or_default();
            assert!(error.contains(expected) && !error.contains("c2VjcmV0"), "{pem:?}: {error}");
        }
    }
}
