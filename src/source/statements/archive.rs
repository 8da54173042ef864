//! Zip archives: Alipay and WeChat Pay mail their exports as zips, often password-protected
//! (ZipCrypto or AES), which `zip_password` opens. Each file inside is read as the source's format.
//! Bounded like a plain file: at most [`MAX_ENTRIES`] files, each at most `MAX_FILE` bytes
//! once unpacked (a zip bomb is cut off there, not unpacked into memory).

use std::io::Read as _;

use super::MAX_FILE;
use super::formats::FileError;
use crate::config::Secret;

/// The most files read out of one archive.
pub const MAX_ENTRIES: usize = 100;

/// Whether the bytes are a zip archive of exports: a zip that is not itself an Office workbook
/// (an xlsx is a zip too, with its `[Content_Types].xml`).
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        && !zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .is_ok_and(|archive| archive.index_for_name("[Content_Types].xml").is_some())
}

/// A file of an archive: its name, and its bytes or why they cannot be had.
pub type Unpacked = (String, Result<Vec<u8>, FileError>);

/// Each file of the archive.
pub fn unpack(bytes: &[u8], password: Option<&Secret>) -> Result<Vec<Unpacked>, FileError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| FileError::whole(format!("not a readable zip archive ({e})")))?;
    let password = match password.map(Secret::expose).transpose() {
        Ok(password) => password,
        Err(e) => return Err(FileError::whole(e.to_string())),
    };
    let mut files = Vec::new();
    for index in 0..archive.len().min(MAX_ENTRIES) {
        let entry = match password {
            Some(password) => archive.by_index_decrypt(index, password.as_bytes()),
            None => archive.by_index(index),
        };
        let mut entry = match entry {
            Ok(entry) if entry.is_dir() => continue,
            Ok(entry) => entry,
            Err(e) => {
                files.push((format!("#{index}"), Err(refusal(&e, password.is_some()))));
                continue;
            }
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
        let mut unpacked = Vec::new();
        let read = (&mut entry).take(MAX_FILE + 1).read_to_end(&mut unpacked);
        let result = match read {
            Err(e) => Err(FileError::whole(format!(
                "cannot unpack it ({e}){}",
                if password.is_some() { ": is zip_password right?" } else { "" }
            ))),
            Ok(_) if unpacked.len() as u64 > MAX_FILE => {
                Err(FileError::whole(format!("it unpacks to more than the {MAX_FILE} bytes payguard reads")))
            }
            Ok(_) => Ok(unpacked),
        };
        files.push((name, result));
    }
    Ok(files)
}

/// What to tell the person when an entry will not open; never the password.
fn refusal(error: &zip::result::ZipError, has_password: bool) -> FileError {
    match error {
        zip::result::ZipError::UnsupportedArchive(why)
            if *why == zip::result::ZipError::PASSWORD_REQUIRED && !has_password =>
        {
            FileError::whole("it is password-protected: set zip_password (the password the export was mailed with)")
        }
        zip::result::ZipError::InvalidPassword => FileError::whole("zip_password does not open it"),
        other => FileError::whole(format!("cannot unpack it ({other})")),
    }
}
