//! Flag value rules for clap: the study settings' own ([`nas_settings::rules`]) and the one
//! that needs the training crates (`--backend`: which backends this build has).

pub use nas_settings::rules::*;

/// A backend's name (wgpu, vulkan, cuda, flex, cpu), for clap.
pub fn backend(text: &str) -> Result<String, String> {
    text.parse::<nas_model::BackendKind>()
        .map_err(|e| e.to_string())?;
    Ok(text.to_string())
}

/// [`backend`] as the rule [`nas_settings::StudyConfig::validate`] takes.
pub fn backend_rule(text: &str) -> Result<(), String> {
    backend(text).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_backends_pass() {
        assert!(backend("abacus").is_err() && backend("flex").is_ok());
        assert!(backend_rule("wgpu").is_ok());
    }
}
