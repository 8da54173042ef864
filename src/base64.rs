//! Base64 (RFC 4648): the one encoder and decoder in payguard. Basic credentials, MIME encoded
//! words and SimpleFIN setup tokens need no more than this, so it is kept here rather than added
//! as a dependency.
//!
//! Encoding is the standard alphabet with padding. Decoding is lenient where people paste tokens
//! (surrounding whitespace, missing padding, the URL-safe alphabet of §5) and strict elsewhere: a
//! stray character, a misplaced `=` or an impossible length is an error, never skipped.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a text is not base64. It names a position, never the text, since the text may be a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("character {position} is not in the base64 alphabet")]
    Character { position: usize },
    #[error("`=` padding may only end the text")]
    Padding,
    #[error("its length is impossible for base64: a character is missing or extra")]
    Length,
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard (§4) or URL-safe (§5) base64, padded or not, ignoring surrounding whitespace.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let text = text.trim().as_bytes();
    // Up to two `=` may end the text; anywhere else they are an error, not a character to skip.
    let data = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    if data.contains(&b'=') {
        return Err(DecodeError::Padding);
    }
    let padded = data.len() != text.len();
    // One leftover character carries only 6 bits, less than a byte; padding must complete a quantum.
    if data.len() % 4 == 1 || (padded && !text.len().is_multiple_of(4)) {
        return Err(DecodeError::Length);
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for (index, chunk) in data.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let value = value(c).ok_or(DecodeError::Character { position: index * 4 + i + 1 })?;
            n |= value << (18 - 6 * i);
        }
        // Four characters hold three bytes, three hold two, two hold one.
        let take = chunk.len() - 1;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + take]);
    }
    Ok(out)
}

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn encode_matches_rfc_4648_vectors() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn decode_matches_rfc_4648_vectors_with_and_without_padding() {
        for (plain, encoded) in VECTORS {
            assert_eq!(decode(encoded).as_deref(), Ok(plain.as_bytes()), "{encoded:?}");
            let bare = encoded.trim_end_matches('=');
            assert_eq!(decode(bare).as_deref(), Ok(plain.as_bytes()), "{bare:?}");
        }
    }

    #[test]
    fn decode_accepts_whitespace_around_and_the_url_safe_alphabet() {
        assert_eq!(decode("  ZGVtbzpkZW1v\n").as_deref(), Ok(&b"demo:demo"[..]));
        // 0xfb 0xff 0xbf is `+/+/` in the standard alphabet and `-_-_` in the URL-safe one.
        assert_eq!(decode("-_-_").as_deref(), Ok(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(decode("+/+/").as_deref(), Ok(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn decode_refuses_what_is_not_base64() {
        assert_eq!(decode("*"), Err(DecodeError::Length));
        assert_eq!(decode("Zm9*"), Err(DecodeError::Character { position: 4 }));
        assert_eq!(decode("Zm 9"), Err(DecodeError::Character { position: 3 }));
        assert_eq!(decode("Zg=a"), Err(DecodeError::Padding));
        assert_eq!(decode("Zg==="), Err(DecodeError::Padding));
        assert_eq!(decode("Zm9vY"), Err(DecodeError::Length));
        assert_eq!(decode("Zg="), Err(DecodeError::Length));
    }

    #[test]
    fn every_byte_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            assert_eq!(decode(&encode(&bytes[..len])).as_deref(), Ok(&bytes[..len]));
        }
    }
}
