//! The console channel: alerts as text on the terminal (or the journal, under systemd).

use std::io::Write;

use super::DeliveryError;
use super::render::render;
use crate::alert::Alert;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub struct Console {
    name: String,
    stream: Stream,
}

impl Console {
    pub fn new(name: &str, stream: Stream) -> Self {
        Self { name: name.to_owned(), stream }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let text = render(alert);
        let block = format!("\n{}\n{}\n", text.title, indent(&text.body));
        let written = match self.stream {
            Stream::Stdout => std::io::stdout().lock().write_all(block.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(block.as_bytes()),
        };
        written.map_err(|e| DeliveryError { message: format!("cannot write to the terminal: {e}"), retryable: false })
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
