//! Faults: the simulator answering `/accounts` the way a broken bank does, for one request each.
//!
//! [`Simulator::inject`](super::Simulator::inject) queues [`Fault`]s; the next authorised
//! `/accounts` request gets the first of them instead of the normal answer, and normal service
//! resumes once the queue is empty. Some faults are about bytes on the wire (a body cut short,
//! trickled or endless) that an HTTP framework will not send, so every connection comes in through
//! a front door here: it reads the request head, answers a faulted request itself on the raw
//! socket, and passes every other connection on, head replayed, to the axum server. Normal answers
//! close their connection, so a pooled client connection cannot slip past the door.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{State, lock, server};

/// One way a bank's `/accounts` answer goes wrong. Account faults name the script account they
/// spoil; for an account the script lacks they leave the normal answer as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 Internal Server Error.
    InternalError,
    /// HTTP 502 Bad Gateway, as a proxy in front of a dead bridge answers.
    BadGateway,
    /// HTTP 429 Too Many Requests, with `Retry-After` asking for this many seconds of quiet.
    RateLimited { retry_after: u64 },
    /// HTTP 403 Forbidden: the credentials were revoked.
    Forbidden,
    /// Reads the request and never answers; the connection stays open until the client hangs up.
    Hang,
    /// The normal answer one byte every `every`: headers at once, a body slower than any timeout.
    SlowDrip { every: Duration },
    /// The first half of the normal answer under a `Content-Length` for all of it, then a close.
    ShortBody,
    /// The first half of the normal answer as a complete body: JSON that stops mid-way.
    CutJson,
    /// A 200 answer of `bytes` bytes (an opened object, then spaces), streamed without a
    /// `Content-Length` and never held in memory.
    Huge { bytes: u64 },
    /// The account's `balance` as an object (`{"amount": "…", "currency": "…"}`).
    BalanceObject { account: String },
    /// The account's `transactions` as a string.
    TransactionsString { account: String },
    /// The account's `balance` as this raw JSON text, valid or not: `1e400`, `NaN`, `"1e400"`.
    RawBalance { account: String, json: String },
    /// One more transaction on the account, whose `amount` is this raw JSON text, valid or not.
    RawAmount { account: String, json: String },
    /// Every transaction of the account listed twice, same id and all.
    DuplicateIds { account: String },
    /// `"accounts": []`: the bridge lists no accounts at all.
    NoAccounts,
    /// A SimpleFIN `errlist` with one entry (`gen.auth`, `con.down`, …) and no `accounts`.
    ErrList { code: String, msg: String },
}

type Shared = Arc<Mutex<State>>;

/// The longest request head the door reads before it gives up and passes the connection on.
const MAX_HEAD: usize = 16 * 1024;

/// A connection whose first bytes the front door has read: they are replayed before the rest.
pub(super) struct Replayed {
    head: Vec<u8>,
    at: usize,
    tcp: TcpStream,
}

/// The connections the front door passes on, as a listener `axum::serve` accepts from.
pub(super) struct PassedOn {
    connections: mpsc::Receiver<(Replayed, SocketAddr)>,
    addr: Option<SocketAddr>,
}

/// Splits `listener` into the front door (a future that accepts connections for as long as it is
/// polled) and the listener the axum server takes what it passes on from.
pub(super) fn front_door(listener: TcpListener, state: Shared) -> (impl Future<Output = ()> + Send, PassedOn) {
    let (pass_on, connections) = mpsc::channel(64);
    let addr = listener.local_addr().ok();
    (accept(listener, state, pass_on), PassedOn { connections, addr })
}

async fn accept(listener: TcpListener, state: Shared, pass_on: mpsc::Sender<(Replayed, SocketAddr)>) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                tokio::spawn(triage(tcp, peer, state.clone(), pass_on.clone()));
            }
            Err(e) => {
                // Out of file descriptors, most likely: give the system a moment rather than spin.
                tracing::warn!(error = %e, "the simulator cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What the door needs of a request: where it goes and whether it carries the credentials.
struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
}

impl Request {
    fn is_authorised_accounts(&self, password: &str) -> bool {
        let path = self.target.split('?').next().unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Some(value) = self.authorization.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::AUTHORIZATION, value);
        }
        self.method == "GET" && path == super::ACCOUNTS_PATH && server::authorised(&headers, password)
    }

    fn start_date(&self) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == "start-date").map(|(_, v)| v)
    }
}

async fn triage(mut tcp: TcpStream, peer: SocketAddr, state: Shared, pass_on: mpsc::Sender<(Replayed, SocketAddr)>) {
    let mut head = Vec::new();
    let password = lock(&state).password.clone();
    let request = read_head(&mut tcp, &mut head).await.filter(|r| r.is_authorised_accounts(&password));
    let fault = request.as_ref().and_then(|_| {
        let mut state = lock(&state);
        let fault = state.faults.pop_front();
        if fault.is_some() {
            // Counted as it is answered, like a normal answer, so watchers see the fault in play.
            state.requests.send_modify(|n| *n += 1);
        }
        fault
    });
    match (fault, request) {
        (Some(fault), Some(request)) => {
            tracing::debug!(?fault, "the simulator answers with a fault");
            if let Err(e) = answer(&mut tcp, fault, &request, &state).await {
                // The client hanging up mid-fault is what several faults are for.
                tracing::debug!(error = %e, "a faulted answer ended early");
            }
        }
        _ => {
            let _ = pass_on.send((Replayed { head, at: 0, tcp }, peer)).await;
        }
    }
}

/// Reads until the end of the request head; `head` keeps every byte read, for the replay.
async fn read_head(tcp: &mut TcpStream, head: &mut Vec<u8>) -> Option<Request> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            return parse_head(head.get(..end)?);
        }
        if head.len() >= MAX_HEAD {
            return None;
        }
        let n = tcp.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        head.extend_from_slice(buf.get(..n)?);
    }
}

fn parse_head(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_owned());
    Some(Request { method, target, authorization })
}

/// Stands in for a JSON value that is spliced in as raw text after serialising.
const RAW: &str = "\u{1}payguard-sim-raw\u{1}";

async fn answer(tcp: &mut TcpStream, fault: Fault, request: &Request, state: &Shared) -> io::Result<()> {
    let normal = || {
        let state = lock(state);
        let start = server::start_date(request.start_date());
        json!({ "errors": [], "accounts": server::accounts_json(&state, start, Utc::now()) })
    };
    let text = |status: &str, extra: &str, body: &str| {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
            body.len()
        );
        format!("{head}{body}").into_bytes()
    };
    let bytes = match fault {
        Fault::InternalError => text("500 Internal Server Error", "", "internal server error"),
        Fault::BadGateway => text("502 Bad Gateway", "", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
        Fault::RateLimited { retry_after } => {
            text("429 Too Many Requests", &format!("retry-after: {retry_after}\r\n"), "slow down")
        }
        Fault::Forbidden => text("403 Forbidden", "", "access denied"),
        Fault::Hang => {
            let mut sink = [0u8; 1024];
            while tcp.read(&mut sink).await? > 0 {}
            return Ok(());
        }
        Fault::SlowDrip { every } => {
            let body = normal().to_string();
            tcp.write_all(json_head(Some(body.len())).as_bytes()).await?;
            for byte in body.as_bytes().chunks(1) {
                tcp.write_all(byte).await?;
                tcp.flush().await?;
                tokio::time::sleep(every).await;
            }
            return tcp.shutdown().await;
        }
        Fault::ShortBody => {
            let body = normal().to_string().into_bytes();
            let mut bytes = json_head(Some(body.len())).into_bytes();
            bytes.extend_from_slice(body.get(..body.len() / 2).unwrap_or_default());
            bytes
        }
        Fault::CutJson => {
            let body = normal().to_string().into_bytes();
            let half = body.get(..body.len() / 2).unwrap_or_default();
            let mut bytes = json_head(Some(half.len())).into_bytes();
            bytes.extend_from_slice(half);
            bytes
        }
        Fault::Huge { bytes } => return huge(tcp, bytes).await,
        Fault::NoAccounts => json_answer(json!({ "errors": [], "accounts": [] }).to_string()),
        Fault::ErrList { code, msg } => json_answer(json!({ "errlist": [{ "code": code, "msg": msg }] }).to_string()),
        account_fault => json_answer(spoil(normal(), &account_fault)),
    };
    tcp.write_all(&bytes).await?;
    tcp.shutdown().await
}

/// The status line and headers of a 200 JSON answer; without a length, the close ends the body.
fn json_head(length: Option<usize>) -> String {
    let length = length.map(|n| format!("content-length: {n}\r\n")).unwrap_or_default();
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n")
}

fn json_answer(body: String) -> Vec<u8> {
    let mut bytes = json_head(Some(body.len())).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Streams `total` bytes, one reused chunk at a time, until done or the client hangs up.
async fn huge(tcp: &mut TcpStream, total: u64) -> io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let opening = b"{\"accounts\": [";
    tcp.write_all(json_head(None).as_bytes()).await?;
    tcp.write_all(opening).await?;
    let spaces = vec![b' '; CHUNK];
    let mut left = total.saturating_sub(opening.len() as u64 + 2);
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        tcp.write_all(spaces.get(..n).unwrap_or_default()).await?;
        left -= n as u64;
    }
    tcp.write_all(b"]}").await?;
    tcp.shutdown().await
}

/// The normal answer with one account spoiled as `fault` says, serialised.
fn spoil(mut root: Value, fault: &Fault) -> String {
    let mut raw = None;
    let target = match fault {
        Fault::BalanceObject { account }
        | Fault::TransactionsString { account }
        | Fault::RawBalance { account, .. }
        | Fault::RawAmount { account, .. }
        | Fault::DuplicateIds { account } => account_mut(&mut root, account),
        _ => None,
    };
    if let Some(account) = target {
        match fault {
            Fault::BalanceObject { .. } => {
                let amount = account.get("balance").cloned().unwrap_or(Value::Null);
                let currency = account.get("currency").cloned().unwrap_or(Value::Null);
                account.insert("balance".into(), json!({ "amount": amount, "currency": currency }));
            }
            Fault::TransactionsString { .. } => {
                account.insert("transactions".into(), json!("see your statement"));
            }
            Fault::RawBalance { json, .. } => {
                account.insert("balance".into(), json!(RAW));
                raw = Some(json.clone());
            }
            Fault::RawAmount { account: id, json } => {
                let now = Utc::now().timestamp();
                let tx = json!({
                    "id": format!("{id}-absurd"), "posted": now, "amount": RAW, "description": "Card payment",
                    "payee": "Absurd Amounts Ltd", "pending": false, "transacted_at": now,
                });
                if let Some(Value::Array(txs)) = account.get_mut("transactions") {
                    txs.push(tx);
                }
                raw = Some(json.clone());
            }
            Fault::DuplicateIds { .. } => {
                if let Some(Value::Array(txs)) = account.get_mut("transactions") {
                    let copies = txs.clone();
                    txs.extend(copies);
                }
            }
            _ => {}
        }
    }
    let text = root.to_string();
    match raw {
        Some(raw) => text.replacen(&Value::String(RAW.to_owned()).to_string(), &raw, 1),
        None => text,
    }
}

fn account_mut<'a>(root: &'a mut Value, id: &str) -> Option<&'a mut Map<String, Value>> {
    root.get_mut("accounts")?
        .as_array_mut()?
        .iter_mut()
        .find(|a| a.get("id").and_then(Value::as_str) == Some(id))?
        .as_object_mut()
}

impl AsyncRead for Replayed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(rest) = this.head.get(this.at..).filter(|rest| !rest.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl axum::serve::Listener for PassedOn {
    type Io = Replayed;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Replayed, SocketAddr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The door is gone, so nothing more comes: the server waits like a quiet listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.addr.ok_or_else(|| io::Error::other("the simulator's listener has no address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_with(fault: &Fault) -> Value {
        let normal = json!({ "errors": [], "accounts": [
            { "id": "A", "currency": "USD", "balance": "10.00", "transactions": [{ "id": "t1", "amount": "-1.00" }] },
            { "id": "B", "currency": "USD", "balance": "20.00", "transactions": [] },
        ]});
        serde_json::from_str(&spoil(normal, fault)).unwrap_or_default()
    }

    #[test]
    fn account_faults_spoil_only_their_account() {
        let spoiled = answer_with(&Fault::BalanceObject { account: "A".into() });
        assert_eq!(spoiled["accounts"][0]["balance"], json!({ "amount": "10.00", "currency": "USD" }));
        assert_eq!(spoiled["accounts"][1]["balance"], "20.00");
        let spoiled = answer_with(&Fault::TransactionsString { account: "B".into() });
        assert_eq!(spoiled["accounts"][1]["transactions"], "see your statement");
        assert!(spoiled["accounts"][0]["transactions"].is_array());
        let spoiled = answer_with(&Fault::DuplicateIds { account: "A".into() });
        assert_eq!(spoiled["accounts"][0]["transactions"][1]["id"], "t1");
        let untouched = answer_with(&Fault::BalanceObject { account: "nobody".into() });
        assert_eq!(untouched["accounts"][0]["balance"], "10.00");
    }

    #[test]
    fn raw_values_are_spliced_as_written() {
        let normal = || json!({ "accounts": [{ "id": "A", "balance": "1", "transactions": [] }] });
        for raw in ["1e400", "NaN", "\"1e400\"", "1234567890123456789012345678901234567890"] {
            let text = spoil(normal(), &Fault::RawBalance { account: "A".into(), json: raw.into() });
            assert!(text.contains(&format!("\"balance\":{raw}")), "{text}");
            let text = spoil(normal(), &Fault::RawAmount { account: "A".into(), json: raw.into() });
            assert!(text.contains(&format!("\"amount\":{raw}")), "{text}");
        }
    }

    #[test]
    fn request_heads_are_read_for_path_query_and_credentials() {
        let head = b"GET /simplefin/accounts?start-date=1700000000&pending=1 HTTP/1.1\r\nhost: x\r\nAuthorization: Basic ZGVtbzpkZW1v";
        let request = parse_head(head).unwrap_or_else(|| panic!("a request"));
        assert_eq!(request.start_date(), Some("1700000000"));
        assert!(request.is_authorised_accounts(crate::sim::PASSWORD), "demo:demo on the accounts path");
        assert!(
            !request.is_authorised_accounts("pw-of-its-own"),
            "a simulator with its own password refuses demo:demo"
        );
        let wrong = parse_head(b"GET /simplefin/accounts HTTP/1.1\r\nauthorization: Basic eDp5")
            .unwrap_or_else(|| panic!("a request"));
        assert!(!wrong.is_authorised_accounts(crate::sim::PASSWORD));
        assert!(parse_head(b"\xff\xfe").is_none());
    }
}
