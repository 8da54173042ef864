//! The console channel: alerts as text on the terminal (or the journal, under systemd).

use std::io::Write;

use super::{DeliveryError, Message};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub struct Console {
    stream: Stream,
}

impl Console {
    pub fn new(stream: Stream) -> Self {
        Self { stream }
    }

    pub fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let body: Vec<String> = message.text.lines().map(|l| format!("    {l}")).collect();
        let block = format!("\n{}\n{}\n", message.subject, body.join("\n"));
        let written = match self.stream {
            Stream::Stdout => std::io::stdout().lock().write_all(block.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(block.as_bytes()),
        };
        written.map_err(|e| DeliveryError::permanent(format!("cannot write to the terminal: {e}")))
    }
}
