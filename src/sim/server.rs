//! The simulator's HTTP face: the SimpleFIN `/accounts` endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Advance, State, USERNAME, lock};

type Shared = Arc<Mutex<State>>;

pub(super) async fn serve(listener: tokio::net::TcpListener, state: Shared) {
    // Every answer closes its connection, so each request passes the fault door (`fault.rs`).
    let app = Router::new()
        .route(super::ACCOUNTS_PATH, get(accounts))
        .with_state(state.clone())
        .layer(axum::middleware::map_response(close_connection));
    let (door, passed_on) = super::fault::front_door(listener, state);
    tokio::select! {
        () = door => {}
        served = axum::serve(passed_on, app).into_future() => {
            if let Err(e) = served {
                tracing::error!(error = %e, "the simulator stopped");
            }
        }
    }
}

async fn close_connection(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

async fn accounts(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let password = lock(&state).password.clone();
    if !authorised(&headers, &password) {
        return (StatusCode::FORBIDDEN, "access denied").into_response();
    }
    let start = start_date(query.get("start-date").map(String::as_str));
    let now = Utc::now();
    let mut state = lock(&state);
    if let Some(load) = state.load.as_mut() {
        let body = load.next_answer();
        state.requests.send_modify(|n| *n += 1);
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    if state.advance == Advance::OnRequest {
        state.apply_next(now);
    }
    let accounts = accounts_json(&state, start, now);
    let body = json!({ "errors": [], "accounts": accounts });
    // Counted once the answer is ready, so a watcher sees the step that this answer carries.
    state.requests.send_modify(|n| *n += 1);
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Where the transactions asked for start: the `start-date` query value, or the beginning of time.
pub(super) fn start_date(value: Option<&str>) -> DateTime<Utc> {
    value
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The `accounts` of an answer as the state stands: faults spoil this too.
pub(super) fn accounts_json(state: &State, start: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Value> {
    state
        .accounts
        .iter()
        .map(|a| {
            let transactions: Vec<Value> = a
                .transactions
                .iter()
                .filter(|t| t.posted >= start)
                .map(|t| {
                    json!({
                        "id": t.id,
                        "posted": t.posted.timestamp(),
                        "amount": t.amount.to_string(),
                        "description": t.description,
                        "payee": t.payee,
                        "pending": t.pending,
                        "transacted_at": t.posted.timestamp(),
                    })
                })
                .collect();
            json!({
                "org": { "domain": "sim.payguard.invalid", "name": "Simulated Bank" },
                "id": a.id,
                "name": a.name,
                "currency": a.currency,
                "balance": a.balance.to_string(),
                "available-balance": a.balance.to_string(),
                "balance-date": now.timestamp(),
                "transactions": transactions,
                "extra": {},
            })
        })
        .collect()
}

pub(super) fn authorised(headers: &HeaderMap, password: &str) -> bool {
    let expected = format!("{USERNAME}:{password}");
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .is_some_and(|decoded| decoded == expected.as_bytes())
}
