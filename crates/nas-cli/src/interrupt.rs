//! SIGINT and SIGTERM: the first asks the running command to stop cleanly (it checks an
//! [`Interrupt`]); a second of either ends the process at once, with the shell's status for
//! that signal (128 + its number), as if no handler were installed.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use nas_search::{signal_name, Interrupt};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// The process's interrupt, installed once (a benchmark runs several searches in one process).
static INSTALLED: OnceLock<Interrupt> = OnceLock::new();

/// Installs the handlers (once per process) and returns the interrupt they set.
pub fn install() -> anyhow::Result<Interrupt> {
    if let Some(interrupt) = INSTALLED.get() {
        return Ok(interrupt.clone());
    }
    let interrupt = Interrupt::new();
    let seen = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // In this order: a signal that finds `seen` set exits; else it sets `seen` and the
        // interrupt.
        flag::register_conditional_shutdown(signal, 128 + signal, seen.clone())
            .and_then(|_| flag::register(signal, seen.clone()))
            .and_then(|_| flag::register_usize(signal, interrupt.flag(), signal as usize))
            .with_context(|| format!("installing the {} handler", signal_name(signal)))?;
    }
    Ok(INSTALLED.get_or_init(|| interrupt).clone())
}

/// The error of a command that a signal stopped after it saved its work; `main` exits with
/// 128 + the signal's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", signal_name(self.0))
    }
}

impl std::error::Error for Interrupted {}

impl Interrupted {
    /// The exit status of a process ended by this signal.
    pub fn exit_code(self) -> u8 {
        (128 + self.0).clamp(0, 255) as u8
    }
}

/// `args` as one line a POSIX shell reads back as the same words.
pub fn shell_line(args: impl IntoIterator<Item = String>) -> String {
    args.into_iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_line_quotes_only_what_needs_it() {
        let words = [
            "nas",
            "search",
            "--study",
            "my study",
            "--budget=3m",
            "it's",
            "",
        ];
        assert_eq!(
            shell_line(words.map(String::from)),
            r#"nas search --study 'my study' --budget=3m 'it'\''s' ''"#
        );
        assert_eq!(Interrupted(2).exit_code(), 130);
        assert_eq!(Interrupted(15).exit_code(), 143);
    }
}
