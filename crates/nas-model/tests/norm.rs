//! BatchNorm2d against statistics computed on the host.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use nas_model::{BackendKind, BatchNorm2d};

#[test]
fn training_normalises_with_batch_statistics_and_updates_running_ones() {
    let device = BackendKind::Flex.device().unwrap();
    let (n, c, h, w) = (4, 3, 5, 6);
    let values: Vec<f32> = (0..n * c * h * w)
        .map(|i| ((i * 37 % 53) as f32) / 7.0 - 2.0 + (i % 5) as f32)
        .collect();
    let at = |b: usize, ch: usize, p: usize| values[(b * c + ch) * h * w + p];
    let count = (n * h * w) as f64;
    let stats: Vec<(f64, f64)> = (0..c)
        .map(|ch| {
            let xs: Vec<f64> = (0..n)
                .flat_map(|b| (0..h * w).map(move |p| (b, p)))
                .map(|(b, p)| at(b, ch, p) as f64)
                .collect();
            let mean = xs.iter().sum::<f64>() / count;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count;
            (mean, var)
        })
        .collect();

    let ad = device.clone().autodiff();
    let bn = BatchNorm2d::new(c, &ad);
    let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [n, c, h, w]), &ad);
    let y = bn.forward(x).try_into_vec_as::<f32>().unwrap();
    for b in 0..n {
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            for p in 0..h * w {
                let expected = (at(b, ch, p) as f64 - mean) / (var + 1e-5).sqrt();
                let got = y[(b * c + ch) * h * w + p] as f64;
                assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
            }
        }
    }
    let bn = bn.valid();
    let running_mean = bn.running_mean().try_into_vec_as::<f32>().unwrap();
    let running_var = bn.running_var().try_into_vec_as::<f32>().unwrap();
    for (ch, &(mean, var)) in stats.iter().enumerate() {
        assert!((running_mean[ch] as f64 - 0.1 * mean).abs() < 1e-5);
        let unbiased = var * count / (count - 1.0);
        assert!((running_var[ch] as f64 - (0.9 + 0.1 * unbiased)).abs() < 1e-4);
    }

    // Without autodiff the running statistics are used.
    let plain = Tensor::<4>::from_data(TensorData::new(values.clone(), [n, c, h, w]), &device);
    let z = bn.forward(plain).try_into_vec_as::<f32>().unwrap();
    let expected = (at(0, 1, 0) - running_mean[1]) / (running_var[1] + 1e-5).sqrt();
    assert!((z[h * w] - expected).abs() < 1e-5);
}
