//! A search space written in TOML (`--space FILE`): parsed, validated, counted, stored as the
//! study stores it (JSON) and sampled.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nas_core::sampler::{RandomSampler, SampleContext, Sampler};
use nas_core::space::{count_architectures, SearchSpace};
use nas_core::study::Direction;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(space) = SearchSpace::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    let _ = space.count_configurations();
    let _ = count_architectures(&space);
    // A study keeps its space as JSON and compares it when reopened.
    let json = serde_json::to_string(&space).expect("a valid space serialises");
    let back: SearchSpace = serde_json::from_str(&json).expect("a stored space reads back");
    assert_eq!(back, space);
    let mut sampler = RandomSampler::new(0);
    for number in 0..3 {
        let ctx = SampleContext {
            space: &space,
            directions: &[Direction::Minimize],
            trials: &[],
            number,
        };
        let config = sampler.sample(&ctx).expect("random sampling cannot fail");
        space
            .check_config(&config)
            .expect("a sampled config is valid");
    }
});
