//! Minimal reproduction, for upstream, of wrong long reductions on Mesa's software Vulkan
//! device (lavapipe): burn 0.22.1, wgpu backend, no nas code involved.
//!
//! `cargo run --release -p nas-model --example lavapipe_reduce`
//!
//! On lavapipe (Mesa 22.3.6, Debian 12) it prints wrong means for rows 2, 3, 6, 7, … of a
//! `[16, 100352]` tensor (rows 3, 7, 11, 15 exactly 0) and, through burn's `BatchNorm` on 128
//! images of 28×28, a running mean of exactly 0 in channels 3, 7, 11 and 15. Cause: llvmpipe
//! ends every loop of a shader invocation after 65,535 iterations in total
//! (`LP_MAX_TGSI_LOOP_ITERATIONS`), and the reduce kernel sums four rows in one invocation.
use burn::module::Module;
use burn::nn::BatchNormConfig;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};

fn main() {
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice);
    for (rows, length) in [(16, 50_176), (16, 65_536), (16, 100_352)] {
        let values: Vec<f32> = (0..rows * length)
            .map(|i| 1.0 + (i / length) as f32)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [rows, length]), &wgpu);
        let means = x.mean_dim(1).try_into_vec_as::<f32>().expect("read back");
        let wrong: Vec<(usize, f32)> = means
            .into_iter()
            .enumerate()
            .filter(|&(r, m)| (m - (1.0 + r as f32)).abs() > 1e-3)
            .collect();
        println!("mean_dim(1) of [{rows}, {length}], row r = 1 + r: wrong rows {wrong:?}");
    }
    let (n, c, hw) = (128, 16, 28);
    let values: Vec<f32> = (0..n * c * hw * hw)
        .map(|i| 1.0 + (i / (hw * hw) % c) as f32)
        .collect();
    let ad = wgpu.clone().autodiff();
    let bn = BatchNormConfig::new(c).init(&ad);
    let _ = bn.forward(Tensor::<4>::from_data(
        TensorData::new(values, [n, c, hw, hw]),
        &ad,
    ));
    let running = bn
        .valid()
        .running_mean
        .value()
        .try_into_vec_as::<f32>()
        .expect("read back");
    println!("BatchNorm running mean after one step (expected 0.1 × (1 + channel)): {running:?}");
}
