//! SMTP servers for fault tests. [`Smtp`] is a real server (mailin-embedded on a std thread) that
//! records what it takes and can be told, while it runs, to turn messages away at RCPT or DATA with
//! any code or to hold its answer to DATA (a server that stalls mid-conversation); it counts every
//! transaction it sees, so a test can tell an attempt that was refused from one that never came.
//! [`Cutter`] is a hand-written server on a tokio listener that speaks just enough SMTP to get a
//! client into the middle of a conversation and then hangs up at a chosen point, once per
//! connection in its script; when the script is played it closes its port, so a well-behaved server
//! can take that port over.
//!
//! mailin-embedded cannot be stopped: its threads end with the test binary.

use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mailin_embedded::{Handler, Response, response};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One message as the server took it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body, CRLF line ends).
    pub data: Vec<u8>,
}

impl Received {
    /// The message as text (lettre writes 7-bit ASCII on the wire).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The value of header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            match &mut value {
                Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
                Some(_) => break,
                None => {
                    if let Some((n, v)) = line.split_once(':')
                        && n.trim().eq_ignore_ascii_case(name)
                    {
                        value = Some(v.trim().to_owned());
                    }
                }
            }
        }
        value
    }
}

/// How the server answers, switchable while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Answer {
    #[default]
    Accept,
    /// Answer every RCPT TO with this code.
    Rcpt(u16),
    /// Answer every DATA command with this code.
    Data(u16),
    /// Hold the answer to DATA until told otherwise: a server that stalls mid-conversation.
    StallData,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    answer: Answer,
    /// MAIL FROM commands seen: one per delivery attempt that reached the server.
    transactions: usize,
}

#[derive(Default)]
struct State {
    shared: Mutex<Shared>,
    /// Signalled when the answer changes, to release a stalled DATA.
    changed: Condvar,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// mailin clones the handler for each connection: the shared part is the record, the rest is the
/// transaction in progress on that connection.
#[derive(Clone)]
struct Recorder {
    state: Arc<State>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

fn refusal(code: u16) -> Response {
    let text = if code < 500 { "4.3.0 try again later" } else { "5.1.1 mailbox unavailable" };
    Response::custom(code, text.to_owned())
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.state.lock().transactions += 1;
        self.from = from.to_owned();
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if let Answer::Rcpt(code) = self.state.lock().answer {
            return refusal(code);
        }
        self.to.push(to.to_owned());
        response::OK
    }

    // Refused at the DATA command, not after the content: mailin stays in its data state after a
    // refused end of data, and the client's QUIT would hang until its timeout.
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, _to: &[String]) -> Response {
        let shared = self.state.lock();
        // Bounded, so a test that never releases the stall cannot pin a server thread for the
        // rest of the binary's run.
        let (shared, _) = self
            .state
            .changed
            .wait_timeout_while(shared, Duration::from_secs(30), |s| s.answer == Answer::StallData)
            .unwrap_or_else(PoisonError::into_inner);
        match shared.answer {
            Answer::Data(code) => refusal(code),
            _ => response::OK,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = Received { from: self.from.clone(), to: self.to.clone(), data: std::mem::take(&mut self.data) };
        self.state.lock().received.push(message);
        response::OK
    }
}

/// A recording SMTP server on loopback, no TLS.
pub struct Smtp {
    pub port: u16,
    state: Arc<State>,
}

impl Smtp {
    /// A server on a fresh loopback port.
    pub fn start() -> Smtp {
        Smtp::on(TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port for SMTP"))
    }

    /// A server on a listener the caller bound (a port that something else had before).
    pub fn on(listener: TcpListener) -> Smtp {
        let port = listener.local_addr().expect("smtp local address").port();
        let state = Arc::new(State::default());
        let handler = Recorder { state: state.clone(), from: String::new(), to: Vec::new(), data: Vec::new() };
        std::thread::spawn(move || {
            let mut server = mailin_embedded::Server::new(handler);
            // lettre keeps a connection open in its pool; room for a few more besides.
            server.with_name("smtp.test").with_num_threads(8).with_tcp_listener(listener);
            if let Err(e) = server.serve() {
                eprintln!("test smtp server stopped: {e}");
            }
        });
        Smtp { port, state }
    }

    pub fn answer(&self, answer: Answer) {
        self.state.lock().answer = answer;
        self.state.changed.notify_all();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }

    /// Transactions begun (MAIL FROM), accepted or not.
    pub fn transactions(&self) -> usize {
        self.state.lock().transactions
    }
}

/// A loopback port that nothing listens on (bound, noted, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("reserve a loopback port");
    listener.local_addr().expect("reserved port").port()
}

/// Where a [`Cutter`] hangs up on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Right after its 220 greeting.
    AfterGreeting,
    /// After answering DATA with 354 and reading at least this many bytes of the message.
    MidData { after: usize },
}

/// What a [`Cutter`] saw on one connection before it hung up.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The command lines, in order.
    pub commands: Vec<String>,
    /// The part of the message it read after 354.
    pub partial: Vec<u8>,
}

/// An SMTP server that hangs up mid-conversation: one connection per [`Cut`] in its script, then
/// it closes its port and `finish` hands back what each connection saw.
pub struct Cutter {
    pub port: u16,
    task: tokio::task::JoinHandle<std::io::Result<Vec<Session>>>,
}

impl Cutter {
    pub async fn start(script: Vec<Cut>) -> Cutter {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a loopback port");
        let port = listener.local_addr().expect("cutter local address").port();
        let task = tokio::spawn(async move {
            let mut sessions = Vec::new();
            for cut in script {
                let (stream, _) = listener.accept().await?;
                sessions.push(play(stream, cut).await?);
            }
            // The listener drops here: the port is free for the next server.
            Ok(sessions)
        });
        Cutter { port, task }
    }

    /// Waits (a minute at most, a guard against a hang) until the script is played and the port
    /// closed; returns what each connection saw.
    pub async fn finish(self) -> Vec<Session> {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.task)
            .await
            .expect("the cutter played its script in time")
            .expect("join the cutter")
            .expect("the cutter's socket I/O")
    }
}

/// One connection: greet, answer EHLO, MAIL, RCPT and DATA as a server that takes anything would,
/// and hang up at `cut` by dropping the socket.
async fn play(stream: tokio::net::TcpStream, cut: Cut) -> std::io::Result<Session> {
    let mut session = Session::default();
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(b"220 cutter.test ESMTP\r\n").await?;
    if cut == Cut::AfterGreeting {
        return Ok(session);
    }
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(session); // the client hung up first
        }
        let command = line.trim_end().to_owned();
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        session.commands.push(command);
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 cutter.test\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => b"221 bye\r\n",
            "DATA" => b"354 go ahead\r\n",
            _ => b"502 not implemented\r\n",
        };
        stream.get_mut().write_all(reply).await?;
        if verb == "DATA"
            && let Cut::MidData { after } = cut
        {
            let mut chunk = [0u8; 512];
            while session.partial.len() < after {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                session.partial.extend_from_slice(&chunk[..n]);
            }
            return Ok(session); // dropping the socket mid-message
        }
        if verb == "QUIT" {
            return Ok(session);
        }
    }
}
