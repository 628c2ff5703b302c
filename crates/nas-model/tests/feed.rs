//! Device-resident datasets: batches are the right images, every image once per epoch, in a
//! seeded order; on the CPU backend and on wgpu.

use burn::tensor::Device;
use nas_data::{F32Images, ImageShape};
use nas_model::{BackendKind, DeviceImages};

fn set(n: usize) -> F32Images {
    let shape = ImageShape {
        channels: 2,
        height: 3,
        width: 2,
    };
    // Every value of image i is i plus its position / 100, so a batch names its images.
    let values = (0..n)
        .flat_map(|i| (0..shape.len()).map(move |p| i as f32 + p as f32 / 100.0))
        .collect();
    F32Images {
        values,
        labels: (0..n).map(|i| (i % 7) as u16).collect(),
        shape,
    }
}

/// One epoch, with images stored `per_chunk` to a device tensor.
fn check_epoch(device: &Device, n: usize, batch: usize, per_chunk: usize) {
    let data = set(n);
    let resident = DeviceImages::upload_chunked(&data, device, per_chunk * 12 * 4);
    assert_eq!(resident.len(), n);
    let batches = resident.shuffled_batches(batch, 42, 3);
    let plan: Vec<Vec<usize>> = batches.indices().iter().map(|b| b.to_vec()).collect();
    let mut seen = Vec::new();
    for ((images, labels), indices) in batches.zip(&plan) {
        assert_eq!(images.dims(), [indices.len(), 2, 3, 2]);
        let values = images.try_into_vec_as::<f32>().unwrap();
        let labels = labels.try_into_vec_as::<i64>().unwrap();
        for (k, &i) in indices.iter().enumerate() {
            assert_eq!(values[k * 12..(k + 1) * 12], *data.image(i), "image {i}");
            assert_eq!(labels[k], i64::from(data.labels[i]));
        }
        seen.extend_from_slice(indices);
    }
    assert!(plan.iter().all(|b| b.len() == batch) || plan.last().unwrap().len() == n % batch);
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "every image exactly once");
}

#[test]
fn an_epoch_delivers_every_image_once_on_the_cpu() {
    let flex = BackendKind::Flex.device().unwrap();
    check_epoch(&flex, 50, 16, 1000);
    check_epoch(&flex, 50, 16, 3);
}

#[test]
fn an_epoch_delivers_every_image_once_on_wgpu() {
    check_epoch(&BackendKind::Wgpu.device().unwrap(), 20, 8, 6);
}

#[test]
fn the_order_depends_on_seed_and_epoch_only() {
    let resident = DeviceImages::upload(&set(40), &BackendKind::Flex.device().unwrap());
    let order = |seed, epoch| -> Vec<usize> {
        resident.shuffled_batches(8, seed, epoch).indices().concat()
    };
    assert_eq!(order(1, 0), order(1, 0));
    assert_ne!(order(1, 0), order(1, 1));
    assert_ne!(order(1, 0), order(2, 0));
    assert_eq!(
        resident.ordered_batches(8).indices().concat(),
        (0..40).collect::<Vec<_>>()
    );
}
