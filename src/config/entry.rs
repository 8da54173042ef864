//! One `[[source]]`, `[[notice]]` or `[[channel]]` table, and what each kind of them brings to it.
//!
//! Such a table holds keys every kind shares (`name`, `kind`, `schedule`, …) and keys of its kind.
//! The config reads `kind` first, then splits the table: the shared keys go to the family's struct,
//! the rest to the kind's own (`deny_unknown_fields`), which the kind validates with an [`Entry`]
//! that places every error at its file, line, column and key. The kinds of a family are listed once,
//! in a [`kinds!`] registry next to their code; the config knows them only through it.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::permissions::Credentials;
use super::schema::Validator;

/// A kind of source, notice source or channel, as the config file knows it: its keys, how they are
/// checked, which of them are credentials, and how `payguard check` shows it.
pub trait Kind: Sized {
    /// The kind's keys as written, a struct with `#[serde(deny_unknown_fields)]`.
    type Raw: DeserializeOwned;

    /// Keys of other kinds that people give this one, with what to write instead.
    const HINTS: &'static [(&'static str, &'static str)] = &[];

    /// Checks what was written and makes the kind's settings; errors are placed with `entry`.
    fn validate(raw: Self::Raw, entry: &Entry<'_>) -> Result<Self, ConfigError>;

    /// Every value that is or may carry a credential, for the permission checks. Take structs
    /// apart without `..`, so that a new field does not compile until it is judged here.
    fn credentials<'a>(&'a self, found: &mut Credentials<'a>);

    /// Where the kind connects, for `payguard check`: hosts and recipients, never a secret; empty
    /// when there is nothing to say.
    fn describe(&self) -> String;
}

/// A family's kinds, as the [`kinds!`] registry lists them.
pub trait Registry: Sized {
    /// Every kind's name, as `kind = "…"` spells it, in the order listed.
    fn names() -> &'static [&'static str];
    /// The keys of the kind `kind`.
    fn fields(kind: &str) -> &'static [&'static str];
    fn hints(kind: &str) -> &'static [(&'static str, &'static str)];
    /// Deserializes and validates the kind's part of a table (`kind` is one of [`Registry::names`]).
    fn read(kind: &str, table: Spanned<DeValue<'_>>, entry: &Entry<'_>) -> Result<Self, ConfigError>;
    fn credentials<'a>(&'a self, found: &mut Credentials<'a>);
}

/// Declares a family's kinds: an enum with one variant per kind, holding that kind's settings, and
/// its [`Registry`]. `$Family` is the trait the family's code asks each kind for ([`get`]).
///
/// ```ignore
/// kinds! {
///     /// The kinds of account source.
///     pub enum SourceKind: dyn Kind {
///         SimpleFin(simplefin::SimpleFinConfig) = "simplefin",
///     }
/// }
/// ```
macro_rules! kinds {
    (
        $(#[$meta:meta])*
        $vis:vis enum $Enum:ident: dyn $Family:path {
            $($Variant:ident($Config:ty) = $name:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis enum $Enum {
            $($Variant(Box<$Config>),)+
        }

        impl $Enum {
            /// The kind's name, as `kind = "…"` spells it.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$Variant(_) => $name,)+
                }
            }

            /// What the family's code asks of every kind.
            pub fn get(&self) -> &dyn $Family {
                match self {
                    $(Self::$Variant(kind) => kind.as_ref(),)+
                }
            }

            /// Where the kind connects, for `payguard check` (see `config::Kind::describe`).
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$Variant(kind) => $crate::config::Kind::describe(kind.as_ref()),)+
                }
            }
        }

        impl $crate::config::Registry for $Enum {
            fn names() -> &'static [&'static str] {
                &[$($name),+]
            }

            fn fields(kind: &str) -> &'static [&'static str] {
                match kind {
                    $($name => $crate::config::fields_of::<<$Config as $crate::config::Kind>::Raw>(),)+
                    _ => &[],
                }
            }

            fn hints(kind: &str) -> &'static [(&'static str, &'static str)] {
                match kind {
                    $($name => <$Config as $crate::config::Kind>::HINTS,)+
                    _ => &[],
                }
            }

            fn read(
                kind: &str,
                table: toml::Spanned<toml::de::DeValue<'_>>,
                entry: &$crate::config::Entry<'_>,
            ) -> Result<Self, $crate::config::ConfigError> {
                match kind {
                    $($name => entry.read::<$Config>(table).map(|kind| Self::$Variant(Box::new(kind))),)+
                    other => Err(entry.unknown_kind(other)),
                }
            }

            fn credentials<'a>(&'a self, found: &mut $crate::config::Credentials<'a>) {
                match self {
                    $(Self::$Variant(kind) => $crate::config::Kind::credentials(kind.as_ref(), found),)+
                }
            }
        }
    };
}
pub(crate) use kinds;

/// One table of a family while its kind reads it: where it is, for errors, and the checks every
/// kind shares.
pub struct Entry<'a> {
    validator: &'a Validator<'a>,
    /// Like `source[0]`: the key of the table, which every error key starts with.
    prefix: String,
    /// Like `[[source]]`, for messages that tell where to set something.
    header: &'static str,
    /// The whole table: where a missing key is reported.
    span: Range<usize>,
    /// The table's own `allow_insecure_http`, for families where every kind shares it.
    pub allow_insecure_http: bool,
}

impl<'a> Entry<'a> {
    pub(super) fn new(
        validator: &'a Validator<'a>,
        family: &'static str,
        header: &'static str,
        i: usize,
        span: Range<usize>,
        allow_insecure_http: bool,
    ) -> Self {
        Entry { validator, prefix: format!("{family}[{i}]"), header, span, allow_insecure_http }
    }

    /// The full key of `field`, like `source[0].access_url`.
    pub fn key(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }

    /// An error about `field`, placed at `span`.
    pub fn error<T>(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        self.validator.error(span, self.key(field), message)
    }

    /// An error about `field`, placed where it is written (or at the table when it is not).
    pub fn error_at_key<T>(&self, field: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        let at = self.validator.key_span(&self.span, field);
        self.error(at, field, message)
    }

    /// Where `field` is written inside the sub-table at `table` (like `[notice.mapping]`), or the
    /// sub-table when it is not.
    pub fn place(&self, table: &Range<usize>, field: &str) -> Range<usize> {
        self.validator.key_span(table, field)
    }

    /// An error about a key that should be there and is not, placed at the table.
    pub fn missing<T>(&self, field: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        self.error(self.span.clone(), field, message)
    }

    /// Checks the URL `text` of `field` (written at `span`): https, or plain http to this machine
    /// or where `allow_insecure_http` allows it.
    pub fn url(
        &self,
        span: Range<usize>,
        field: &str,
        text: &str,
        allow_insecure_http: bool,
    ) -> Result<(), ConfigError> {
        self.validator.url(span, self.key(field), text, allow_insecure_http, self.header).map(drop)
    }

    /// The text of the file at `path`, the value of `field` written at `span` (a PEM file a kind
    /// names by path): read through the one bounded reader of secret files, and, for a `secret`
    /// one (a private key), under the rule for `${file:…}` secrets (refused if anyone may write it,
    /// warned about if others may read it). `None` when the config is loaded without its secrets
    /// (`Secrets::Skip`): nothing is read then.
    pub fn file(
        &self,
        span: Range<usize>,
        field: &str,
        path: &str,
        secret: bool,
    ) -> Result<Option<String>, ConfigError> {
        use super::permissions::{Role, Verdict, judge};
        if super::secret::mode() == super::Secrets::Skip {
            return Ok(None);
        }
        let file = std::path::Path::new(path);
        let (text, mode) = match super::file::read(file, super::file::SECRET) {
            Ok(read) => read,
            Err(e) => return self.error(span, field, format!("cannot read {path}: {e}")),
        };
        match if secret { judge(file, mode, Role::SecretFile) } else { Verdict::Fine } {
            Verdict::Refuse(message) => return self.error(span, field, message),
            Verdict::Warn(message) => self.validator.warnings.borrow_mut().push(message),
            Verdict::Fine => {}
        }
        Ok(Some(text))
    }

    /// Deserializes the kind's keys into `K::Raw` and validates them.
    pub fn read<K: Kind>(&self, table: Spanned<DeValue<'_>>) -> Result<K, ConfigError> {
        let raw = self.validator.deserialize(&self.prefix, toml::de::ValueDeserializer::from(table))?;
        K::validate(raw, self)
    }

    /// A `kind` no registry lists: the family checks before it reads, so a bug if it comes to this.
    pub fn unknown_kind(&self, kind: &str) -> ConfigError {
        let message = format!("unknown kind {kind:?}");
        ConfigError::at(self.validator.path, self.validator.text, Some(self.span.clone()), self.key("kind"), message)
    }
}

/// A family's table split by [`Validator::split`]: its kind, its shared keys and the kind's keys,
/// each part spanning the whole table.
pub(super) struct Split<'i> {
    pub kind: &'static str,
    pub shared: Spanned<DeValue<'i>>,
    pub own: Spanned<DeValue<'i>>,
}

impl<'t> Validator<'t> {
    /// Reads `kind` of the table `value` (entry `i` of `family`, like `source`), and splits the
    /// table into the keys every kind shares (`shared`, which includes `kind`) and the kind's own.
    /// A key neither takes is an error here: one another kind takes "does not apply", any other is
    /// unknown, with the keys this kind does take.
    pub(super) fn split<'i, R: Registry>(
        &self,
        family: &str,
        i: usize,
        value: Spanned<DeValue<'i>>,
        shared: &[&str],
    ) -> Result<Split<'i>, ConfigError> {
        let prefix = format!("{family}[{i}]");
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            return self.error(span, prefix, format!("each [[{family}]] is a table of keys"));
        };
        let Some((_, kind_value)) = table.iter().find(|(key, _)| key.get_ref().as_ref() == "kind") else {
            let message = super::messages::humanize(&prefix, "missing field `kind`");
            return self.error(span, message.key.unwrap_or_default(), message.text);
        };
        let kind_span = kind_value.span();
        let written: String =
            self.deserialize(&format!("{prefix}.kind"), toml::de::ValueDeserializer::from(kind_value.clone()))?;
        let Some(kind) = R::names().iter().copied().find(|name| *name == written) else {
            let message = <toml::de::Error as serde::de::Error>::unknown_variant(&written, R::names()).to_string();
            return self.error(kind_span, format!("{prefix}.kind"), super::schema::first_line(&message));
        };
        let own_fields = R::fields(kind);
        let taken = |field: &str| shared.contains(&field) || own_fields.contains(&field);
        // The first stray key as written: keys are held sorted by name.
        let stray = table.keys().filter(|key| !taken(key.get_ref())).min_by_key(|key| key.span().start);
        if let Some(key) = stray {
            let field = key.get_ref().as_ref();
            let message = misplaced::<R>(family, kind, field).unwrap_or_else(|| {
                let expected: Vec<&str> = shared.iter().chain(own_fields).copied().collect();
                unknown_field(field, &expected)
            });
            return self.error(key.span(), format!("{prefix}.{field}"), message);
        }
        let (mut shared_table, mut own_table) = (DeTable::new(), DeTable::new());
        for (key, value) in table {
            let part = if shared.contains(&key.get_ref().as_ref()) { &mut shared_table } else { &mut own_table };
            part.insert(key, value);
        }
        Ok(Split {
            kind,
            shared: Spanned::new(span.clone(), DeValue::Table(shared_table)),
            own: Spanned::new(span, DeValue::Table(own_table)),
        })
    }
}

/// What to say of `field`, given to a `kind` of `family` when other kinds take it.
fn misplaced<R: Registry>(family: &str, kind: &str, field: &str) -> Option<String> {
    let owners: Vec<String> =
        R::names().iter().filter(|k| R::fields(k).contains(&field)).map(|k| format!("{k:?}")).collect();
    if owners.is_empty() {
        return None;
    }
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    let advice = match R::hints(kind).iter().find(|(key, _)| *key == field) {
        Some((_, hint)) => format!(" ({hint})"),
        None => format!("; it belongs to kind = {}", owners.join(" or ")),
    };
    Some(format!("`{field}` does not apply to {article} {kind} {family}{advice}"))
}

/// serde's words for a key nobody takes, listing the ones that are taken.
fn unknown_field(field: &str, expected: &[&str]) -> String {
    let quoted: Vec<String> = expected.iter().map(|f| format!("`{f}`")).collect();
    let expected = match quoted.as_slice() {
        [] => "there are no fields".to_owned(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        all => format!("one of {}", all.join(", ")),
    };
    format!("unknown field `{field}`, expected {expected}")
}

/// The keys a struct deserializes, as its `Deserialize` impl names them to the deserializer.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames { fields: &mut fields });
    fields.unwrap_or(&[])
}

/// A deserializer that only notes the fields of the struct asked for, then gives up.
struct FieldNames<'f> {
    fields: &'f mut Option<&'static [&'static str]>,
}

#[derive(Debug)]
struct Noted;

impl std::fmt::Display for Noted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names noted")
    }
}

impl std::error::Error for Noted {}

impl serde::de::Error for Noted {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Noted
    }
}

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = Noted;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Noted> {
        Err(Noted)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Noted> {
        *self.fields = Some(fields);
        Err(Noted)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        first: String,
        #[serde(rename = "second_key")]
        second: Option<u32>,
    }

    #[test]
    fn a_struct_names_its_keys_as_written() {
        assert_eq!(fields_of::<Two>(), ["first", "second_key"]);
        assert_eq!(fields_of::<String>(), [] as [&str; 0]);
    }

    #[test]
    fn unknown_keys_are_said_in_serde_words() {
        assert_eq!(unknown_field("x", &["a", "b"]), "unknown field `x`, expected `a` or `b`");
        assert_eq!(unknown_field("x", &["a", "b", "c"]), "unknown field `x`, expected one of `a`, `b`, `c`");
    }
}
