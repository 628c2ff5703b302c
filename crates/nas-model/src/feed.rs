//! Feeding the device: a prepared set of images is uploaded once, and every batch is sliced
//! on the device by a seeded index permutation, so a GPU never waits for the CPU to copy
//! pixels.
//!
//! The images are stored in chunks of at most [`CHUNK_BYTES`]: wgpu refuses a single buffer
//! above its storage-binding limit (128 MiB by default), and 50,000 Fashion-MNIST images in
//! f32 take 157 MB.

use burn::tensor::{Device, Int, Tensor, TensorData};
use nas_data::F32Images;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Largest chunk of images uploaded as one tensor.
pub const CHUNK_BYTES: usize = 64 << 20;

/// Labelled images resident on one device: `[n, C, H, W]` values and `[n]` labels per chunk.
#[derive(Debug, Clone)]
pub struct DeviceImages {
    chunks: Vec<(Tensor<4>, Tensor<1, Int>)>,
    per_chunk: usize,
    len: usize,
}

impl DeviceImages {
    /// Uploads `set` to `device` (use the autodiff version of a device for training data),
    /// in chunks of at most [`CHUNK_BYTES`].
    pub fn upload(set: &F32Images, device: &Device) -> DeviceImages {
        DeviceImages::upload_chunked(set, device, CHUNK_BYTES)
    }

    /// Uploads `set` in chunks of at most `chunk_bytes` (at least one image each).
    pub fn upload_chunked(set: &F32Images, device: &Device, chunk_bytes: usize) -> DeviceImages {
        let s = set.shape;
        let image_len = s.len().max(1);
        let per_chunk = (chunk_bytes / (4 * image_len)).max(1);
        let chunks = (0..set.len())
            .step_by(per_chunk)
            .map(|start| {
                let end = (start + per_chunk).min(set.len());
                let values = set.values[start * image_len..end * image_len].to_vec();
                let shape = [end - start, s.channels, s.height, s.width];
                let images = Tensor::<4>::from_data(TensorData::new(values, shape), device);
                let labels: Vec<i64> = set.labels[start..end]
                    .iter()
                    .map(|&l| i64::from(l))
                    .collect();
                let labels =
                    Tensor::<1, Int>::from_data(TensorData::new(labels, [end - start]), device);
                (images, labels)
            })
            .collect();
        DeviceImages {
            chunks,
            per_chunk,
            len: set.len(),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batches of one epoch in a random order drawn from `(seed, epoch)`: every image
    /// exactly once, the last batch shorter when `batch` does not divide the size. Within a
    /// batch, images are grouped by the chunk that holds them (a stable sort), as
    /// [`Batches::indices`] reports.
    pub fn shuffled_batches(&self, batch: usize, seed: u64, epoch: u64) -> Batches<'_> {
        let batch = batch.max(1);
        let mut order: Vec<usize> = (0..self.len).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
        for part in order.chunks_mut(batch) {
            part.sort_by_key(|&i| i / self.per_chunk);
        }
        Batches {
            source: self,
            order,
            batch,
            next: 0,
        }
    }

    /// The batches in stored order (for evaluation).
    pub fn ordered_batches(&self, batch: usize) -> Batches<'_> {
        Batches {
            source: self,
            order: (0..self.len).collect(),
            batch: batch.max(1),
            next: 0,
        }
    }

    /// The images at `indices`, which are grouped by chunk.
    fn select(&self, indices: &[usize]) -> (Tensor<4>, Tensor<1, Int>) {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for group in indices.chunk_by(|a, b| a / self.per_chunk == b / self.per_chunk) {
            let chunk = group[0] / self.per_chunk;
            let (chunk_images, chunk_labels) = &self.chunks[chunk];
            let local: Vec<i64> = group
                .iter()
                .map(|&i| (i - chunk * self.per_chunk) as i64)
                .collect();
            let idx = Tensor::<1, Int>::from_data(
                TensorData::new(local, [group.len()]),
                &chunk_labels.device(),
            );
            images.push(chunk_images.clone().select(0, idx.clone()));
            labels.push(chunk_labels.clone().select(0, idx));
        }
        if images.len() == 1 {
            return (images.remove(0), labels.remove(0));
        }
        (Tensor::cat(images, 0), Tensor::cat(labels, 0))
    }
}

/// An iterator over `(images, labels)` batches of a [`DeviceImages`], sliced on its device.
pub struct Batches<'a> {
    source: &'a DeviceImages,
    order: Vec<usize>,
    batch: usize,
    next: usize,
}

impl Batches<'_> {
    /// The image indices of every batch, in order (what the iterator will select).
    pub fn indices(&self) -> Vec<&[usize]> {
        self.order[self.next..].chunks(self.batch).collect()
    }
}

impl Iterator for Batches<'_> {
    type Item = (Tensor<4>, Tensor<1, Int>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch).min(self.order.len());
        let batch = self.source.select(&self.order[self.next..end]);
        self.next = end;
        Some(batch)
    }
}
