//! The console channel: alerts as text on the terminal (or the journal, under systemd).

use std::io::Write;

use super::{Deliver, DeliveryError, Message, SendFuture};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// `kind = "console"`: alerts as text where payguard runs; it takes no keys.
#[derive(Debug, Clone)]
pub struct ConsoleConfig;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {}

impl crate::config::Kind for ConsoleConfig {
    type Raw = RawConsole;

    fn validate(_: RawConsole, _: &crate::config::Entry<'_>) -> Result<Self, crate::config::ConfigError> {
        Ok(ConsoleConfig)
    }

    fn credentials<'a>(&'a self, _: &mut crate::config::Credentials<'a>) {}

    fn describe(&self) -> String {
        String::new()
    }
}

impl super::Kind for ConsoleConfig {
    fn connect(&self, console: Stream) -> Result<Box<dyn Deliver>, DeliveryError> {
        Ok(Box::new(Console::new(console)))
    }
}

impl Deliver for Console {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(std::future::ready(Console::send(self, message)))
    }
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
