//! One read of the folder's new files, handed over a poll's worth of entries at a time.
//!
//! A year's export holds 100,000 rows; holding them all, as transactions and then as one
//! observation to judge, cost about 0.8 KiB a row (BENCHMARKS.md). So a read is a [`Cursor`] that
//! lives between polls: each poll takes at most [`ENTRIES_PER_POLL`] entries from it and says
//! whether more wait (`Poll::more`), and the engine, having stored that part, polls again at once.
//!
//! Each file is read twice, neither time held: first to check it whole (a file refused at its
//! last line hands over none of its entries, as before) and learn what it states (its account,
//! currency and closing balance), then again on a thread that hands its entries over a bounded
//! channel as the polls take them. What grows with a file is its bytes, held once (they are the
//! record kept as evidence), not its rows.
//!
//! Where a read stands is kept with the source's state (`State::within`: the file and how many
//! of its entries were handed over), so a read cut short by a restart goes on where the last
//! stored part ended, its ids derived as before.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use rust_decimal::Decimal;

use super::formats::{Closing, Entry, FileError, Format, Statement};
use super::{Book, FILES_PER_POLL, MAX_FILE, State, StatementsConfig, Within, archive};
use crate::model::{DerivedIds, Evidence, Transaction, UnreadRecord, payee_key};
use crate::source::SourceError;

/// The most entries one poll hands over; a part of this size is a few MiB to judge and store.
pub const ENTRIES_PER_POLL: usize = 5_000;
/// Entries read ahead of the poll taking them.
const READ_AHEAD: usize = 256;

/// A read under way: the files of the folder not yet opened, and the one being read.
pub struct Cursor {
    waiting: VecDeque<PathBuf>,
    opened: usize,
    file: Option<OpenFile>,
    /// Where the state stood after the poll that left this cursor: a later poll goes on with it
    /// only if that poll's results were kept, and otherwise starts the read again from the state.
    pub expects: Option<Within>,
}

/// Which account a file belongs to, as the source's `[[account]]`s say.
pub struct Accounts<'a> {
    pub configured: &'a [String],
    /// The only account, for formats that name none.
    pub single: Option<&'a str>,
}

/// What one poll took from the read.
#[derive(Default)]
pub struct Part {
    /// Per account, its transactions by id: a later export of one says where it stands now.
    pub found: BTreeMap<String, BTreeMap<String, Transaction>>,
    /// Per account, its balance before the first file of this read that states one, for an
    /// account the store knows nothing of yet: the closing balance less what the file posts.
    pub opening: BTreeMap<String, Decimal>,
    /// The files read, by hash, with the transactions each records.
    pub evidence: BTreeMap<String, Evidence>,
    pub unreadable: Vec<UnreadRecord>,
    pub unconfigured: Vec<String>,
    /// Whether the state moved (a file read or found unreadable, entries handed over).
    pub changed: bool,
}

/// A file of the folder being read: its pieces (the file, or an archive's files) in order.
struct OpenFile {
    name: String,
    hash: String,
    bytes: Arc<[u8]>,
    pieces: VecDeque<Unopened>,
    piece: Option<Piece>,
    /// Entries of this file handed over so far, and how many of them earlier polls took before a
    /// restart (read again, their ids derived again, not handed over again).
    handed: usize,
    skip: usize,
}

/// A piece not read yet: its name, and its bytes or why there are none (an archive's file that
/// would not unpack).
type Unopened = (String, Result<Arc<[u8]>, FileError>);

/// A piece being read on its thread.
struct Piece {
    account: String,
    entries: Receiver<Entry>,
    ids: DerivedIds,
}

impl Cursor {
    /// Lists the folder: its files oldest first.
    pub fn start(dir: &std::path::Path) -> Result<Cursor, SourceError> {
        let listing = std::fs::read_dir(dir).map_err(|e| {
            SourceError::Setup(format!(
                "cannot read the statements folder {}: {e} (check dir and its permissions)",
                dir.display()
            ))
        })?;
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = listing
            .filter_map(Result::ok)
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|entry| {
                let meta = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
                Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), entry.path()))
            })
            .collect();
        files.sort();
        Ok(Cursor { waiting: files.into_iter().map(|(_, path)| path).collect(), opened: 0, file: None, expects: None })
    }

    /// Whether the read has nothing more to hand over.
    pub fn is_done(&self) -> bool {
        self.file.is_none() && (self.waiting.is_empty() || self.opened >= FILES_PER_POLL)
    }

    /// Takes at most [`ENTRIES_PER_POLL`] entries, moving `state` past what it took.
    pub fn take(&mut self, config: &StatementsConfig, accounts: &Accounts<'_>, state: &mut State) -> Part {
        let mut part = Part::default();
        let mut taken = 0;
        while taken < ENTRIES_PER_POLL {
            match &mut self.file {
                Some(file) => match &mut file.piece {
                    Some(piece) => match piece.entries.recv() {
                        Ok(entry) => {
                            if file.skip > 0 {
                                file.skip -= 1;
                                piece.ids.give(&mut transaction(entry));
                            } else {
                                take_entry(file, entry, &mut part);
                                taken += 1;
                            }
                            file.handed += 1;
                            state.within = Some(Within { hash: file.hash.clone(), handed: file.handed });
                            part.changed = true;
                        }
                        Err(_) => file.piece = None,
                    },
                    None => match file.pieces.pop_front() {
                        Some((name, bytes)) => {
                            file.piece = open_piece(&config.format, &name, bytes, accounts, state, &mut part)
                        }
                        None => {
                            state.files.insert(file.hash.clone());
                            state.within = None;
                            part.changed = true;
                            self.file = None;
                        }
                    },
                },
                None => {
                    if self.opened >= FILES_PER_POLL {
                        break;
                    }
                    let Some(path) = self.waiting.pop_front() else { break };
                    self.file = open_file(&path, config, state, &mut part);
                    self.opened += usize::from(self.file.is_some());
                }
            }
        }
        self.expects = state.within.clone();
        part
    }
}

/// The file at `path`, when it is one to read: not read before, not too large, still there.
fn open_file(
    path: &std::path::Path,
    config: &StatementsConfig,
    state: &mut State,
    part: &mut Part,
) -> Option<OpenFile> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE {
        // Known by its name and size, so it is said once, not every poll.
        let hash = format!("large:{}", crate::model::short_hash(&format!("{name}|{size}")));
        if state.files.insert(hash) {
            let reason = format!("it is {size} bytes, more than the {MAX_FILE} payguard reads: split the export");
            part.unreadable.push(UnreadRecord { record: name, reason });
            part.changed = true;
        }
        return None;
    }
    let bytes = match read_whole(path, size) {
        Ok(bytes) => bytes,
        // Still being written, or taken away meanwhile: the next poll tries again.
        Err(e) => {
            tracing::info!(file = %path.display(), error = %e, "cannot read a statement file yet");
            return None;
        }
    };
    let hash = crate::model::sha256_hex(&bytes);
    if state.files.contains(&hash) {
        return None;
    }
    let skip = state.within.as_ref().filter(|w| w.hash == hash).map_or(0, |w| w.handed);
    let pieces = if archive::is_archive(&bytes) {
        match archive::unpack(&bytes, config.zip_password.as_ref()) {
            Err(e) => VecDeque::from([(name.clone(), Err(e))]),
            Ok(files) => {
                files.into_iter().map(|(inner, read)| (format!("{name}/{inner}"), read.map(Into::into))).collect()
            }
        }
    } else {
        VecDeque::from([(name.clone(), Ok(bytes.clone()))])
    };
    Some(OpenFile { name, hash, bytes, pieces, piece: None, handed: 0, skip })
}

/// The file's `size` bytes, read straight into the one buffer every part shares (reading into a
/// `Vec` and sharing that would hold the file twice for a moment). A file whose length changed
/// is still being written.
fn read_whole(path: &std::path::Path, size: u64) -> std::io::Result<Arc<[u8]>> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = usize::try_from(size).map_err(|_| std::io::Error::other("too large"))?;
    let mut bytes: Arc<[u8]> = std::iter::repeat_n(0, len).collect();
    let buffer = Arc::get_mut(&mut bytes).ok_or_else(|| std::io::Error::other("the buffer is shared"))?;
    file.read_exact(buffer)?;
    if file.read(&mut [0])? != 0 {
        return Err(std::io::Error::other("it grew while being read"));
    }
    Ok(bytes)
}

/// Checks a piece whole, notes what it states in its account's book, and starts handing over its
/// entries; `None` for a piece that cannot be read or belongs to no account watched.
fn open_piece(
    format: &Format,
    name: &str,
    bytes: Result<Arc<[u8]>, FileError>,
    accounts: &Accounts<'_>,
    state: &mut State,
    part: &mut Part,
) -> Option<Piece> {
    let mut unreadable = |reason: String| {
        part.unreadable.push(UnreadRecord { record: name.to_owned(), reason });
        part.changed = true;
        None
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => return unreadable(e.to_string()),
    };
    let mut posted = Decimal::ZERO;
    let checked = format.stream(&bytes, &mut |entry| {
        if !entry.pending {
            posted += entry.amount;
        }
        Ok(())
    });
    let statement = match checked {
        Ok(statement) => statement,
        Err(e) => return unreadable(e.to_string()),
    };
    let account = match (&statement.account, accounts.single) {
        (Some(named), _) if accounts.configured.contains(named) => named.clone(),
        (Some(named), _) => {
            part.unconfigured.push(named.clone());
            return None;
        }
        (None, Some(only)) => only.to_owned(),
        (None, None) => return unreadable("it names no account, and the source has more than one".to_owned()),
    };
    note(&statement, format, state.accounts.entry(account.clone()).or_default());
    if let Some((balance, _)) = state.accounts.get(&account).and_then(|book| book.closing) {
        part.opening.entry(account.clone()).or_insert(balance - posted);
    }
    let (sender, entries) = sync_channel(READ_AHEAD);
    let format = format.clone();
    // The thread ends when the file does, or when the cursor is dropped and its sends fail.
    std::thread::spawn(move || {
        let stopped = || FileError::whole("the read was stopped");
        let _ = format.stream(&bytes, &mut |entry| sender.send(entry).map_err(|_| stopped()));
    });
    Some(Piece { account, entries, ids: DerivedIds::default() })
}

/// Notes in an account's book what a file states: its currency and a later closing balance.
fn note(statement: &Statement, format: &Format, book: &mut Book) {
    book.currency = statement.currency.clone().unwrap_or_else(|| format.currency().to_owned());
    if let Some(Closing { balance, at }) = statement.closing
        && book.closing.is_none_or(|(_, was)| was <= at)
    {
        book.closing = Some((balance, at));
    }
}

/// Hands one entry over: as a transaction of its piece's account, cited by its file.
fn take_entry(file: &mut OpenFile, entry: Entry, part: &mut Part) {
    let Some(piece) = file.piece.as_mut() else { return };
    let mut tx = transaction(entry);
    piece.ids.give(&mut tx);
    // The file's hash is its bytes' SHA-256, so each part's record need not hash them again.
    let record = part.evidence.entry(file.hash.clone()).or_insert_with(|| Evidence {
        name: file.name.clone(),
        sha256: file.hash.clone(),
        bytes: file.bytes.clone(),
        cites: Vec::new(),
    });
    record.cites.push((piece.account.clone(), tx.id.clone()));
    part.found.entry(piece.account.clone()).or_default().insert(tx.id.clone(), tx);
}

fn transaction(entry: Entry) -> Transaction {
    Transaction {
        id: entry.id.unwrap_or_default(),
        posted: entry.time,
        amount: entry.amount,
        payee_key: payee_key(&entry.payee),
        payee: entry.payee,
        description: entry.description,
        pending: entry.pending,
    }
}
