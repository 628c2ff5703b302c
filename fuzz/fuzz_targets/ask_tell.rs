//! `nas ask-tell`'s request lines, served by the command's own code on an in-memory study
//! (a float and a categorical; two objectives when the input starts with a space).
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/nas-cli/src/ask_tell.rs"]
mod ask_tell;

use libfuzzer_sys::fuzz_target;
use nas_core::sampler::SamplerKind;
use nas_core::space::{Distribution, Param, ParamValue, SearchSpace};
use nas_core::study::{Direction, SqliteStorage, Study};

fn space() -> SearchSpace {
    SearchSpace::new(vec![
        Param {
            name: "x".into(),
            distribution: Distribution::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
            conditions: vec![],
        },
        Param {
            name: "optimizer".into(),
            distribution: Distribution::Categorical {
                choices: vec![
                    ParamValue::Str("adam".into()),
                    ParamValue::Str("sgd".into()),
                ],
            },
            conditions: vec![],
        },
    ])
    .expect("a valid space")
}

fuzz_target!(|data: &[u8]| {
    let directions: &[Direction] = if data.first() == Some(&b' ') {
        &[Direction::Maximize, Direction::Minimize]
    } else {
        &[Direction::Minimize]
    };
    let mut study = Study::open(
        Box::new(SqliteStorage::in_memory().expect("an in-memory storage")),
        "fuzz",
        directions,
        space(),
        SamplerKind::Tpe.build(0),
    )
    .expect("a new study opens");
    ask_tell::serve(&mut study, data, std::io::sink()).expect("serving never fails on a sink");
});
