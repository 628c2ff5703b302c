//! `nas data info` and `nas bench data`: the datasets and what preparing and feeding them
//! costs.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use nas_data::{split_validation, Fidelity, FidelityView, Holdout, LoadedData};
use nas_model::{device_name, peak_resident_bytes, resident_bytes, DeviceImages};

use crate::bench_model::megabytes;

/// Which dataset, from where.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// fashion-mnist, mnist, cifar10, cifar100, or an image folder: DIR/<class>/*.png|jpg
    /// (split into train and test) or DIR/train/<class> + DIR/test/<class>.
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// Folder holding a named dataset's files (fashion-mnist defaults to
    /// /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Image folders: the side every image is resized to (default: the median of the
    /// images' shorter sides, at most 64).
    #[arg(long)]
    image_size: Option<u32>,
    /// Image folders without train/ and test/: the share held out as the test split
    /// [default: 0.2].
    #[arg(long)]
    test_fraction: Option<f64>,
}

impl DatasetArgs {
    /// The dataset's splits, as `nas search` would read them with the same flags.
    fn load(&self) -> anyhow::Result<LoadedData> {
        let settings = nas_settings::StudyConfig {
            dataset: Some(self.dataset.clone()),
            data_dir: self.data_dir.clone(),
            image_size: self.image_size,
            test_fraction: self.test_fraction,
            ..Default::default()
        };
        settings.check_data_flags()?;
        Ok(settings.load_data()?)
    }
}

/// `nas data info`: sizes, shape and class counts of a dataset's splits.
pub fn info(args: DatasetArgs) -> anyhow::Result<()> {
    let data = args.load()?;
    let splits = data.splits;
    if data.image_size.is_some() {
        // An image folder: its layout, split and sizes.
        println!("{}", data.description);
    }
    for (name, set) in [("train", &splits.train), ("test", &splits.test)] {
        let s = set.shape();
        println!(
            "{} {name}: {} images, {}×{}×{}, {} classes, per class {:?}",
            args.dataset,
            set.len(),
            s.channels,
            s.height,
            s.width,
            set.num_classes(),
            set.class_counts()
        );
    }
    if let Some(names) = splits.train.class_names() {
        println!("classes: {}", names.join(", "));
    }
    Ok(())
}

/// Arguments of `nas bench data`.
#[derive(Debug, Args)]
pub struct DataBenchArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// Backends to time batch delivery on, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "flex", value_parser = crate::flags::backend)]
    backend: Vec<String>,
    /// Downsampled resolution of the second view.
    #[arg(long, default_value_t = 14, value_parser = crate::flags::at_least_one)]
    resolution: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 128, value_parser = crate::flags::at_least_one)]
    batch: usize,
    /// Validation images held out of the training set.
    #[arg(long, default_value_t = 10_000, value_parser = crate::flags::at_least_one)]
    validation: usize,
}

/// `nas bench data`: load time, fidelity views at full and reduced resolution, peak memory,
/// and images/s of batches sliced on each backend.
pub fn bench(args: DataBenchArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let splits = args.dataset.load()?.splits;
    println!(
        "load {}: {} train + {} test images in {:.3} s",
        args.dataset.dataset,
        splits.train.len(),
        splits.test.len(),
        start.elapsed().as_secs_f64()
    );
    let holdout = split_validation(&splits.train, Holdout::Count(args.validation), 0)?;
    let full = splits.train.shape().height;
    let mut views = Vec::new();
    for resolution in [full, args.resolution] {
        let fidelity = Fidelity::new(1.0, Some(resolution), 1)?;
        let start = Instant::now();
        let view = FidelityView::new(&holdout.train, &holdout.validation, fidelity, 0)?;
        println!(
            "view {resolution}×{resolution} ({} train + {} validation images): {:.3} s, RSS {} MiB",
            view.train().len(),
            view.validation().len(),
            start.elapsed().as_secs_f64(),
            megabytes(resident_bytes())
        );
        views.push(view);
    }
    println!("peak RSS: {} MiB", megabytes(peak_resident_bytes()));
    println!(
        "{:<8} {:<40} {:>6} {:>11} {:>12} {:>12}",
        "backend", "device", "size", "upload s", "batches/s", "images/s"
    );
    for name in &args.backend {
        let (kind, device) = crate::bench_model::backend(name)?;
        for view in &views {
            let start = Instant::now();
            let resident = DeviceImages::upload(view.train(), &device);
            nas_model::sync(&device)?;
            let upload = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let mut batches = 0usize;
            for (images, _labels) in resident.shuffled_batches(args.batch, 0, 0) {
                // Reading one value of the batch waits for the slice to exist on the device.
                images
                    .slice([0..1, 0..1, 0..1, 0..1])
                    .try_into_data()
                    .map_err(|e| anyhow::anyhow!("{kind}: {e:?}"))?;
                batches += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{:<8} {:<40} {:>6} {:>11.3} {:>12.1} {:>12.0}",
                kind.name(),
                device_name(&device, kind),
                format!("{}²", view.train().shape.height),
                upload,
                batches as f64 / secs,
                resident.len() as f64 / secs
            );
        }
    }
    Ok(())
}
