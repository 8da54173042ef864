//! Group names to gids for `[daemon] control_group`, read from `/etc/group` by a small parser of our
//! own: libc's `getgrnam` would need `unsafe` and a new dependency for one line of a text file, and
//! a system service's group is a local one (`groupadd --system`), never one from LDAP.

use std::path::Path;

/// Where local groups are listed.
pub const GROUP_FILE: &str = "/etc/group";

/// A group the control socket is shared with: its name as configured, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlGroup {
    pub name: String,
    pub gid: u32,
}

/// Why a group name could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error(
        "{name:?} is not a group name: use letters, digits, '_', '-' and '.', starting with a letter or '_' (at most 32)"
    )]
    BadName { name: String },
    #[error(
        "there is no group {name:?} in {file}: create it (for the shipped systemd unit, as the service user's own group: `useradd --system --user-group --no-create-home {name}`; otherwise `groupadd --system {name}`), and add the people who may use payguard with `usermod -aG {name} NAME`"
    )]
    Missing { name: String, file: String },
    #[error("cannot read {file} to find group {name:?}: {error}")]
    Unreadable { name: String, file: String, error: String },
}

/// Looks `name` up in `/etc/group`.
pub fn resolve(name: &str) -> Result<ControlGroup, GroupError> {
    resolve_in(Path::new(GROUP_FILE), name)
}

/// Looks `name` up in the group file at `file`.
pub fn resolve_in(file: &Path, name: &str) -> Result<ControlGroup, GroupError> {
    check_name(name)?;
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| GroupError::Unreadable {
        name: name.to_owned(),
        file: shown.clone(),
        error: e.to_string(),
    })?;
    gid_in(&text, name)
        .map(|gid| ControlGroup { name: name.to_owned(), gid })
        .ok_or(GroupError::Missing { name: name.to_owned(), file: shown })
}

/// The shape shadow-utils accepts by default; anything else cannot name a group in `/etc/group`,
/// and refusing it early keeps a stray `:` or newline from being read as a field separator.
pub fn check_name(name: &str) -> Result<(), GroupError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if first_ok && rest_ok && name.len() <= 32 { Ok(()) } else { Err(GroupError::BadName { name: name.to_owned() }) }
}

/// The gid of `name` in the text of a group file (`name:password:gid:members` per line). Comments,
/// blank lines, NIS `+`/`-` entries and malformed lines are skipped rather than fatal: one bad line
/// in a system file should not hide the group being asked for.
fn gid_in(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let (group, _password, gid) = (fields.next()?, fields.next()?, fields.next()?);
        if group != name {
            return None;
        }
        gid.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = "root:x:0:\n# a comment\n\n+nis\nbroken-line\nadm:x:4:syslog,alice\npayguard:x:998:alice,bob\npayguard-old:x:997:\nbad:x:notanumber:\n";

    #[test]
    fn finds_the_gid_of_a_listed_group() {
        assert_eq!(gid_in(GROUPS, "payguard"), Some(998));
        assert_eq!(gid_in(GROUPS, "adm"), Some(4));
        assert_eq!(gid_in(GROUPS, "root"), Some(0));
    }

    #[test]
    fn a_prefix_or_a_member_is_not_the_group() {
        assert_eq!(gid_in(GROUPS, "payg"), None);
        assert_eq!(gid_in(GROUPS, "alice"), None);
        assert_eq!(gid_in(GROUPS, "bad"), None, "a gid that is not a number is no gid");
    }

    #[test]
    fn a_missing_group_says_how_to_create_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("group");
        std::fs::write(&file, GROUPS).expect("write");
        assert_eq!(resolve_in(&file, "payguard"), Ok(ControlGroup { name: "payguard".into(), gid: 998 }));
        let error = resolve_in(&file, "watchers").expect_err("not listed").to_string();
        assert!(error.contains("\"watchers\"") && error.contains("groupadd --system watchers"), "{error}");
        let unreadable = resolve_in(&dir.path().join("none"), "payguard").expect_err("no file");
        assert!(matches!(unreadable, GroupError::Unreadable { .. }), "{unreadable:?}");
    }

    #[test]
    fn names_that_cannot_be_groups_are_refused() {
        for bad in ["", "1abc", "pay:guard", "pay\nguard", "pay guard", &"g".repeat(33)] {
            assert!(matches!(check_name(bad), Err(GroupError::BadName { .. })), "{bad:?}");
        }
        for good in ["payguard", "_pg", "pay-guard.users", "Staff"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
    }
}
