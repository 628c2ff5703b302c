//! An `arch.json`: a bare `ArchSpec` (deserialised and validated, as a trial's stored
//! architecture is), or what `nas export` writes and `nas predict` reads (`ExportedArch::parse`);
//! then resolved and counted as the model builder and the reports do, and, for an exported
//! one, its preprocessing applied to a blank image as `nas predict` applies it.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nas_arch::{ArchSpec, Plan};
use nas_data::{ImageShape, Normalization};
use nas_export::ExportedArch;

fn resolve(spec: &ArchSpec) {
    let plan = Plan::of(spec).expect("a validated spec resolves");
    let _ = plan.layers();
    let _ = plan.params();
    let _ = plan.macs();
    let _ = spec.summary();
    let back: ArchSpec = serde_json::from_str(&spec.to_json()).expect("a spec reads back");
    assert_eq!(back.stages.len(), spec.stages.len());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = serde_json::from_str::<ArchSpec>(text) {
        if spec.validate().is_ok() {
            resolve(&spec);
        }
    }
    if let Ok(exported) = ExportedArch::parse(text, Path::new("arch.json")) {
        resolve(&exported.arch);
        let p = &exported.preprocessing;
        let shape = ImageShape {
            channels: p.channels(),
            height: p.height,
            width: p.width,
        };
        if shape.len() <= 1 << 16 {
            let mut values = vec![0.0; shape.len()];
            let normalization = Normalization {
                mean: p.mean.clone(),
                std: p.std.clone(),
            };
            normalization.apply(&mut values, shape);
        }
    }
});
