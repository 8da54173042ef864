//! What "the same payee" means: [`payee_key`], the normalised name that payee counts, trust and
//! `new_payee` compare.
//!
//! Banks write one payee many ways: upper or lower case, with a store number, a date or a
//! reference that changes with every payment. Those must not make a new payee, or every coffee
//! raises an alert and people learn to ignore payguard. But the card or account that a transfer
//! goes to is who is paid: `Transfer 6222****5678` and `Transfer 6222****9999` are two payees, and
//! money to the second is exactly what a thief's transfer looks like. So numbers are noise except a
//! masked number's visible head and tail, and a short number that begins the name (`7-Eleven`).

/// Symbols banks print in place of hidden digits. An `x` run in a word is a mask too (`xxxx9999`),
/// found where words are read.
const SYMBOL_MASKS: [char; 5] = ['*', '•', '●', '·', '∙'];

/// Separators inside a number (dates, times, phone numbers): `01/05`, `2024-01-05`, `1-800`.
const NUMBER_JOINS: [char; 5] = ['/', '-', '.', ':', ','];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// Letters and digits, lower-cased.
    Word(String),
    /// A run of mask symbols, by length.
    Mask(usize),
    /// A masked number's identity: `head*tail`, or `*tail` when no head is shown.
    Masked(String),
    /// A run of whitespace (as one `' '`) or one punctuation character.
    Gap(char),
}

/// Normalises a payee for comparison.
///
/// - Case, punctuation and spacing never matter: "GROCER'S" is "Grocer's".
/// - A masked card or account number is part of the payee: its visible head (when shown, and it
///   has a digit) and tail are kept, the mask's length, character and spacing are not.
///   `6222****9999`, `6222 **** **** 9999` and `6222xxxxxxxx9999` are one key (`6222*9999`);
///   `6222****5678` is another; `•••• 9999`, `****9999` and `XXXX-9999` are `*9999`. A mask is at
///   least two of `*`, `•`, `●`, `·`, `∙` or `x`, followed by at least two visible digits: a single
///   `*` is a processor's separator (`AMAZON MKTPLACE*1234`).
/// - Every other number is noise — store numbers (`#12`), dates (`2024-01-05`, `01/05`), times and
///   references — except a number of at most three digits that begins the name and is not part of
///   a date (`7-Eleven`, `99 Ranch`). Words that mix letters and digits are kept (`3M`).
/// - A payee that is nothing but numbers keeps them: they are all there is to tell it by.
pub fn payee_key(raw: &str) -> String {
    let tokens = masked_numbers(lex(raw));
    let words = name_words(&tokens);
    if !words.is_empty() {
        return words.join(" ");
    }
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn lex(raw: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = raw.chars().peekable();
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            let mut word = String::from(lower(c));
            while let Some(next) = chars.next_if(|c| c.is_alphanumeric()) {
                word.push(lower(next));
            }
            tokens.push(Token::Word(word));
        } else if SYMBOL_MASKS.contains(&c) {
            let mut length = 1;
            while chars.next_if(|c| SYMBOL_MASKS.contains(c)).is_some() {
                length += 1;
            }
            tokens.push(Token::Mask(length));
        } else if c.is_whitespace() {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            tokens.push(Token::Gap(' '));
        } else {
            tokens.push(Token::Gap(c));
        }
    }
    tokens
}

/// A piece of a mask: its own visible head, mask length and visible tail.
struct Piece<'a> {
    head: &'a str,
    length: usize,
    tail: &'a str,
}

fn piece(token: &Token) -> Option<Piece<'_>> {
    match token {
        Token::Mask(length) => Some(Piece { head: "", length: *length, tail: "" }),
        Token::Word(word) => x_mask(word),
        _ => None,
    }
}

/// A word that hides digits behind x's: `6222xxxx5678`, `de89xxxx`, `xxxx9999`, `xxxx`. The head
/// must be empty or end in a digit, so `maxx` or `exxon` stay words.
fn x_mask(word: &str) -> Option<Piece<'_>> {
    let body = word.trim_end_matches(|c: char| c.is_ascii_digit());
    let tail = &word[body.len()..];
    let head = body.trim_end_matches('x');
    let length = body.len() - head.len();
    let head_ok = head.is_empty() || head.ends_with(|c: char| c.is_ascii_digit());
    (length >= 2 && head_ok && (tail.is_empty() || tail.len() >= 2)).then_some(Piece { head, length, tail })
}

fn is_number(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// A gap a number may have inside it (`6222 **** 9999`, `XXXX-XXXX-1234`).
fn is_spacer(token: Option<&Token>) -> bool {
    matches!(token, Some(Token::Gap(' ' | '-')))
}

/// Replaces every masked number with its [`Token::Masked`] identity.
fn masked_numbers(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut at = 0;
    while at < tokens.len() {
        match masked_at(&tokens, at) {
            Ok((head, tail, next)) => {
                let head = if head.is_empty() { take_head(&mut out) } else { head };
                out.push(Token::Masked(format!("{head}*{tail}")));
                at = next;
            }
            Err(resume) => {
                out.extend_from_slice(&tokens[at..resume]);
                at = resume;
            }
        }
    }
    out
}

/// The masked number starting at `at`: its head as written in its first piece, its tail, and where
/// the tokens after it start. If there is none, where to look again: past the pieces that were
/// read, since a match starting among them would end where this one failed (so hostile input such
/// as a megabyte of `* * * …` is read once, not once per piece).
fn masked_at(tokens: &[Token], at: usize) -> Result<(String, String, usize), usize> {
    let first = tokens.get(at).and_then(piece).ok_or(at + 1)?;
    let (head, mut length, mut tail) = (first.head.to_owned(), first.length, first.tail.to_owned());
    let mut next = at + 1;
    while tail.is_empty() {
        let after = if is_spacer(tokens.get(next)) { next + 1 } else { next };
        let token = tokens.get(after).ok_or(after.min(tokens.len()))?;
        match (piece(token), token) {
            (Some(more), _) if more.head.is_empty() => {
                length += more.length;
                tail = more.tail.to_owned();
            }
            (_, Token::Word(digits)) if is_number(digits) && digits.len() >= 2 => tail = digits.clone(),
            _ => return Err(after),
        }
        next = after + 1;
    }
    if length >= 2 { Ok((head, tail, next)) } else { Err(at + 1) }
}

/// The visible head written before a mask (`6222 ****`, `DE89****`): the word just before it, if
/// it has a digit. It is taken out of `out`, with the space between.
fn take_head(out: &mut Vec<Token>) -> String {
    let spaced = usize::from(is_spacer(out.last()));
    let Some(Token::Word(word)) = out.len().checked_sub(1 + spaced).and_then(|i| out.get(i)) else {
        return String::new();
    };
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        return String::new();
    }
    let head = word.clone();
    out.truncate(out.len() - 1 - spaced);
    head
}

/// The words that name the payee: letters and masked numbers, and a short leading number.
fn name_words(tokens: &[Token]) -> Vec<String> {
    let mut words = Vec::new();
    let mut first = true;
    for (at, token) in tokens.iter().enumerate() {
        match token {
            Token::Masked(masked) => words.push(masked.clone()),
            Token::Word(word) if !is_number(word) => words.push(word.clone()),
            Token::Word(number) => {
                if first && number.len() <= 3 && !store_number(tokens, at) && !joined_to_number(tokens, at) {
                    words.push(number.clone());
                }
            }
            Token::Mask(_) | Token::Gap(_) => continue,
        }
        first = false;
    }
    words
}

/// `#12`, `# 12`.
fn store_number(tokens: &[Token], at: usize) -> bool {
    let before = &tokens[..at];
    matches!(before, [.., Token::Gap('#')] | [.., Token::Gap('#'), Token::Gap(' ')])
}

/// `01/05`, `24/7`, `1-800`, `12:30`: a number joined to another is a date, a time or a phone number.
fn joined_to_number(tokens: &[Token], at: usize) -> bool {
    matches!(
        (tokens.get(at + 1), tokens.get(at + 2)),
        (Some(Token::Gap(join)), Some(Token::Word(next))) if NUMBER_JOINS.contains(join) && is_number(next)
    )
}

#[cfg(test)]
mod tests {
    use super::payee_key;

    /// Spellings of one payee: each group must give one key.
    #[test]
    fn noise_does_not_make_a_new_payee() {
        let same: &[&[&str]] = &[
            &["AMAZON MKTPLACE*1234 5678", "Amazon  Mktplace", "amazon mktplace *9876"],
            &["Grocer's Market", "GROCER'S MARKET!", "grocer s market"],
            &["Shell #12", "SHELL #13", "Shell # 7", "Shell"],
            &["Coffee Shop 2024-01-05", "Coffee Shop 2024-02-17", "COFFEE SHOP 01/05", "Coffee Shop 17.02.24"],
            &["Grocer ref 88812345", "Grocer ref 11223344", "GROCER REF 0001"],
            &["7-Eleven #12345", "7-ELEVEN", "7 Eleven 01/05"],
            &["Walgreens 123", "WALGREENS 4567"],
            // One card: the mask's length, character and spacing are how it is printed, not whose.
            &[
                "Transfer 6222****9999",
                "TRANSFER 6222 **** **** 9999",
                "transfer 6222xxxxxxxx9999",
                "Transfer 6222••••9999",
                "Transfer 6222****9999 000123456789",
                "Transfer 6222****9999 2024-03-01",
            ],
            &["Card •••• 9999", "Card ****9999", "CARD XXXX-XXXX-XXXX-9999", "card xxxx9999", "Card ** 9999"],
            &["IBAN DE89****4321", "iban DE89 XXXX XXXX 4321", "IBAN de89xxxx4321"],
            &["Maxx 1234", "MAXX 5678"],
        ];
        for group in same {
            let keys: Vec<String> = group.iter().map(|p| payee_key(p)).collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "{group:?} gave {keys:?}");
        }
    }

    /// Different payees: each pair must give two keys.
    #[test]
    fn who_is_paid_makes_a_new_payee() {
        let pairs = [
            ("Transfer 6222****5678", "Transfer 6222****9999"),
            ("Transfer 6222****9999", "Transfer 6223****9999"),
            ("IBAN DE89****4321", "IBAN DE89****1234"),
            ("DE89****4321", "GB29****4321"),
            ("Card ****9999", "Card ****5678"),
            ("xxxx9999", "xxxx5678"),
            ("•••• 9999", "•••• 5678"),
            ("6222****9999", "****9999"),
            ("Transfer 6222****9999", "Transfer"),
            ("Landlord Co", "Landlady Co"),
            ("7-Eleven", "Eleven"),
            ("99 Ranch Market", "Ranch Market"),
            ("12345", "67890"),
            ("3M Store", "Store"),
        ];
        for (a, b) in pairs {
            assert_ne!(payee_key(a), payee_key(b), "{a:?} and {b:?}");
        }
    }

    /// Bank data is hostile: a megabyte of mask symbols that never reach digits is read once.
    #[test]
    fn a_long_run_of_masks_is_read_in_linear_time() {
        let started = std::time::Instant::now();
        assert!(payee_key(&format!("Shop {}", "** ".repeat(250_000))) == "shop", "masks without digits are dropped");
        // x's that hide no digits are words.
        assert!(payee_key(&"xx ".repeat(250_000)).len() == 3 * 250_000 - 1, "x words are kept");
        assert!(payee_key(&format!("{}1234", "** ".repeat(250_000))) == "*1234", "one long mask");
        // Quadratic, this is hours; linear, milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    }

    #[test]
    fn keys_read_as_the_payee() {
        let cases = [
            ("AMAZON MKTPLACE*1234 5678", "amazon mktplace"),
            ("7-Eleven", "7 eleven"),
            ("Transfer 6222 **** **** 5678", "transfer 6222*5678"),
            ("IBAN DE89 XXXX XXXX 4321", "iban de89*4321"),
            ("Card •••• 9999", "card *9999"),
            ("24/7 Fitness", "fitness"),
            ("1-800-Flowers", "flowers"),
            ("#12 Shell", "shell"),
            ("XXL Sports", "xxl sports"),
            ("Exxon 12345", "exxon"),
            ("6222021234567890", "6222021234567890"),
            ("****", ""),
            ("", ""),
        ];
        for (raw, key) in cases {
            assert_eq!(payee_key(raw), key, "{raw:?}");
        }
    }
}
