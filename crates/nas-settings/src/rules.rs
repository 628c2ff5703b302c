//! The rules a flag's value must follow, as clap value parsers (so that a bad value is
//! refused before a command does anything, with clap's error naming the flag and the value)
//! and, through [`check`], for values that may also come from a study config file.

use std::path::PathBuf;

use nas_core::sampler::SamplerKind;
use nas_core::schedule::{LadderShape, MoRank, Promotion, SchedulerKind};
use nas_core::study::Direction;
use nas_search::Objective;

use crate::{Concurrency, SettingsError};

/// A whole number ≥ 1 (usize), for clap.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    at_least(text, 1)
}

/// `auto` or a whole number ≥ 1: trials trained at once.
pub fn concurrency(text: &str) -> Result<Concurrency, String> {
    match text.parse()? {
        Concurrency::Trials(0) => Err("must be at least 1 (or auto)".into()),
        c => Ok(c),
    }
}

/// A whole number ≥ 2 (usize), for clap.
pub fn at_least_two(text: &str) -> Result<usize, String> {
    at_least(text, 2)
}

/// A whole number ≥ 1 (u64), for clap.
pub fn at_least_one_u64(text: &str) -> Result<u64, String> {
    let n: u64 = text.trim().parse().map_err(|e| format!("{e}"))?;
    positive_count(n).map(|()| n)
}

fn at_least(text: &str, min: usize) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|e| format!("{e}"))?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

/// `n ≥ 1`.
pub fn positive_count(n: u64) -> Result<(), String> {
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(())
}

/// A finite number > 0, for clap.
pub fn positive(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    positive_value(x).map(|()| x)
}

/// `x` finite and > 0.
pub fn positive_value(x: f64) -> Result<(), String> {
    if !(x.is_finite() && x > 0.0) {
        return Err("must be a positive number".into());
    }
    Ok(())
}

/// A share in (0, 1], for clap.
pub fn share(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    share_value(x).map(|()| x)
}

/// `x` in (0, 1].
pub fn share_value(x: f64) -> Result<(), String> {
    if !(x > 0.0 && x <= 1.0) {
        return Err("must be in (0, 1]".into());
    }
    Ok(())
}

/// A share in (0, 1), for clap.
pub fn open_share(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    if !(x > 0.0 && x < 1.0) {
        return Err("must be in (0, 1)".into());
    }
    Ok(x)
}

/// A finite number.
pub fn finite(text: &str) -> Result<f64, String> {
    let x = number(text)?;
    if !x.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(x)
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// A sampler's name, for clap.
pub fn sampler(text: &str) -> Result<String, String> {
    match SamplerKind::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "unknown sampler `{text}`; choose one of {}",
            SamplerKind::NAMES.join(", ")
        )),
    }
}

/// A scheduler's name.
pub fn scheduler(text: &str) -> Result<String, String> {
    match SchedulerKind::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "unknown scheduler `{text}`; choose one of {}",
            SchedulerKind::NAMES.join(", ")
        )),
    }
}

/// How a rung ranks several objectives.
pub fn mo_rank(text: &str) -> Result<String, String> {
    match MoRank::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err("choose crowding or hypervolume".into()),
    }
}

/// How ASHA and Hyperband size the share they promote.
pub fn promotion(text: &str) -> Result<String, String> {
    match Promotion::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err("choose count or cost".into()),
    }
}

/// How a computed fidelity ladder shares the budget.
pub fn ladder(text: &str) -> Result<String, String> {
    match LadderShape::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(format!("choose {}", LadderShape::NAMES.join(" or "))),
    }
}

/// An objective's name.
pub fn objective(text: &str) -> Result<String, String> {
    match Objective::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "unknown objective `{text}`; choose from accuracy, latency, params, macs"
        )),
    }
}

/// A direction, for clap.
pub fn direction(text: &str) -> Result<String, String> {
    match Direction::parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "unknown direction `{text}`; use minimize or maximize"
        )),
    }
}

/// A name that becomes one folder: not empty, no path separator, not `.` or `..`, no
/// leading or trailing space.
pub fn folder_name(text: &str) -> Result<String, String> {
    let plain = !text.trim().is_empty()
        && text.trim() == text
        && !text.contains(['/', '\\', '\0'])
        && text != "."
        && text != "..";
    if !plain {
        return Err("must be a plain name (one folder: no `/`, not `.` or `..`, not blank)".into());
    }
    Ok(text.to_string())
}

/// A study storage URL: `postgres://…`, `postgresql://…`, `sqlite://PATH` or a file path
/// (checked for its form only; connecting happens later).
pub fn storage_url(text: &str) -> Result<String, String> {
    let postgres = text.starts_with("postgres://") || text.starts_with("postgresql://");
    let path = text.strip_prefix("sqlite://").unwrap_or(text);
    if !postgres && (path.is_empty() || path.contains("://")) {
        return Err(format!(
            "unsupported storage `{text}`: use postgres://USER@HOST/DB, sqlite://PATH or a file path"
        ));
    }
    Ok(text.to_string())
}

/// A folder that holds studies: missing (created when needed) or a folder, not a file.
pub fn results_folder(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if path.exists() && !path.is_dir() {
        return Err("exists and is not a folder".into());
    }
    Ok(path)
}

/// An existing file.
pub fn existing_file(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if !path.is_file() {
        return Err("no such file".into());
    }
    Ok(path)
}

/// An existing folder.
pub fn existing_folder(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if !path.is_dir() {
        return Err("no such folder".into());
    }
    Ok(path)
}

/// A file to write, whose folder exists.
pub fn output_file(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(format!("folder {} does not exist", dir.display()))
        }
        _ if path.is_dir() => Err("is a folder".into()),
        _ => Ok(path),
    }
}

/// A built-in space's name or an existing TOML file.
pub fn space(text: &str) -> Result<String, String> {
    match nas_arch::SpaceSource::parse(text) {
        nas_arch::SpaceSource::File(path) if !path.is_file() => Err(format!(
            "not a file, nor a built-in space ({})",
            nas_arch::BUILTIN_SPACES
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Ok(text.to_string()),
    }
}

/// A dataset's name or image folder (see `nas_data::DataSource`).
pub fn dataset(text: &str) -> Result<String, String> {
    nas_data::DataSource::parse(text).map_err(|e| e.to_string())?;
    Ok(text.to_string())
}

/// An image side for image folders, in `MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE`.
pub fn image_size(text: &str) -> Result<u32, String> {
    let size: u32 = text.trim().parse().map_err(|e| format!("{e}"))?;
    image_size_value(size).map(|()| size)
}

/// `size` in `MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE`.
pub fn image_size_value(size: u32) -> Result<(), String> {
    use nas_data::{MAX_IMAGE_SIZE, MIN_IMAGE_SIZE};
    if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(format!(
            "must be {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels"
        ));
    }
    Ok(())
}

/// Applies `rule` to the text of a value, when given; the error names the flag and the value.
pub fn check<T: ToString>(
    flag: &str,
    value: Option<T>,
    rule: impl Fn(&str) -> Result<(), String>,
) -> Result<(), SettingsError> {
    if let Some(v) = value {
        let text = v.to_string();
        if let Err(why) = rule(&text) {
            return Err(SettingsError::Flag {
                flag: flag.to_string(),
                value: text,
                why,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_refuse_what_cannot_work_and_keep_the_rest() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err() && at_least_two("1").is_err());
        assert!(positive("0").is_err() && positive("NaN").is_err() && positive("inf").is_err());
        assert_eq!(share("1"), Ok(1.0));
        assert!(share("0").is_err() && share("1.5").is_err() && open_share("1").is_err());
        assert!(folder_name("..").is_err() && folder_name("a/b").is_err());
        assert!(folder_name(" ").is_err() && folder_name("").is_err());
        assert_eq!(folder_name("trial-3"), Ok("trial-3".into()));
        assert!(storage_url("mysql://x").is_err() && storage_url("sqlite://").is_err());
        assert!(storage_url("postgres://u@h/db").is_ok() && storage_url("a/study.db").is_ok());
        assert!(finite("NaN").is_err() && finite("-0.07").is_ok());
    }
}
