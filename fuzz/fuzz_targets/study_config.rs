//! A study config file (`nas search --config FILE`, and the `config.toml` a study keeps):
//! read as `StudyConfig::read` does, written back as `StudyConfig::write` does and read
//! again (a resumed study must get the same settings), and its fidelity ladder built as
//! `nas search` builds it. The struct is `nas-cli`'s own, copied by `build.rs`.
#![no_main]

mod config {
    include!(concat!(env!("OUT_DIR"), "/study_config_struct.rs"));
}

use config::StudyConfig;
use libfuzzer_sys::fuzz_target;
use nas_core::schedule::FidelityLadder;

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
    // The ladder, as `nas search` makes it from these settings (28 px images).
    let eta = config.eta.unwrap_or(3);
    let _ = match &config.rung {
        Some(rungs) => FidelityLadder::new(rungs.clone(), f64::from(eta)),
        None => {
            let full = 28;
            let min = config.min_resolution.unwrap_or(14).min(full);
            FidelityLadder::geometric(eta, config.rungs.unwrap_or(2), true, Some((min, full)))
        }
    };
});
