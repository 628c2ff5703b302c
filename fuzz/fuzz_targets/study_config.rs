//! A study config file (`nas search --config FILE`, and the `config.toml` a study keeps):
//! read as `StudyConfig::read` does, written back as `StudyConfig::write` does and read
//! again (a resumed study must get the same settings), validated, and turned into the
//! decisions `nas search` takes from it (preset, fidelity ladder, scoring, stopping rules).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nas_settings::StudyConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<StudyConfig>(text) else {
        return;
    };
    let written = toml::to_string(&config).expect("a config read from TOML writes as TOML");
    let back: StudyConfig = toml::from_str(&written)
        .unwrap_or_else(|e| panic!("a written config reads back: {e}\n{written}"));
    // Debug, so that a NaN read back as NaN counts as the same value.
    assert_eq!(format!("{back:?}"), format!("{config:?}"), "{written}");
    // The shared copy of the settings, kept in the study's storage as JSON.
    let json = serde_json::to_value(&config).expect("a config serialises as JSON");
    let _ = serde_json::from_value::<StudyConfig>(json);
    // Every check and decision `nas search` makes from these settings (28 px images); any
    // may refuse them, none may panic.
    let _ = config.validate(|_| Ok(()));
    if let Ok(preset) = config.preset_values() {
        let _ = config.ladder(&preset, 28);
        let _ = config.training_plan(&preset, 1000);
        let _ = config.holdout(&preset, 1000);
        let _ = config.search_settings(&preset, std::time::Instant::now());
    }
    let _ = config.scoring();
    let _ = config.sampler_kind();
    let _ = config.rank();
});
