//! `csv`: any bank's CSV export, read through the source's `[source.mapping]` (delimiter,
//! encoding, which line is the header, the date column and its format, the amount as one signed
//! column or as debit and credit columns, and the payee, description and id columns).

use super::{Emit, Entry, FileError, Statement, columns, decode, rows, time_in};
use crate::source::statements::settings::{Amount, Mapping};

pub fn read(bytes: &[u8], mapping: &Mapping, emit: Emit<'_>) -> Result<Statement, FileError> {
    let text = decode(bytes, mapping.encoding);
    let mut rows = rows(&text, mapping.header_line, mapping.delimiter);
    let Some((line, header)) = rows.next().transpose()? else {
        return Ok(Statement::default());
    };
    let column = |name: &Option<String>| -> Result<Option<usize>, FileError> {
        name.as_deref().map(|n| columns(&header, [n], line).map(|[at]| at)).transpose()
    };
    let [date] = columns(&header, [mapping.date.as_str()], line)?;
    let amount = match &mapping.amount {
        Amount::Signed(name) => (columns(&header, [name.as_str()], line)?[0], None),
        Amount::Split { debit, credit } => {
            let [debit, credit] = columns(&header, [debit.as_str(), credit.as_str()], line)?;
            (debit, Some(credit))
        }
    };
    let (payee, description, id) = (column(&mapping.payee)?, column(&mapping.description)?, column(&mapping.id)?);
    let money = |text: &str, line: usize| {
        if mapping.decimal_comma {
            super::money(&text.replace('.', "").replace(',', "."), line)
        } else {
            super::money(text, line)
        }
    };
    for row in rows {
        let (line, cells) = row?;
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let at = |i: usize| cells.get(i).map(String::as_str).unwrap_or_default();
        let optional = |i: Option<usize>| i.map(|i| at(i).to_owned()).unwrap_or_default();
        let value = match amount {
            (signed, None) => money(at(signed), line)?,
            (debit, Some(credit)) => match (at(debit), at(credit)) {
                (out, "") if !out.is_empty() => -money(out, line)?.abs(),
                ("", into) if !into.is_empty() => money(into, line)?.abs(),
                _ => {
                    return Err(FileError::at(
                        line,
                        "exactly one of the debit and credit columns should hold the amount",
                    ));
                }
            },
        };
        let description = optional(description);
        let payee = Some(optional(payee)).filter(|p| !p.is_empty()).unwrap_or_else(|| description.clone());
        emit(Entry {
            line,
            id: Some(optional(id)).filter(|id| !id.is_empty()),
            time: time_in(at(date), &[mapping.date_format.as_str()], mapping.offset, line)?,
            amount: value,
            payee,
            description,
            pending: false,
        })?;
    }
    Ok(Statement { currency: Some(mapping.currency.clone()), ..Statement::default() })
}
