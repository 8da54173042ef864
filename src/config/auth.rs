//! `auth = { type = … }`: how an HTTP API wants its credentials, for every kind that calls one.

use serde::Deserialize;

use super::Secret;

#[derive(Debug, Clone)]
pub enum HttpAuth {
    None,
    Bearer(Secret),
    Basic { username: String, password: Secret },
    Header { name: String, value: Secret },
}

/// `auth` as written; a missing `auth` means no credentials too.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub enum RawAuth {
    None,
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
    Header { name: String, value: Secret },
}

impl RawAuth {
    pub fn into_auth(auth: Option<RawAuth>) -> HttpAuth {
        match auth {
            None | Some(RawAuth::None) => HttpAuth::None,
            Some(RawAuth::Bearer { token }) => HttpAuth::Bearer(token),
            Some(RawAuth::Basic { username, password }) => HttpAuth::Basic { username, password },
            Some(RawAuth::Header { name, value }) => HttpAuth::Header { name, value },
        }
    }
}
